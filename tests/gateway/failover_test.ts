/** Reads keep working while Sentinel moves the master, without restarting Pylon. */

import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { startPylon, startRack, waitFor } from "../harness/mod.ts";

Deno.test("reads through Pylon keep succeeding across a forced Sentinel failover", async () => {
  await using rack = await startRack();
  const before = await rack.master();
  await using pylon = await startPylon({
    redis: { sentinels: rack.sentinelList, master: rack.masterName },
    seed: () => before.call("SET", "k", "v"),
  });
  await waitFor("the key to reach the replica", async () => {
    const replica = rack.redis.find((r) => r !== before)!;
    return (await replica.call("GET", "k")) === "v" ? true : undefined;
  });
  const client = new Redis({ port: pylon.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  await client.connect();
  let reads = 0;
  let failures = 0;
  let running = true;
  const reader = (async () => {
    while (running) {
      try {
        assert.equal(await client.get("k"), "v");
        reads++;
      } catch {
        failures++;
      }
    }
  })();
  try {
    await waitFor("reads to flow", () => reads > 100 ? true : undefined);
    const after = await rack.failover();
    await waitFor("Pylon to follow the new master", async () => {
      const info = await pylon.call("PYLON", "INFO");
      return info.includes(`upstream_address:127.0.0.1:${after.port}`) ? true : undefined;
    }, { timeoutMs: 10_000 });
    const readsAtSwitch = reads;
    await waitFor(
      "reads to continue on the new master",
      () => reads > readsAtSwitch + 100 ? true : undefined,
    );
  } finally {
    running = false;
    await reader;
    client.disconnect();
  }
  assert.equal(failures, 0, `${failures} reads failed during the failover (${reads} succeeded)`);
  const info = await pylon.call("PYLON", "INFO");
  assert.match(info, /upstream_failovers:1/);
});
