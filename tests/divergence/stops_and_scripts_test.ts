/**
 * Two things bound an applier's batch: a script op ends its batch (a script
 * killed on one rack's Redis is then the batch's last op, and the rack goes
 * back to just before it), and the divergence checker's stops end a batch
 * where every rack digests its data. Both at once: the records after a
 * script are carried to the next batch, and a stop may take only part of
 * them. A burst with a script every third op, on two racks that check each
 * other's data all along: both racks apply every op once and end equal (the
 * merged applier once dropped carried records there, and stopped on "reader
 * returned offset 451, expected 448" running BullMQ).
 */

import assert from "node:assert/strict";
import { useKafka } from "../harness/mod.ts";
import { FrameClient } from "../determinism/racks.ts";
import { digests, waitConverged } from "../world/world.ts";
import { divergence, divergenceWorld } from "./divergence.ts";

const OPS = 3_000;

Deno.test("batches ended by scripts and by the checker's stops apply every op once on every rack", async () => {
  await using kafka = await useKafka();
  // Many data rounds: many stops inside the burst.
  const { world } = await divergenceWorld(kafka.brokers, 2, ["--digest-keys-per-second", "4000"]);
  await using _world = world;
  const [a, b] = world.racks as [typeof world.racks[0], typeof world.racks[0]];
  await using client = await FrameClient.connect(a.pylon.port);
  const commands: string[][] = [];
  for (let i = 0; i < OPS; i++) {
    commands.push(
      i % 3 === 0
        ? ["EVAL", "return redis.call('INCR', KEYS[1])", "1", `k:${i % 97}`]
        : ["INCR", `k:${i % 97}`],
    );
  }
  // Keys for the data rounds to digest while the burst is applied.
  await client.pipeline(Array.from({ length: 500 }, (_, i) => ["SET", `pad:${i}`, String(i)]));
  for (let at = 0; at < OPS; at += 500) await client.pipeline(commands.slice(at, at + 500));
  await waitConverged(world.racks);

  for (const rack of [a, b]) {
    const d = await divergence(rack);
    assert.equal(d.get("diverged"), "0", `${rack.name}: ${d.get("diverged_reason")}`);
    assert.ok(Number(d.get("data_digest_rounds")) > 0, `${rack.name} compared data`);
  }
  // Independent look: every increment once, in each rack's own Redis.
  for (const rack of [a, b]) {
    const redis = await world.master(rack);
    let total = 0;
    for (let k = 0; k < 97; k++) total += Number(await redis.call("GET", `k:${k}`));
    assert.equal(total, OPS, `${rack.name}'s Redis holds every increment once`);
  }
  const [first, second] = await digests(world);
  assert.equal(second, first, "both racks' Redis equal");
});
