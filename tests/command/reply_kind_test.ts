/**
 * Reply kinds against a real Redis: a write routed `constant` must get the
 * same OK whatever the data; one routed `data` because of its arguments must
 * get a reply that is not that OK, in some state.
 */

import assert from "node:assert/strict";
import { startRedis } from "../harness/mod.ts";
import { route } from "../../src/command/mod.ts";
import type { RespValue } from "../../src/resp/value.ts";
import { argv, connect, text } from "./resp3.ts";
import type { RedisClient } from "../../src/redis/client.ts";

/** Data states a write may meet: nothing, wrong types, values with expiries. */
const STATES: string[][][] = [
  [],
  [["RPUSH", "k", "x"], ["HSET", "k2", "f", "v"]],
  [["SET", "k", "old", "EX", "100"], ["SADD", "k2", "m"]],
  [["ZADD", "k", "1", "m"], ["SET", "k2", "v"]],
];

async function inState(
  client: RedisClient,
  state: string[][],
  request: string[],
): Promise<RespValue> {
  await client.call("FLUSHALL");
  for (const setup of state) await client.call(...setup);
  return await client.call(...request);
}

const future = String(Date.now() + 3_600_000);

const CONSTANT: string[][] = [
  ["SET", "k", "v"],
  ["SET", "k", "v", "EX", "10"],
  ["SET", "k", "v", "PX", "1500"],
  ["SET", "k", "v", "PXAT", future],
  ["SET", "k", "v", "KEEPTTL"],
  ["MSET", "k", "1", "k2", "2"],
  ["SETEX", "k", "10", "v"],
  ["PSETEX", "k", "100", "v"],
  ["FLUSHDB"],
  ["FLUSHDB", "ASYNC"],
  ["FLUSHALL", "SYNC"],
];

const DATA: string[][] = [
  ["SET", "k", "v", "NX"],
  ["SET", "k", "v", "XX"],
  ["SET", "k", "v", "GET"],
  ["SET", "k", "v", "EX", "0"],
  ["SET", "k", "v", "EX", "10", "PX", "10"],
  ["SET", "k", "v", "BOGUS"],
  ["MSET", "k", "1", "k2"],
  ["SETEX", "k", "-1", "v"],
  ["FLUSHDB", "LATER"],
  ["INCR", "k"],
  ["LPUSH", "k", "x"],
  ["GETSET", "k", "v"],
];

Deno.test("writes routed 'constant' reply OK in every data state", async () => {
  await using redis = await startRedis();
  using client = await connect(redis.port, 3);
  for (const request of CONSTANT) {
    const routed = route(argv(...request));
    assert.deepEqual(
      routed.kind === "write" ? routed.reply : routed.kind,
      "constant",
      request.join(" "),
    );
    for (const state of STATES) {
      const reply = await inState(client, state, request);
      assert.deepEqual(
        reply,
        { type: "simple", value: "OK" },
        `${request.join(" ")}: ${text(reply)}`,
      );
    }
  }
});

Deno.test("writes routed 'data' reply something other than OK in some state", async () => {
  await using redis = await startRedis();
  using client = await connect(redis.port, 3);
  for (const request of DATA) {
    const routed = route(argv(...request));
    assert.deepEqual(
      routed.kind === "write" ? routed.reply : routed.kind,
      "data",
      request.join(" "),
    );
    const replies = [];
    for (const state of STATES) replies.push(await inState(client, state, request));
    assert.ok(
      replies.some((reply) => reply.type !== "simple" || reply.value !== "OK"),
      request.join(" "),
    );
  }
});
