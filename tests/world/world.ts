/** Helpers for world tests: waiting for racks to drain, and comparing their datasets. */

import type { WorldRack } from "../harness/mod.ts";
import { waitFor } from "../harness/mod.ts";
import type { World } from "../harness/mod.ts";

/** `PYLON INFO` of a rack's node as a map of its fields. */
export function info(rack: WorldRack): Promise<Map<string, string>> {
  return rack.pylon.info();
}

/** Waits until every rack has applied the whole log and no write waits for its reply. */
export async function waitConverged(racks: WorldRack[], timeoutMs = 90_000): Promise<number> {
  const started = performance.now();
  await waitFor("every rack to apply the whole log", async () => {
    const infos = await Promise.all(racks.map(info));
    const ends = infos.map((i) => Number(i.get("partition_0_log_end")));
    const applied = infos.map((i) => Number(i.get("partition_0_applied")));
    const end = Math.max(...ends);
    const done = infos.every((i, k) =>
      applied[k] === end && i.get("writes_waiting") === "0" && i.get("partition_0_lag_ops") === "0"
    );
    return done ? true : undefined;
  }, {
    timeoutMs,
    intervalMs: 250,
    context: async () =>
      (await Promise.all(racks.map(async (rack) => {
        const i = await info(rack).catch(() => new Map<string, string>());
        const shown = [...i].filter(([k]) => /^(partition_0|writes_waiting|diverged)/.test(k))
          .map(([k, v]) => `${k}=${v}`).join(" ");
        return `${rack.name}: ${shown}\n${await rack.pylon.service.logTail(12)}`;
      }))).join("\n"),
  });
  return performance.now() - started;
}

/**
 * DEBUG DIGEST of every rack's Redis. Stops the nodes first: the digest
 * leaves out Pylon's metadata db, which must not be touched while they run.
 */
export async function digests(world: World): Promise<string[]> {
  for (const rack of world.racks) await rack.pylon[Symbol.asyncDispose]();
  return await Promise.all(world.racks.map(async (rack) => {
    const master = await world.master(rack);
    await master.call("-n", "15", "FLUSHDB");
    return await master.call("DEBUG", "DIGEST");
  }));
}

/** Waits until `rack`'s node sees a peer rack up that serves reads and applies. */
export async function waitHealthyPeer(rack: WorldRack): Promise<void> {
  await waitFor(
    `a healthy peer as ${rack.name} sees it`,
    async () =>
      /state=up,rtt_ms=[\d.]+,serves_reads=1,applies=1/.test(await rack.pylon.call("PYLON", "INFO"))
        ? true
        : undefined,
  );
}
