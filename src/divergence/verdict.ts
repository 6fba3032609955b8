/**
 * Which rack diverged, when racks disagree on one op's outcome or one key's
 * data. Pure: the values come from the racks that answered.
 *
 * 1. A strict majority of the racks that answered agrees: the others
 *    diverged. (With three racks or more, one rack's Redis changed behind
 *    Pylon's back is outvoted, even if it accepted the op.)
 * 2. No majority (two racks, or an even split) and the op's accepting rack
 *    answered: its outcome is the reference (it is what the client got), and
 *    the racks that differ from it diverged. (When the op can no longer be
 *    named, the checker passes the rack that applied the window first: the
 *    other applied it later, catching up or rebuilt.)
 * 3. Otherwise (a data digest, or an op whose accepting rack did not
 *    answer, with no majority): nothing tells which is right, so every rack
 *    involved is taken as diverged. Each stops serving reads: no rack serves
 *    data that may be wrong, and the operator chooses (README: Divergence).
 */

/** One rack's value (an outcome digest, a key's digest); undefined when it did not say. */
export interface RackValue<V> {
  rack: string;
  value: V | undefined;
}

/** How a disagreement was decided. */
export type Basis = "majority" | "origin" | "undecided";

/** The racks found diverged, and from what. */
export interface Verdict<V> {
  /** Racks whose value differs from the reference (empty when all that answered agree). */
  diverged: string[];
  /** The value the world holds, when one is known. */
  reference: V | undefined;
  /** The rack whose value is the reference (one of the majority, or the origin). */
  referenceRack: string | undefined;
  basis: Basis;
  /** Racks that answered, and how many hold the reference. */
  answered: number;
  agreeing: number;
}

/** Decides who diverged among `values` (by `same`), `origin` being the op's accepting rack. */
export function decide<V>(
  values: readonly RackValue<V>[],
  options: { origin?: string | undefined; same?: (a: V, b: V) => boolean } = {},
): Verdict<V> {
  const same = options.same ?? ((a: V, b: V) => a === b);
  const known = values.filter((v): v is { rack: string; value: V } => v.value !== undefined);
  const groups: { value: V; racks: string[] }[] = [];
  for (const { rack, value } of known) {
    const group = groups.find((g) => same(g.value, value));
    if (group === undefined) groups.push({ value, racks: [rack] });
    else group.racks.push(rack);
  }
  const answered = known.length;
  const verdict = (
    reference: { value: V; racks: string[] } | undefined,
    basis: Basis,
  ): Verdict<V> => ({
    diverged: known.filter((v) => reference === undefined || !reference.racks.includes(v.rack))
      .map((v) => v.rack),
    reference: reference?.value,
    referenceRack: reference === undefined
      ? undefined
      : basis === "origin"
      ? options.origin
      : reference.racks[0],
    basis,
    answered,
    agreeing: reference?.racks.length ?? 0,
  });
  if (groups.length <= 1) return verdict(groups[0], "majority");
  const majority = groups.find((g) => g.racks.length * 2 > answered);
  if (majority !== undefined) return verdict(majority, "majority");
  const origin = groups.find((g) =>
    options.origin !== undefined && g.racks.includes(options.origin)
  );
  if (origin !== undefined) return verdict(origin, "origin");
  return verdict(undefined, "undecided");
}
