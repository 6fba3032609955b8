/**
 * With several partitions, each is applied at its own pace on each rack: a
 * script that read or wrote another partition's keys would meet them at a
 * point that differs per rack. The wrapper keeps a script to its op's
 * partition (given with the op's budget), on a real Redis: keys it does not
 * declare are fine in the same partition, refused in another, and commands
 * that read or change every partition are refused, alike on every rack.
 */

import assert from "node:assert/strict";
import { startRedis } from "../harness/mod.ts";
import { wrapEval } from "../../src/determinism/prologue.ts";
import { keyHashSlot, slotPartition } from "../../src/command/mod.ts";
import { FrameClient, text } from "./racks.ts";

const encoder = new TextEncoder();

/** The first key `prefix<n>` in partition `partition` of `count`. */
function keyIn(prefix: string, partition: number, count: number): string {
  for (let n = 0; n < 10_000; n++) {
    const key = `${prefix}${n}`;
    if (slotPartition(keyHashSlot(encoder.encode(key)), count) === partition) return key;
  }
  throw new Error("no key found");
}

Deno.test("a script keeps to its op's partition when the log has several", async () => {
  await using server = await startRedis();
  await using client = await FrameClient.connect(server.port);
  const own = keyIn("own", 1, 2);
  const sameUndeclared = keyIn("same", 1, 2);
  const other = keyIn("other", 0, 2);
  await client.call("SET", other, "untouched");
  const run = async (partitions: { own: number; count: number } | undefined, body: string) =>
    text(
      await client.call(
        ...wrapEval(["EVAL", body, "1", own].map((arg) => encoder.encode(arg)), {
          logTimeMs: Date.now(),
          seed: "7",
          partitions,
        }),
      ),
    );
  const inOwn = { own: 1, count: 2 };
  assert.equal(await run(inOwn, `return redis.call('SET', '${sameUndeclared}', 'v')`), "+OK␍␊");
  assert.equal(await run(inOwn, "return redis.call('INCR', KEYS[1])"), ":1␍␊");
  assert.equal(await run(inOwn, `return redis.call('SET', 'x{${own}}', 'v')`), "+OK␍␊");
  for (
    const [body, why] of ([
      [`return redis.call('SET', '${other}', 'v')`, `key "${other}" is in partition 0`],
      [`return redis.call('GET', '${other}')`, `key "${other}" is in partition 0`],
      [`return redis.call('MSET', KEYS[1], 'a', '${other}', 'b')`, "is in partition 0"],
      [`return redis.call('ZUNIONSTORE', KEYS[1], 1, '${other}')`, "is in partition 0"],
      // A hash tag places a key by its tag, as on Redis Cluster.
      [`return redis.call('SET', 'z{${other}}', 'v')`, "is in partition 0"],
      ["return redis.call('KEYS', '*')", "keys reads or changes every partition"],
      ["return redis.call('SCAN', 0)", "scan reads or changes every partition"],
      ["return redis.call('SORT', KEYS[1], 'BY', 'w_*')", "SORT reads other keys"],
    ] as const)
  ) {
    const reply = await run(inOwn, body);
    assert.match(
      reply,
      /^-ERR Pylon: this log has 2 partitions and this script runs in partition 1/,
      body,
    );
    assert.ok(reply.includes(why), `${body}: ${reply}`);
  }
  assert.equal(text(await client.call("GET", other)), "$9␍␊untouched␍␊", "nothing written there");
  // One partition: every key is the op's.
  assert.equal(await run(undefined, `return redis.call('SET', '${other}', 'w')`), "+OK␍␊");
  assert.equal(await run({ own: 0, count: 1 }, "return #redis.call('KEYS', '*')"), ":4␍␊");
});
