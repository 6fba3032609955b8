/**
 * Read-only scripts cannot reach Pylon's metadata: they run on the rack's
 * Redis as a restricted user that may not SELECT, so the EVAL_RO that listed
 * `pylon:applied:0` is refused by Redis itself, while ordinary read-only
 * scripts and functions give Redis's own replies, in RESP2 and RESP3.
 */

import assert from "node:assert/strict";
import { RawClient, startPylon, startRedis } from "../harness/mod.ts";

Deno.test("scripts cannot select Pylon's metadata db; ordinary read-only scripts and functions work", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({
    redis: { url: redis.url },
    seed: async () => {
      await redis.call("-n", "3", "SET", "k", "three");
      await redis.call(
        "FUNCTION",
        "LOAD",
        "#!lua name=lib\nredis.register_function{function_name='getk', callback=function(keys) " +
          "return redis.call('GET', keys[1]) end, flags={'no-writes'}}",
      );
    },
  });
  await using client = await RawClient.connect(pylon.port);
  const stolen = await client.call(
    "EVAL_RO",
    "redis.call('SELECT', 15); return redis.call('KEYS', '*')",
    "0",
  );
  assert.equal(stolen.type, "error");
  assert.match(String((stolen as { value: string }).value), /can't run this command/);
  const sneaky = await client.call("EVAL_RO", "return redis.call('GET', 'pylon:applied:0')", "0");
  assert.deepEqual(sneaky, { type: "bulk", value: null }, "db 0 holds no metadata");

  assert.deepEqual(await client.call("SELECT", "3"), { type: "simple", value: "OK" });
  assert.deepEqual(
    await client.call("EVAL_RO", "return redis.call('GET', KEYS[1])", "1", "k"),
    { type: "bulk", value: new TextEncoder().encode("three") },
  );
  assert.deepEqual(await client.call("FCALL_RO", "getk", "1", "k"), {
    type: "bulk",
    value: new TextEncoder().encode("three"),
  });
  await client.call("HELLO", "3");
  assert.deepEqual(
    await client.call("EVAL_RO", "return {1, 'two', {3}}", "0"),
    {
      type: "array",
      value: [
        { type: "integer", value: 1n },
        { type: "bulk", value: new TextEncoder().encode("two") },
        { type: "array", value: [{ type: "integer", value: 3n }] },
      ],
    },
  );
  // Pylon's own connections were not touched: writes still apply.
  assert.equal(await pylon.call("INCR", "after-scripts"), "1");
});
