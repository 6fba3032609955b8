/**
 * Expiry is decided in log order: whether an op finds a key expired is the
 * same on every rack, whatever each rack's apply lag. Two racks on Kafka; for
 * thousands of keys, `SET key 100 PX 60` through east, then `INCR key`
 * through west landing from 8 ms before to 8 ms after the expiry, while
 * west's Redis holds writes now and then (CLIENT PAUSE WRITE, tens to
 * hundreds of milliseconds), so west applies late. When every rack has
 * applied the log, both racks' Redis hold the same keys, values and expiries,
 * read directly and compared key by key. (Before expiry came from the log,
 * the INCR found the key expired on one rack and alive on the other: the
 * racks differed for good.)
 */

import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { startWorld, useKafka } from "../harness/mod.ts";
import { waitConverged } from "../world/world.ts";
import { differences, logicalKeys } from "./logical.ts";
import { SeededRandom } from "../../src/random.ts";

const KEYS = 2_000;
const TTL_MS = 60;

Deno.test("writes aimed at expiry boundaries leave two racks equal key by key, one of them lagging", async () => {
  await using kafka = await useKafka();
  await using world = await startWorld({ brokers: kafka.brokers, racks: 2 });
  const [east, west] = world.racks as [typeof world.racks[0], typeof world.racks[0]];
  const client = (port: number) => new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0 });
  const viaEast = client(east!.pylon.port);
  const viaWest = client(west!.pylon.port);
  const westRedis = client((await world.master(west!)).port);
  await Promise.all([viaEast.connect(), viaWest.connect(), westRedis.connect()]);
  const random = new SeededRandom(23);
  let running = true;
  // West's applier stalls now and then: its Redis holds writes for 20 to 300 ms at a time.
  const lag = (async () => {
    while (running) {
      const holdMs = random.int(20, 300);
      await westRedis.call("CLIENT", "PAUSE", String(holdMs), "WRITE");
      await new Promise((resolve) => setTimeout(resolve, holdMs + random.int(50, 300)));
    }
  })();
  try {
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < KEYS; i++) {
      const key = `eb:${i}`;
      const sentAt = Date.now();
      await viaEast.set(key, "100", "PX", TTL_MS);
      // From when the SET was sent (about when east accepted it): 8 ms either side of its expiry.
      const aim = sentAt + TTL_MS + random.int(-8, 8) - Date.now();
      pending.push(
        new Promise((resolve) => setTimeout(resolve, Math.max(0, aim))).then(() =>
          viaWest.incr(key).catch((error: Error) => error)
        ),
      );
      // About 400 keys a second.
      if (i % 8 === 7) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const replies = await Promise.all(pending);
    const errors = replies.filter((r) => r instanceof Error);
    assert.equal(errors.length, 0, `INCR errors: ${errors.slice(0, 3).join("; ")}`);
    const restarted = replies.filter((r) => r === 1).length;
    const incremented = replies.filter((r) => r === 101).length;
    console.log(`INCR found the key expired ${restarted} times, alive ${incremented} times`);
    assert.ok(restarted > 0 && incremented > 0, "the INCRs landed on both sides of the expiry");
  } finally {
    running = false;
    await lag;
    await westRedis.call("CLIENT", "UNPAUSE");
    westRedis.disconnect();
    viaEast.disconnect();
    viaWest.disconnect();
  }
  await waitConverged(world.racks);
  const now = Date.now();
  const a = await logicalKeys((await world.master(east!)).port, "eb:*", now);
  const b = await logicalKeys((await world.master(west!)).port, "eb:*", now);
  const differing = differences(a, b);
  assert.deepEqual(
    differing.slice(0, 5),
    [],
    `${differing.length} of ${KEYS} keys differ between the racks`,
  );
  // The keys an INCR restarted after their expiry stay, without an expiry, on both racks.
  assert.ok(a.size > 0);
  for (const key of a.values()) assert.equal(key.expiry, -1);
});
