/**
 * A rack that lost its data while the log's retention removed what it lacks
 * is rebuilt from a peer rack's snapshot, by itself: never applied to from a
 * later op, never read from until rebuilt, its reads served by peers
 * meanwhile, and equal to the other racks key by key afterwards (values,
 * types, stored expiries), counters exact, while clients write through the
 * other racks throughout. Kafka with a short retention; rack C watched by
 * Sentinel, which never fails it over.
 */

import assert from "node:assert/strict";
import {
  expireLogBefore,
  makeCerts,
  startWorld,
  topicBounds,
  useKafka,
  waitFor,
} from "../harness/mod.ts";
import type { SentinelRack } from "../harness/mod.ts";
import { startCounters, verifyCounters } from "../write/counters.ts";
import { waitConverged } from "../world/world.ts";
import {
  assertRacksEqual,
  info,
  keepWriting,
  sentinelView,
  waitRebuildPhase,
  writeData,
} from "./racks.ts";

const COUNTERS = 4;

Deno.test("a rack back empty after retention rebuilds from a peer by itself, exactly", async () => {
  await using kafka = await useKafka();
  await using world = await startWorld({ brokers: kafka.brokers, racks: 2, reserve: 1 });
  const [a, b] = world.racks as [typeof world.racks[0], typeof world.racks[0]];
  const c = await world.addRack(world.plan(3)[2]!, true);
  const cRedis = c.redis as SentinelRack;
  const sentinelBefore = await sentinelView(cRedis);
  const counters = startCounters([a.pylon.port, b.pylon.port, c.pylon.port], 3, COUNTERS);
  await writeData(a.pylon.port, "a", 3_000);
  await writeData(b.pylon.port, "b", 2_000);

  // C's node stops; its Redis loses everything; the world writes on past the log's retention.
  await c.pylon.stop();
  const master = await world.master(c);
  assert.equal(await master.call("FLUSHALL"), "OK");
  const writers = keepWriting([a.pylon.port, b.pylon.port], "during");
  await writeData(a.pylon.port, "later", 1_000);
  const { end } = await topicBounds(kafka.brokers, world.topic);
  const start = await expireLogBefore(kafka.brokers, world.topic, end);
  console.log(`the log now starts at ${start} (it held ${end} ops when C stopped)`);

  // C comes back: it refuses to apply from a later op and rebuilds by itself.
  c.pylon = await c.pylon.startAgain();
  const during = await waitRebuildPhase(c, ["snapshot", "transfer", "load", "catch-up", "done"]);
  console.log(`rebuild seen: ${during.get("rebuild_phase")}, ${during.get("rebuild_reason")}`);
  assert.equal(during.get("rebuild_mode"), "auto");
  // Meanwhile its reads go to peers: the right value, never the empty Redis's nil.
  assert.equal(await c.pylon.call("GET", "s:a:0"), "value-0");
  const done = await waitRebuildPhase(c, ["done"]);
  console.log(
    `rebuilt from ${done.get("rebuild_source")}: ${done.get("rebuild_keys")} keys, ` +
      `${done.get("rebuild_bytes")} bytes in ${done.get("rebuild_last_duration_ms")} ms`,
  );
  assert.equal(done.get("rebuild_attempts"), "1");
  await waitFor(
    "C to serve reads",
    async () => (await info(c)).get("serves_reads") === "1" || undefined,
  );
  assert.equal(await c.pylon.call("GET", "s:a:9"), "value-9");

  const written = await writers.stop();
  await counters.stop();
  await waitConverged(world.racks);
  console.log(
    `${written.written} writes through A and B during the outage and the rebuild ` +
      `(${written.failed} failed)`,
  );
  const keys = await assertRacksEqual(world);
  console.log(`every rack equal key by key: ${keys} keys`);
  const values = await Promise.all(
    Array.from(
      { length: COUNTERS },
      async (_, k) => Number(await a.pylon.call("GET", `counter:${k}`)),
    ),
  );
  console.log(verifyCounters(values, counters.tally).join("\n"));
  assert.deepEqual(await sentinelView(cRedis), sentinelBefore, "Sentinel never failed C over");
});

Deno.test("a rebuild travels over mutual TLS when the peer links use it", async () => {
  await using kafka = await useKafka();
  await using certs = await makeCerts();
  // Every peer port speaks only TLS: a link without the world's certificates is refused.
  const tls = ["--peer-tls-cert", certs.server.certFile, "--peer-tls-key", certs.server.keyFile];
  await using world = await startWorld({
    brokers: kafka.brokers,
    racks: 2,
    args: [...tls, "--peer-tls-ca", certs.caFile],
  });
  const [a, c] = world.racks as [typeof world.racks[0], typeof world.racks[0]];
  await writeData(a.pylon.port, "a", 2_000);
  await c.pylon.stop();
  assert.equal(await (await world.master(c)).call("FLUSHALL"), "OK");
  const { end } = await topicBounds(kafka.brokers, world.topic);
  await expireLogBefore(kafka.brokers, world.topic, end);
  c.pylon = await c.pylon.startAgain();
  const done = await waitRebuildPhase(c, ["done"]);
  assert.match(done.get("rebuild_source") ?? "", /^rack0\//);
  await waitConverged(world.racks);
  console.log(`over TLS: ${await assertRacksEqual(world)} keys equal`);
});
