/**
 * Catch-up is a first-class operation: a third rack added to a running world
 * with an empty Redis replays the log from its start, reports its lag while
 * it does, then serves, and ends identical to the others.
 */

import assert from "node:assert/strict";
import { RawClient, startWorld, useKafka, waitFor } from "../harness/mod.ts";
import { digests, info, waitConverged } from "./world.ts";

Deno.test("a rack added with an empty Redis catches up from the log and converges", async () => {
  await using kafka = await useKafka();
  await using world = await startWorld({ brokers: kafka.brokers, racks: 2, reserve: 1 });
  {
    await using client = await RawClient.connect(world.racks[0]!.pylon.port);
    // Pipelined batches keep this quick: 20,000 ops before the new rack exists.
    for (let batch = 0; batch < 20; batch++) {
      const argvs = Array.from(
        { length: 1_000 },
        (_, i) => ["HSET", `h${i % 97}`, `f${batch}-${i}`, String(i)],
      );
      for (const argv of argvs) await client.command(...argv);
      for (let i = 0; i < argvs.length; i++) await client.read(20_000);
    }
  }
  const slot = world.plan(3)[2]!;
  const started = performance.now();
  const newcomer = await world.addRack(slot, false);
  // Its node learns the log's end within a moment of starting.
  const end = await waitFor("the new rack to report the log's end", async () => {
    const reported = Number((await info(newcomer)).get("partition_0_log_end"));
    return Number.isFinite(reported) ? reported : undefined;
  });
  assert.ok(end >= 20_000, `the log holds the earlier writes (end ${end})`);
  await waitFor("the new rack to catch up and serve reads", async () => {
    const i = await info(newcomer);
    // At or past the end it saw: idle racks append ticks (log time moves on), so the log grows.
    return i.get("serves_reads") === "1" && Number(i.get("partition_0_applied")) >= end
      ? true
      : undefined;
  }, {
    timeoutMs: 90_000,
    intervalMs: 100,
    context: async () =>
      [...(await info(newcomer))].filter(([k]) => /partition|serves|rebuild|applies/.test(k))
        .map(([k, v]) => `${k}:${v}`).join("\n") + "\n" + await newcomer.pylon.service.logTail(30),
  });
  const caughtUpMs = performance.now() - started;
  // It serves from its own Redis now.
  assert.equal(await newcomer.pylon.call("HGET", "h3", "f19-3"), "3");
  await waitConverged(world.racks);
  const [first, ...rest] = await digests(world);
  for (const digest of rest) assert.equal(digest, first);
  console.log(
    `catch-up: a new rack applied ${end} ops and served reads ${
      Math.round(caughtUpMs)
    } ms after its node started`,
  );
});
