/**
 * A rebuild interrupted — its source node killed with -9, its peer link
 * cut, its own Redis restarted in the middle of the load — leaves the rack
 * refusing to apply with the reason in `PYLON INFO`, and is retried by
 * itself until it succeeds; the racks end equal key by key. Sentinel, which
 * watches the rebuilt rack, never fails it over. The rebuilding rack's peer
 * links go through relays that carry 1.5 MB/s, so the transfer lasts long
 * enough to be interrupted.
 */

import assert from "node:assert/strict";
import {
  expireLogBefore,
  Relay,
  startWorld,
  topicBounds,
  useKafka,
  waitFor,
} from "../harness/mod.ts";
import type { KafkaLease, SentinelRack, World, WorldRack } from "../harness/mod.ts";
import { waitConverged } from "../world/world.ts";
import {
  assertRacksEqual,
  info,
  keepWriting,
  noise,
  sentinelView,
  waitRebuildPhase,
  writeData,
} from "./racks.ts";
import { RawClient } from "../harness/mod.ts";

const RELAY_BYTES_PER_SECOND = 1_500_000;

/** Keys of 4 KB that LZF cannot shrink: about 10 MB of snapshot. */
async function writeBulk(port: number, count: number): Promise<void> {
  await using client = await RawClient.connect(port);
  for (let at = 0; at < count; at += 200) {
    for (let i = at; i < Math.min(count, at + 200); i++) {
      await client.command("SET", `bulk:${i}`, noise(4_000));
    }
    for (let i = at; i < Math.min(count, at + 200); i++) await client.read(30_000);
  }
}

/**
 * A world of racks A and B and rack C (Sentinel-watched when `sentinel`),
 * C's peer links through throttled relays; C lost its data and the log's
 * retention passed; C's node starts again and its rebuild is in transfer.
 */
async function rackInTransfer(kafka: KafkaLease, world: World, sentinel: boolean) {
  const slots = world.plan(3);
  const relays = new Map<string, Relay>();
  for (const slot of slots.slice(0, 2)) {
    const relay = await Relay.start({ host: "127.0.0.1", port: slot.peerPort });
    relay.limit(RELAY_BYTES_PER_SECOND);
    relays.set(slot.nodeId, relay);
  }
  const via = new Map([...relays].map(([id, relay]) => [id, relay.address]));
  const c = await world.addRack(slots[2]!, sentinel, { via });
  const [a, b] = world.racks as [WorldRack, WorldRack];
  await writeData(a.pylon.port, "a", 1_000);
  await writeBulk(b.pylon.port, 2_500);
  await c.pylon.stop();
  assert.equal(await (await world.master(c)).call("FLUSHALL"), "OK");
  const writers = keepWriting([a.pylon.port, b.pylon.port], "during");
  const { end } = await topicBounds(kafka.brokers, world.topic);
  await expireLogBefore(kafka.brokers, world.topic, end);
  c.pylon = await c.pylon.startAgain();
  const transfer = await waitFor("C's rebuild to be a megabyte into its transfer", async () => {
    const i = await info(c);
    return i.get("rebuild_phase") === "transfer" && Number(i.get("rebuild_bytes")) > 1_000_000
      ? i
      : undefined;
  }, { timeoutMs: 60_000, intervalMs: 100 });
  const sourceRack = transfer.get("rebuild_source")!.split("/")[0]!;
  const source = world.racks.find((r) => r.name === sourceRack)!;
  console.log(
    `C rebuilds from ${sourceRack}: ${transfer.get("rebuild_bytes")} bytes in, ` +
      `${transfer.get("rebuild_bytes_per_sec")} B/s, ${
        transfer.get("rebuild_seconds_left")
      } s left`,
  );
  return { c, source, relays, writers };
}

/** C's rebuild failed once with `pattern`, then was retried to success; the racks end equal. */
async function finishes(
  world: World,
  c: WorldRack,
  pattern: RegExp,
  writers: ReturnType<typeof keepWriting>,
) {
  const failed = await waitFor("C's rebuild to fail", async () => {
    const i = await info(c);
    return Number(i.get("rebuilds_failed")) >= 1 ? i : undefined;
  }, { timeoutMs: 60_000, intervalMs: 100 });
  assert.match(failed.get("rebuild_last_error") ?? "", pattern);
  // Meanwhile the rack refuses to apply and says why.
  assert.equal(failed.get("serves_reads"), "0");
  const done = await waitRebuildPhase(c, ["done"], 180_000);
  console.log(
    `retried to success: attempts ${done.get("rebuild_attempts")}, from ${
      done.get("rebuild_source")
    }, ` +
      `first failure: ${failed.get("rebuild_last_error")}`,
  );
  assert.ok(Number(done.get("rebuild_attempts")) >= 2);
  const written = await writers.stop();
  await waitConverged(world.racks);
  console.log(`${written.written} writes meanwhile; ${await assertRacksEqual(world)} keys equal`);
}

Deno.test("a rebuild whose source node is killed with -9 is retried to success", async () => {
  await using kafka = await useKafka();
  await using world = await startWorld({ brokers: kafka.brokers, racks: 2, reserve: 1 });
  const { c, source, relays, writers } = await rackInTransfer(kafka, world, true);
  try {
    const sentinelBefore = await sentinelView(c.redis as SentinelRack);
    await source.pylon.kill();
    const restarting = (async () => {
      await waitFor(
        "C to see the failure",
        async () => Number((await info(c)).get("rebuilds_failed")) >= 1 || undefined,
        { timeoutMs: 60_000 },
      );
      source.pylon = await source.pylon.startAgain();
    })();
    await finishes(world, c, /link to peer .* broke|source|nothing for/, writers);
    await restarting;
    assert.deepEqual(await sentinelView(c.redis as SentinelRack), sentinelBefore);
  } finally {
    for (const relay of relays.values()) await relay[Symbol.asyncDispose]();
  }
});

Deno.test("a rebuild whose peer link is cut is retried to success", async () => {
  await using kafka = await useKafka();
  await using world = await startWorld({ brokers: kafka.brokers, racks: 2, reserve: 1 });
  const { c, source, relays, writers } = await rackInTransfer(kafka, world, true);
  try {
    const sentinelBefore = await sentinelView(c.redis as SentinelRack);
    const relay = relays.get(source.nodeId)!;
    relay.cut();
    setTimeout(() => relay.heal(), 3_000);
    await finishes(world, c, /link to peer .* broke/, writers);
    assert.deepEqual(await sentinelView(c.redis as SentinelRack), sentinelBefore);
  } finally {
    for (const relay of relays.values()) await relay[Symbol.asyncDispose]();
  }
});

Deno.test("a rebuild whose own Redis restarts empty mid-load is retried to success", async () => {
  await using kafka = await useKafka();
  await using world = await startWorld({ brokers: kafka.brokers, racks: 2, reserve: 1 });
  const { c, relays, writers } = await rackInTransfer(kafka, world, false);
  try {
    const redis = await world.master(c);
    await redis.kill();
    await redis.restart();
    await finishes(world, c, /this rack's Redis|connection/, writers);
  } finally {
    for (const relay of relays.values()) await relay[Symbol.asyncDispose]();
  }
});
