/**
 * `--rebuild manual`: a rack whose Redis kept its data but fell behind the
 * log's retention is not applied to, does not serve reads (its reads and
 * writes go to peers) and says why, until an admin runs
 * `PYLON REBUILD FROM <rack>`; then it is rebuilt from that rack and ends
 * equal to the others key by key, counters exact.
 */

import assert from "node:assert/strict";
import { expireLogBefore, startWorld, topicBounds, useKafka, waitFor } from "../harness/mod.ts";
import { startCounters, verifyCounters } from "../write/counters.ts";
import { waitConverged } from "../world/world.ts";
import {
  assertRacksEqual,
  info,
  keepWriting,
  META_DB,
  waitApplied,
  waitRebuildPhase,
  writeData,
} from "./racks.ts";

const COUNTERS = 3;

Deno.test("PYLON REBUILD FROM <rack> rebuilds a rack behind retention, by hand", async () => {
  await using kafka = await useKafka();
  await using world = await startWorld({ brokers: kafka.brokers, racks: 2, reserve: 1 });
  const [a, b] = world.racks as [typeof world.racks[0], typeof world.racks[0]];
  const c = await world.addRack(world.plan(3)[2]!, false, { args: ["--rebuild", "manual"] });
  const counters = startCounters([a.pylon.port, b.pylon.port], 2, COUNTERS);
  await writeData(a.pylon.port, "a", 2_000);
  await waitApplied(c, (await topicBounds(kafka.brokers, world.topic)).end);

  // C's node stops with its Redis intact; the log's retention passes C's position.
  await c.pylon.stop();
  const cRedis = await world.master(c);
  const stalePosition = await cRedis.call("-n", String(META_DB), "GET", "pylon:applied:0");
  const writers = keepWriting([a.pylon.port, b.pylon.port], "during");
  await writeData(b.pylon.port, "b", 2_000);
  const { end } = await topicBounds(kafka.brokers, world.topic);
  await expireLogBefore(kafka.brokers, world.topic, end);

  c.pylon = await c.pylon.startAgain();
  const needed = await waitRebuildPhase(c, ["needed"], 30_000);
  assert.equal(needed.get("partition_0"), "rebuild");
  assert.match(needed.get("partition_0_last_error") ?? "", /fell behind the log's retention/);
  assert.match(needed.get("rebuild_last_error") ?? "", /waiting for PYLON REBUILD FROM/);
  assert.equal(needed.get("serves_reads"), "0");
  assert.equal(needed.get("applies"), "0");
  // Its reads and writes are served by peers; its own Redis is left as it was.
  assert.equal(await c.pylon.call("GET", "s:a:0"), "value-0");
  assert.equal(await c.pylon.call("HGET", "h:b:3", "a"), "3", "a key C's Redis lacks");
  assert.equal(await c.pylon.call("INCR", "via-c"), "1");
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  assert.equal(
    await cRedis.call("-n", String(META_DB), "GET", "pylon:applied:0"),
    stalePosition,
    "nothing applied to a Redis behind retention",
  );
  assert.equal((await info(c)).get("rebuild_phase"), "needed", "manual: no rebuild by itself");

  // Only an admin that proved a password may replace a rack's data.
  assert.match(await c.pylon.call("PYLON", "REBUILD", "FROM", "rack1"), /^NOPERM/);
  const admin = ["--no-auth-warning", "--user", "pylon", "--pass", world.secret];
  assert.match(
    await c.pylon.call(...admin, "PYLON", "REBUILD", "FROM", "nowhere"),
    /no rack 'nowhere'/,
  );
  assert.match(
    await c.pylon.call(...admin, "PYLON", "REBUILD", "FROM", "rack1"),
    /^Rebuilding rack 'rack2' from rack 'rack1'/,
  );
  const done = await waitRebuildPhase(c, ["done"]);
  assert.match(done.get("rebuild_source") ?? "", /^rack1\//);
  assert.equal(done.get("rebuild_requested_from"), "rack1");
  await waitFor(
    "C to serve reads",
    async () => (await info(c)).get("serves_reads") === "1" || undefined,
  );

  const written = await writers.stop();
  await counters.stop();
  await waitConverged(world.racks);
  console.log(`${written.written} writes through A and B meanwhile (${written.failed} failed)`);
  console.log(`every rack equal key by key: ${await assertRacksEqual(world)} keys`);
  const values = await Promise.all(
    Array.from(
      { length: COUNTERS },
      async (_, k) => Number(await b.pylon.call("GET", `counter:${k}`)),
    ),
  );
  console.log(verifyCounters(values, counters.tally).join("\n"));
  assert.equal(await c.pylon.call("GET", "via-c"), "1");
});
