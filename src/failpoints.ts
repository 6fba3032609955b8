/**
 * Failpoints: named places where a test makes Pylon fail on purpose, to prove
 * that a failure there stops the node loudly and that a restart recovers.
 * Armed only through `PYLON_FAILPOINTS` (`name`, or `name@n` to fail from the
 * n-th time it is passed; comma-separated); unarmed, each is one map lookup.
 */

/** The failpoints Pylon has, and where they are. */
export const FAILPOINTS = [
  "raft.save", // a Raft group's storage write
  "raft.step", // a Raft message stepped into a group
  "world.apply", // a committed world command applied to the world state
  "applier.recover", // fetching replies another applier stored
  "applier.store_reply", // storing replies for other nodes of the rack
] as const;

/** A failpoint's name. */
export type Failpoint = typeof FAILPOINTS[number];

/** The error an armed failpoint throws. */
export class FailpointError extends Error {
  override name = "FailpointError";
}

const armed = new Map<string, { from: number; passed: number }>();

/** Arms the failpoints `spec` names (`a,b@3`); unknown names are refused. */
export function armFailpoints(spec: string): void {
  for (const item of spec.split(",").map((s) => s.trim()).filter((s) => s !== "")) {
    const [name, from] = item.split("@");
    if (!(FAILPOINTS as readonly string[]).includes(name!)) {
      throw new Error(`unknown failpoint '${name}' (known: ${FAILPOINTS.join(", ")})`);
    }
    const n = from === undefined ? 1 : Number(from);
    if (!Number.isInteger(n) || n < 1) throw new Error(`failpoint '${item}': @n needs n >= 1`);
    armed.set(name!, { from: n, passed: 0 });
  }
}

/** Throws if `name` is armed and its turn has come. */
export function failpoint(name: Failpoint): void {
  const point = armed.get(name);
  if (point === undefined) return;
  point.passed++;
  if (point.passed >= point.from) throw new FailpointError(`failpoint ${name} fired`);
}

/** Disarms every failpoint (in-process tests). */
export function disarmFailpoints(): void {
  armed.clear();
}
