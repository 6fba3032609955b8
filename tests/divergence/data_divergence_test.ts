/**
 * A key changed directly in one rack's Redis and never touched again by any
 * op answers no op differently: only the data digests find it. Three racks,
 * so the two that agree outvote it. Found within a pass over the keys; the
 * rack stops serving reads; emptied, it is rebuilt from the log; then a key
 * deleted directly there (which its own SCAN never returns) is found by the
 * other racks, which tell it, and it halts again. On the code before this
 * check both stay silent.
 */

import assert from "node:assert/strict";
import { useKafka, waitFor } from "../harness/mod.ts";
import { FrameClient } from "../determinism/racks.ts";
import { waitConverged } from "../world/world.ts";
import { divergence, divergenceWorld, metric, readyz, waitDiverged } from "./divergence.ts";

/** Keys of every type, some with an expiry, written through `port`. */
async function writeKeys(port: number, count: number): Promise<void> {
  await using client = await FrameClient.connect(port);
  const commands: string[][] = [];
  for (let i = 0; i < count; i++) {
    switch (i % 6) {
      case 0:
        commands.push(["SET", `s:${i}`, `v${i}`, "PX", "600000"]);
        break;
      case 1:
        commands.push(["HSET", `h:${i}`, "a", String(i), "b", "x"]);
        break;
      case 2:
        commands.push(["RPUSH", `l:${i}`, "a", "b", String(i)]);
        break;
      case 3:
        commands.push(["SADD", `set:${i}`, "a", "b", String(i)]);
        break;
      case 4:
        commands.push(["ZADD", `z:${i}`, "1.5", "a", String(i), "b"]);
        break;
      case 5:
        commands.push(["XADD", `x:${i}`, "*", "f", String(i)]);
        break;
    }
  }
  await client.pipeline(commands);
}

Deno.test("a key changed in one rack's Redis and never touched again is found by the data digests", async () => {
  await using kafka = await useKafka();
  const { world, admin } = await divergenceWorld(kafka.brokers, 3);
  await using _world = world;
  const [a, b, c] = world.racks as [
    typeof world.racks[0],
    typeof world.racks[0],
    typeof world.racks[0],
  ];
  const keys = 600;
  await writeKeys(a.pylon.port, keys);
  await waitConverged(world.racks);
  // A whole pass over the keys on each rack, with nothing found.
  await waitFor("a first pass of data digests on every rack", async () => {
    const all = await Promise.all(world.racks.map(divergence));
    return all.every((d) =>
        Number(d.get("data_keys_compared")) >= keys && d.get("diverged") === "0"
      )
      ? true
      : undefined;
  }, {
    timeoutMs: 60_000,
    context: async () =>
      JSON.stringify(await Promise.all(world.racks.map(async (r) => [...await divergence(r)]))) +
      "\n" + await c.pylon.service.logTail(),
  });

  for (const r of world.racks) {
    const d = await divergence(r);
    console.log(
      `${r.name}: ${d.get("data_keys_compared")} keys compared in ${d.get("data_digest_rounds")} ` +
        `rounds (${d.get("data_digest_rounds_retried")} retried)`,
    );
  }

  // Behind Pylon's back, on rack2 only: a field of a hash no op touches again.
  const redisC = await world.master(c);
  assert.equal(await redisC.call("HSET", "h:7", "a", "changed"), "0");
  const startedAt = performance.now();
  const reason = await waitDiverged(c, 60_000);
  console.log(`found ${(performance.now() - startedAt).toFixed(0)} ms after the change`);
  assert.match(
    reason,
    /^key "h:7" of db 0 differs at log position \d+ of partition 0: rack 'rack2' has hash of 2 fields, no expiry, digest [0-9a-f]{12}; rack '(rack0|rack1)' has hash of 2 fields, no expiry, digest [0-9a-f]{12}/,
  );
  assert.ok(reason.includes("rack 'rack2' differs from the world (2 of 3 racks agree)"), reason);
  for (const other of [a, b]) {
    assert.equal((await divergence(other)).get("diverged"), "0");
    await waitFor(
      `${other.name} to see rack2 stopped`,
      async () => (await divergence(other)).get("racks_diverged") === "rack2" ? true : undefined,
    );
  }
  assert.equal((await readyz(admin(c))).status, 503);
  assert.equal(await metric(admin(c), "pylon_diverged"), 1);
  assert.equal(await c.pylon.call("HGET", "h:7", "a"), "7", "served by another rack");
  assert.equal(await redisC.call("HGET", "h:7", "a"), "changed", "rack2's own Redis");

  // Rebuilt from the log, it agrees again.
  await redisC.call("FLUSHALL");
  await waitFor("rack2 to rebuild and serve its own reads", async () => {
    const info = await c.pylon.info();
    return info.get("diverged") === "0" && info.get("serves_reads") === "1" &&
        (await redisC.call("HGET", "h:7", "a")) === "7"
      ? true
      : undefined;
  }, { timeoutMs: 60_000 });

  // A key deleted directly on rack2: its own SCAN never sees it, the others do and tell it.
  await waitConverged(world.racks);
  assert.equal(await redisC.call("DEL", "z:10"), "1");
  const gone = await waitDiverged(c, 60_000);
  assert.match(gone, /^key "z:10" of db 0 differs .*rack 'rack2' has no such key/);
  assert.ok(gone.includes("(2 of 3 racks agree)"), gone);
  for (const other of [a, b]) assert.equal((await divergence(other)).get("diverged"), "0");
  assert.equal(await c.pylon.call("ZSCORE", "z:10", "b"), "10");
});
