/** Real clients read every data type through a Pylon process in front of a real Redis. */

import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { RawClient, redisCli, startPylon, startRedis } from "../harness/mod.ts";

const BINARY_KEY = new Uint8Array([0, 255, 13, 10, 36, 42, 0x80]);
const BINARY_VALUE = Uint8Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) & 0xff);

async function seed(port: number): Promise<void> {
  const direct = new Redis({ port, lazyConnect: true });
  await direct.connect();
  try {
    await direct.set("str", "hello");
    await direct.hset("hash", { f1: "v1", f2: "v2" });
    await direct.rpush("list", "a", "b", "c");
    await direct.sadd("set", "x", "y", "z");
    await direct.zadd("zset", 1, "one", 2, "two", 3.5, "three");
    await direct.set(Buffer.from(BINARY_KEY), Buffer.from(BINARY_VALUE));
    await direct.select(3);
    await direct.set("in-db-3", "three");
  } finally {
    direct.disconnect();
  }
}

Deno.test("ioredis (RESP2) reads strings, hashes, lists, sets, sorted sets and binary data through Pylon", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({
    redis: { url: redis.url },
    seed: () => seed(redis.port),
  });
  const client = new Redis({ port: pylon.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  await client.connect();
  try {
    assert.equal(await client.get("str"), "hello");
    assert.equal(await client.strlen("str"), 5);
    assert.equal(await client.get("missing"), null);
    assert.deepEqual(await client.hgetall("hash"), { f1: "v1", f2: "v2" });
    assert.equal(await client.hget("hash", "f2"), "v2");
    assert.deepEqual(await client.lrange("list", 0, -1), ["a", "b", "c"]);
    assert.equal(await client.lindex("list", -1), "c");
    assert.deepEqual((await client.smembers("set")).sort(), ["x", "y", "z"]);
    assert.equal(await client.sismember("set", "y"), 1);
    assert.deepEqual(await client.zrange("zset", 0, -1, "WITHSCORES"), [
      "one",
      "1",
      "two",
      "2",
      "three",
      "3.5",
    ]);
    assert.equal(await client.zscore("zset", "three"), "3.5");
    assert.deepEqual(await client.getBuffer(Buffer.from(BINARY_KEY)), Buffer.from(BINARY_VALUE));
    assert.equal(await client.type("zset"), "zset");
    assert.equal(await client.exists("str", "hash", "nope"), 2);

    // SELECT is honoured: the read runs in the chosen db.
    assert.equal(await client.get("in-db-3"), null);
    await client.select(3);
    assert.equal(await client.get("in-db-3"), "three");
    await client.select(0);

    // Errors from Redis pass through unchanged.
    await assert.rejects(
      client.lrange("str", 0, -1),
      /^ReplyError: WRONGTYPE Operation against a key holding/,
    );
    // A write goes through the log, and the same connection reads it back.
    assert.equal(await client.set("str", "changed"), "OK");
    assert.equal(await client.get("str"), "changed");
    assert.equal(await redis.call("GET", "str"), "changed");
  } finally {
    client.disconnect();
  }
});

Deno.test("redis-cli reads through Pylon in RESP2 and RESP3", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({
    redis: { url: redis.url },
    seed: () => seed(redis.port),
  });
  assert.equal(await redisCli(pylon.port, ["GET", "str"]), "hello");
  assert.equal(await redisCli(pylon.port, ["HGET", "hash", "f1"]), "v1");
  assert.equal(await redisCli(pylon.port, ["LRANGE", "list", "0", "-1"]), "a\nb\nc");
  assert.equal(await redisCli(pylon.port, ["-3", "ZSCORE", "zset", "three"]), "3.5");
  assert.equal(await redisCli(pylon.port, ["-3", "HGET", "hash", "f2"]), "v2");
  assert.equal(await redisCli(pylon.port, ["-n", "3", "GET", "in-db-3"]), "three");
});

Deno.test("after HELLO 3 replies come from Redis in RESP3, byte for byte", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({
    redis: { url: redis.url },
    seed: () => seed(redis.port),
  });
  await using client = await RawClient.connect(pylon.port);
  await client.command("HELLO", "3");
  const hello = await client.read();
  assert.equal(hello.type, "map");
  await client.command("HGETALL", "hash");
  const reply = await client.read();
  assert.equal(reply.type, "map", "HGETALL is a map in RESP3");
  await client.command("ZSCORE", "zset", "three");
  assert.deepEqual(await client.read(), { type: "double", value: 3.5 });
  await client.command("SMEMBERS", "set");
  assert.equal((await client.read()).type, "set");
  await client.command("GET", "missing");
  assert.deepEqual(await client.read(), { type: "null" });

  // Pylon's replies and Redis's are the same bytes.
  await using direct = await RawClient.connect(redis.port);
  await direct.command("HELLO", "3");
  await direct.read();
  for (
    const argv of [["HGETALL", "hash"], ["ZRANGE", "zset", "0", "-1", "WITHSCORES"], [
      "LRANGE",
      "list",
      "0",
      "-1",
    ]]
  ) {
    await client.command(...argv);
    await direct.command(...argv);
    assert.deepEqual(await client.read(), await direct.read(), argv.join(" "));
  }
});
