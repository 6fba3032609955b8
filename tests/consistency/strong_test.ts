/**
 * Strong requests on three racks over Kafka: contentious keys (`lock:*`)
 * and `PYLON CONSISTENCY strong` read what every completed write wrote even
 * through a rack whose Redis has stopped applying (the read goes where the
 * log's end is applied, never to that Redis); a strong
 * write is answered only with a quorum of racks, and short of it gets an
 * error saying so (never OK); WAIT counts the racks. Checked in every rack's
 * Redis.
 */

import assert from "node:assert/strict";
import { RawClient, shown, startWorld, useKafka, waitFor } from "../harness/mod.ts";

Deno.test("contentious keys: linearizable reads through a lagging rack, quorum writes, WAIT", async () => {
  await using kafka = await useKafka();
  await using world = await startWorld({
    brokers: kafka.brokers,
    racks: 3,
    args: ["--contentious", "lock:*", "--write-timeout-ms", "4000"],
  });
  const [a, b, c] = world.racks as [
    typeof world.racks[0],
    typeof world.racks[0],
    typeof world.racks[0],
  ];
  await using onA = await RawClient.connect(a.pylon.port);
  await using onB = await RawClient.connect(b.pylon.port);
  assert.equal(
    shown(await onA.call("SET", "lock:k", "v1")),
    shown({ type: "simple", value: "OK" }),
  );
  assert.equal(shown(await onA.call("WAIT", "3", "5000")), shown({ type: "integer", value: 3n }));

  // Rack B's Redis stops taking writes (out of memory): its applier pauses there.
  const bRedis = await world.master(b);
  await bRedis.call("CONFIG", "SET", "maxmemory", "1");
  await onA.call("SET", "lock:k", "v2");
  await onA.call("SET", "plain", "new");
  await waitFor(
    "rack B's applier to pause",
    async () => /partition_0:paused/.test(await b.pylon.call("PYLON", "INFO")) ? true : undefined,
  );
  assert.equal(await bRedis.call("GET", "lock:k"), "v1", "rack B's Redis is behind");
  // A strong read through B sees v2: served by a rack that applied the log's end, not B's Redis.
  assert.equal(
    shown(await onB.call("GET", "lock:k")),
    shown({ type: "bulk", value: new TextEncoder().encode("v2") }),
  );
  const strongReads = () =>
    b.pylon.call("PYLON", "INFO").then((info) => Number(/strong_reads:(\d+)/.exec(info)![1]));
  const before = await strongReads();
  await onB.call("GET", "plain");
  assert.equal(await strongReads(), before, "a local key is read locally");
  assert.equal(
    shown(await onB.call("PYLON", "CONSISTENCY", "strong")),
    shown({ type: "simple", value: "OK" }),
  );
  assert.equal(
    shown(await onB.call("GET", "plain")),
    shown({ type: "bulk", value: new TextEncoder().encode("new") }),
  );
  assert.equal(await strongReads(), before + 1, "every read of a strong connection is strong");
  assert.equal(
    shown(await onB.call("PYLON", "CONSISTENCY")),
    shown({ type: "bulk", value: new TextEncoder().encode("strong") }),
  );
  // WAIT counts racks: B cannot apply.
  assert.equal(shown(await onA.call("WAIT", "3", "1000")), shown({ type: "integer", value: 2n }));

  // Two racks of three still make a majority; one alone does not.
  await c.pylon.kill();
  const refused = await onA.call("SET", "lock:k", "v3");
  assert.equal(refused.type, "error", shown(refused));
  assert.match(shown(refused), /in the log \(partition 0, offset \d+\) but only 1 of 3 racks/);
  assert.deepEqual(
    await onA.call("SET", "free", "x"),
    { type: "simple", value: "OK" },
    "local keys go on",
  );
  const info = await a.pylon.call("PYLON", "INFO");
  assert.match(info, /strong_quorum_failures:1\r\n/);
  assert.match(info, /strong_quorum:2\r\n/);

  // Everything heals; the refused write was in the log all along and is applied everywhere.
  await bRedis.call("CONFIG", "SET", "maxmemory", "0");
  await c.pylon.restart();
  for (const rack of world.racks) {
    const master = await world.master(rack);
    await waitFor(
      `rack ${rack.name} to apply v3`,
      async () => await master.call("GET", "lock:k") === "v3" ? true : undefined,
      { timeoutMs: 60_000 },
    );
  }
});
