/**
 * An op made to answer differently on one rack (a value planted in that
 * rack's Redis behind Pylon's back, then an INCR through the other rack) is
 * caught by the outcome fingerprints within a bounded number of ops: the
 * rack that differs names the op and both replies, stops applying and
 * serving reads (PYLON INFO, /readyz, /metrics, its log), its reads are
 * served by the other rack, and emptying its Redis rebuilds it from the log.
 * On the code before this check the same run is silent: the rack answers
 * GET with its planted value and goes on applying.
 */

import assert from "node:assert/strict";
import { useKafka, waitFor } from "../harness/mod.ts";
import { FrameClient } from "../determinism/racks.ts";
import { waitHealthyPeer } from "../world/world.ts";
import { divergence, divergenceWorld, metric, readyz, waitDiverged } from "./divergence.ts";

const decoder = new TextDecoder();

Deno.test("an op answered differently on one rack halts that rack within a bounded number of ops, naming both replies", async () => {
  await using kafka = await useKafka();
  const { world, admin } = await divergenceWorld(kafka.brokers, 2);
  await using _world = world;
  const [a, b] = world.racks as [typeof world.racks[0], typeof world.racks[0]];
  assert.equal(await a.pylon.call("SET", "counter", "10"), "OK");
  await waitFor(
    "the counter on rack1",
    async () => (await b.pylon.call("GET", "counter")) === "10" ? true : undefined,
  );

  // Behind Pylon's back: rack1's Redis now holds another value.
  const redisB = await world.master(b);
  await redisB.call("SET", "counter", "100");
  const before = await divergence(b);
  assert.equal(before.get("diverged"), "0");

  await using client = await FrameClient.connect(a.pylon.port);
  const offsetBefore = Number((await a.pylon.info()).get("partition_0_log_end"));
  assert.equal(decoder.decode(await client.call("INCR", "counter")), ":11\r\n", "rack0's reply");
  // Writes go on through rack0 while rack1 finds out.
  let written = 0;
  let found = false;
  const load = Promise.all(Array.from({ length: 4 }, async (_, c) => {
    await using writer = await FrameClient.connect(a.pylon.port);
    const deadline = performance.now() + 20_000;
    while (performance.now() < deadline && !found) {
      await writer.pipeline(
        Array.from({ length: 100 }, (_, i) => ["SET", `load:${c}:${written + i}`, "x"]),
      );
      written += 100;
    }
  }));
  const startedAt = performance.now();
  const reason = await waitDiverged(b, 20_000).finally(() => found = true);
  const detectMs = performance.now() - startedAt;
  await load;

  // The message names the op, both replies and both racks.
  assert.match(
    reason,
    /^op [0-9A-Z]{26} at offset \d+ of partition 0 \(accepted by rack 'rack0'\)/,
  );
  assert.ok(reason.includes(`rack 'rack1' answered ":101\\r\\n"`), reason);
  assert.ok(reason.includes(`rack 'rack0' answered ":11\\r\\n"`), reason);
  assert.ok(reason.includes("rack 'rack1' differs from the world"), reason);
  assert.ok(reason.includes("the accepting rack 'rack0' is the reference"), reason);
  const offset = Number(/at offset (\d+)/.exec(reason)![1]);
  assert.ok(offset >= offsetBefore, `the INCR is at ${offset}, after ${offsetBefore}`);

  // Within a bounded number of ops: rack1 applied few past the op before it stopped.
  // (The batch in flight when it found out ends first.)
  const halted = await waitFor("rack1's applier to stop", async () => {
    const d = await divergence(b);
    return d.get("partition_0") === "diverged" ? d : undefined;
  });
  const appliedAtHalt = Number(halted.get("partition_0_applied"));
  const past = appliedAtHalt - 1 - offset;
  console.log(
    `rack1 stopped ${past} ops after the op that differs (${written} written during the check), ` +
      `${detectMs.toFixed(0)} ms after the INCR was answered`,
  );
  assert.ok(past >= 0 && past <= 2_000, `ops applied past the op that differs: ${past}`);

  // Everywhere an operator looks.
  const ready = await readyz(admin(b));
  assert.equal(ready.status, 503);
  assert.match(ready.text, /this rack diverged from the world and serves no reads: op /);
  assert.equal((await readyz(admin(a))).status, 200);
  assert.equal(await metric(admin(b), "pylon_diverged"), 1);
  assert.equal(await metric(admin(a), "pylon_diverged"), 0);
  await waitFor(
    "rack0 to note rack1 diverged",
    async () => (await divergence(a)).get("racks_diverged") === "rack1" ? true : undefined,
  );
  assert.equal(await metric(admin(a), "pylon_rack_diverged", { rack: "rack1" }), 1);
  assert.equal((await divergence(a)).get("diverged"), "0", "the reference rack goes on");
  assert.match(
    await b.pylon.service.logTail(400),
    /this rack diverged from the world: .?op .*":101/,
  );

  // Reads through rack1 are served by rack0, never from its diverged Redis (once rack1 sees
  // rack0 serve reads: rack0 may still be applying the load written during the check).
  await waitHealthyPeer(b);
  assert.equal(await b.pylon.call("GET", "counter"), "11");
  assert.equal(await redisB.call("GET", "counter"), "101", "rack1's own Redis, read directly");
  assert.ok(Number((await b.pylon.info()).get("reads_forwarded")) >= 1);

  // It applies nothing more: rack0 goes on, rack1's Redis and position stay where they were.
  assert.equal(await a.pylon.call("SET", "after", "1"), "OK");
  const aEnd = Number((await a.pylon.info()).get("partition_0_log_end"));
  await waitFor(
    "rack0 to apply two ticks more",
    async () =>
      Number((await a.pylon.info()).get("partition_0_applied")) >= aEnd + 2 ? true : undefined,
  );
  assert.equal(Number((await divergence(b)).get("partition_0_applied")), appliedAtHalt);
  assert.equal(await redisB.call("GET", "after"), "");
  assert.equal(await (await world.master(a)).call("GET", "after"), "1");

  // The verdict holds across a restart of rack1's node (it is kept in its Redis).
  await b.pylon.restart();
  assert.match(await waitDiverged(b, 10_000), /^op /);
  assert.equal(await b.pylon.call("GET", "counter"), "11");

  // Recovery: empty rack1's Redis; it is rebuilt from the log and serves reads again.
  await redisB.call("FLUSHALL");
  await waitFor("rack1 to rebuild and serve its own reads", async () => {
    const d = await b.pylon.info();
    return d.get("diverged") === "0" && d.get("serves_reads") === "1" ? true : undefined;
  }, { timeoutMs: 60_000, context: () => b.pylon.service.logTail() });
  assert.equal(await redisB.call("GET", "counter"), "11");
  assert.equal(await redisB.call("GET", "after"), "1");
  await waitFor(
    "rack0 to see rack1 applying again",
    async () => (await divergence(a)).get("racks_diverged") === "" ? true : undefined,
  );
  assert.equal((await divergence(b)).get("diverged"), "0");
});
