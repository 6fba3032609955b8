/**
 * Issue 24, item 6: a script may not empty the dataset. FLUSHALL and FLUSHDB
 * called from a script would empty every partition at once, ordered by one
 * partition only (`FLUSHALL` itself is a world op, refused unless ordered
 * across all of them), so scripts' restricted Redis user is denied them:
 * the script gets Redis's permission error, the same on every rack, and
 * every rack's data stays (read directly).
 *
 * With several partitions the script's partition check refuses them first,
 * naming the partition rule (keys of other partitions and `SORT .. BY`/`GET`
 * patterns: tests/determinism/partitions_test.ts).
 */

import assert from "node:assert/strict";
import { startPylon, startRedis, startWorld, useKafka } from "../harness/mod.ts";
import { assertSameData, redisKeys, run, waitSamePosition, writeKeys } from "./contract.ts";

const FLUSHING = [
  ["EVAL", "redis.call('FLUSHALL') return 1", "0"],
  ["EVAL", "return redis.call('FLUSHDB', 'ASYNC')", "0"],
  ["EVAL", "return redis.pcall('FLUSHALL')", "0"],
];

/** Sends each flushing script through `port`; answers the replies. */
async function flushFromScripts(port: number): Promise<string[]> {
  const replies: string[] = [];
  for (const argv of FLUSHING) replies.push(`${argv.join(" ")}: ${(await run(port, argv))[0]}`);
  return replies;
}

/** Redis's error for a command a script's user is denied. */
const DENIED = /: \(error\) ERR The user executing the script can't run this command/;
/** Pylon's error for a command that reaches past a script's partition. */
const OTHER_PARTITIONS =
  /: \(error\) ERR Pylon: this log has 2 partitions .*: flush(all|db) reads or changes every partition/;

/** Every reply the refusal `expected`. */
function assertRefused(replies: string[], expected = DENIED): void {
  for (const reply of replies) assert.match(reply, expected);
}

Deno.test("a script cannot FLUSHALL or FLUSHDB a single node's Redis", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({ redis: { url: redis.url } });
  await writeKeys(pylon.port, "kept", 50);
  const replies = await flushFromScripts(pylon.port);
  assert.equal((await redisKeys(redis, 0)).size, 50, `the Redis keeps its keys: ${replies}`);
  assertRefused(replies);
});

Deno.test("with two partitions, a script cannot empty every rack's Redis", async () => {
  const started = performance.now();
  await using kafka = await useKafka();
  await using world = await startWorld({
    brokers: kafka.brokers,
    racks: 2,
    args: ["--partitions", "2"],
  });
  const [east, west] = world.racks as [typeof world.racks[0], typeof world.racks[0]];
  // Keys of both partitions (their slots' halves).
  await writeKeys(east.pylon.port, "kept", 100);
  await waitSamePosition(world.racks);
  const replies = [
    ...await flushFromScripts(east.pylon.port),
    ...await flushFromScripts(west.pylon.port),
  ];
  await waitSamePosition(world.racks);
  const [eastRedis, westRedis] = [await world.master(east), await world.master(west)];
  for (const redis of [eastRedis, westRedis]) {
    const kept = (await redisKeys(redis, 0)).size;
    assert.equal(kept, 100, `port ${redis.port} keeps its keys: ${replies}`);
  }
  assertRefused(replies, OTHER_PARTITIONS);
  assert.equal(await assertSameData(eastRedis, westRedis, [0], "after the scripts"), 100);
  console.log(`scripts test: ${Math.round((performance.now() - started) / 1000)} s`);
});
