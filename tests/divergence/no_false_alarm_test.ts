/**
 * No false alarm: two racks under writes whose replies legitimately differ
 * by rack (PUBLISH to subscribers on one rack only, alone, in a transaction,
 * from a script run by EVALSHA and from a function), scripts, keys expiring
 * under ops, errors, a node killed and restarted, and a Redis restarted
 * empty and rebuilt from the log: both racks keep applying, outcome windows
 * and data keys are compared all along, and neither reports a divergence.
 * The data is then compared directly (DEBUG DIGEST of each Redis).
 */

import assert from "node:assert/strict";
import { delay, type RedisServer, useKafka, waitFor, type WorldRack } from "../harness/mod.ts";
import { FrameClient } from "../determinism/racks.ts";
import { digests, waitConverged } from "../world/world.ts";
import { divergence, divergenceWorld } from "./divergence.ts";

const decoder = new TextDecoder();
const PUBLISHING_SCRIPT = "return redis.call('PUBLISH', ARGV[1], ARGV[2])";
const LIBRARY = "#!lua name=pubs\n" +
  "redis.register_function('pub', function(keys, args) return redis.call('publish', args[1], args[2]) end)";

/** One step of the workload through `client`: its replies (errors are fine: they are outcomes). */
async function step(client: FrameClient, i: number, sha: string): Promise<string[]> {
  const replies = await client.pipeline([
    ["PUBLISH", "news", `m${i}`],
    ["INCR", "counter"],
    ["SET", `short:${i % 50}`, "v", "PX", String(50 + (i % 7) * 30)],
    ["INCR", `short:${(i + 25) % 50}`],
    ["MULTI"],
    ["INCR", "in-tx"],
    ["PUBLISH", "news", "in a transaction"],
    ["LPUSH", "counter", "wrong type"],
    ["EXEC"],
    ["EVALSHA", sha, "0", "news", "from a script"],
    ["EVAL", "return redis.call('INCRBY', KEYS[1], ARGV[1])", "1", "by-script", String(i)],
    ["FCALL", "pub", "0", "news", "from a function"],
    ["SADD", `set:${i % 20}`, String(i)],
    ["HSET", `hash:${i % 20}`, `f${i}`, String(i)],
    ["LPUSH", "list", String(i)],
    ["GETDEL", `short:${(i + 10) % 50}`],
  ]);
  return replies.map((r) => decoder.decode(r));
}

Deno.test("replies that differ by rack for good reasons, restarts and expiries raise no alarm", async () => {
  await using kafka = await useKafka();
  const { world } = await divergenceWorld(kafka.brokers, 2);
  await using _world = world;
  const [a, b] = world.racks as [WorldRack, WorldRack];

  // Subscribers on rack0 only: every rack's PUBLISH reply counts its own.
  await using subscriber = await FrameClient.connect(a.pylon.port);
  assert.match(decoder.decode(await subscriber.call("SUBSCRIBE", "news")), /subscribe/);
  await using setup = await FrameClient.connect(a.pylon.port);
  const sha = decoder.decode(await setup.call("SCRIPT", "LOAD", PUBLISHING_SCRIPT)).split(
    "\r\n",
  )[1]!;
  assert.equal(decoder.decode(await setup.call("FUNCTION", "LOAD", LIBRARY)), "$4\r\npubs\r\n");

  let stop = false;
  let steps = 0;
  const counts = new Map<string, Set<string>>();
  const load = (rack: WorldRack, n: number) =>
    (async () => {
      let i = n;
      while (!stop) {
        try {
          await using client = await FrameClient.connect(rack.pylon.port);
          while (!stop) {
            const replies = await step(client, i, sha);
            const seen = counts.get(rack.name) ?? new Set();
            seen.add(replies[0]!);
            counts.set(rack.name, seen);
            i += 2;
            steps++;
          }
        } catch {
          // The rack's node is restarting: connect again.
          await delay(100);
        }
      }
    })();
  const loads = [load(a, 0), load(b, 1)];

  const redisB = await world.master(b) as RedisServer;
  await waitFor("some steps", () => steps >= 40 ? true : undefined, { timeoutMs: 60_000 });
  await b.pylon.kill();
  await b.pylon.restart();
  await waitFor("more steps", () => steps >= 80 ? true : undefined, { timeoutMs: 60_000 });
  // rack1's Redis restarts empty (no persistence): rebuilt from the log.
  await redisB.restart();
  await waitFor(
    "rack1 rebuilt and serving its own reads",
    async () => (await b.pylon.info()).get("serves_reads") === "1" ? true : undefined,
    { timeoutMs: 60_000 },
  );
  const target = steps + 40;
  await waitFor("steps after the rebuild", () => steps >= target ? true : undefined, {
    timeoutMs: 60_000,
  });
  stop = true;
  await Promise.all(loads);

  // PUBLISH answered differently on the two racks: 1 subscriber on rack0, none on rack1 (":1"
  // there too while rack1 could not apply and rack0 took its writes).
  assert.deepEqual([...counts.get("rack0")!], [":1\r\n"]);
  assert.ok(counts.get("rack1")!.has(":0\r\n"), [...counts.get("rack1")!].join(" "));

  await waitConverged(world.racks);
  const keys = Number(await a.pylon.call("DBSIZE"));
  const start = await Promise.all(world.racks.map(divergence));
  await waitFor("a pass of data digests and outcome comparisons on both racks", async () => {
    const now = await Promise.all(world.racks.map(divergence));
    return now.every((d, r) =>
        Number(d.get("data_keys_compared")) >=
          Number(start[r]!.get("data_keys_compared")) + keys &&
        Number(d.get("outcome_windows_compared")) > 0
      )
      ? true
      : undefined;
  }, { timeoutMs: 60_000 });
  for (const rack of world.racks) {
    const d = await divergence(rack);
    console.log(
      `${rack.name}: ${d.get("outcome_ops_fingerprinted")} ops fingerprinted, ` +
        `${d.get("outcome_windows_compared")} windows and ${d.get("outcome_points_compared")} ` +
        `last ops compared (${d.get("outcome_windows_skipped")} windows skipped), ` +
        `${d.get("data_keys_compared")} keys compared`,
    );
    assert.equal(d.get("diverged"), "0", `${rack.name}: ${d.get("diverged_reason")}`);
    assert.equal(d.get("racks_diverged"), "", `${rack.name}`);
    assert.ok(Number(d.get("outcome_windows_compared")) > 0);
  }
  // The data itself, read directly: equal.
  const [da, db] = await digests(world);
  assert.equal(da, db);
});
