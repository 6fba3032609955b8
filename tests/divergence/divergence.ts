/** Helpers for the divergence suites: a world with admin ports, what a rack says of divergence. */

import { freePort, type RackSlot, startWorld, waitFor, type World } from "../harness/mod.ts";
import type { WorldRack } from "../harness/mod.ts";
import { parsePrometheusText } from "../harness/prometheus.ts";

/** A world whose nodes each serve `/readyz` and `/metrics` on their own admin port. */
export async function divergenceWorld(
  brokers: string[],
  racks: number,
  args: string[] = [],
): Promise<{ world: World; admin: (rack: WorldRack) => string }> {
  const ports = new Map<string, number>();
  const world = await startWorld({
    brokers,
    racks,
    args,
    rackArgs: (slot: RackSlot) => {
      const port = freePort();
      ports.set(slot.nodeId, port);
      return ["--admin-listen", `127.0.0.1:${port}`];
    },
  });
  return { world, admin: (rack) => `http://127.0.0.1:${ports.get(rack.nodeId)}` };
}

/** `PYLON INFO`'s Divergence section of a rack's node. */
export async function divergence(rack: WorldRack): Promise<Map<string, string>> {
  const info = await rack.pylon.info();
  return new Map(
    [...info].filter(([k]) =>
      k.startsWith("diverged") || k.startsWith("outcome_") || k.startsWith("data_") ||
      k.startsWith("rack_diverged") || k === "racks_diverged" || k.startsWith("partition_0")
    ),
  );
}

/** Waits until `rack` says it diverged; its reason. */
export async function waitDiverged(rack: WorldRack, timeoutMs: number): Promise<string> {
  return await waitFor(`${rack.name} to report that it diverged`, async () => {
    const d = await divergence(rack);
    return d.get("diverged") === "1" ? d.get("diverged_reason")! : undefined;
  }, { timeoutMs, intervalMs: 20, context: () => rack.pylon.service.logTail() });
}

/** `/readyz`'s status and text. */
export async function readyz(base: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${base}/readyz`);
  return { status: response.status, text: await response.text() };
}

/** One sample of `/metrics` (undefined when absent). */
export async function metric(
  base: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const families = parsePrometheusText(await (await fetch(`${base}/metrics`)).text());
  const sample = families.get(name)?.samples.find((s) =>
    Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
  return sample?.value;
}
