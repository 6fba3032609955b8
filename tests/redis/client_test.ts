/** Pylon's own Redis client against a real Redis. */

import assert from "node:assert/strict";
import { RedisClient, ReplyError } from "../../src/redis/client.ts";
import { ConnectionError } from "../../src/redis/connect.ts";
import { startRedis } from "../harness/mod.ts";

Deno.test("RedisClient pipelines calls, reads replies that span many reads, and returns error replies", async () => {
  await using redis = await startRedis();
  using client = await RedisClient.connect({ host: redis.host, port: redis.port });
  const big = "x".repeat(300_000);
  const [set, get, missing] = await Promise.all([
    client.call("SET", "big", big),
    client.call("GET", "big"),
    client.call("GET", "missing"),
  ]);
  assert.deepEqual(set, { type: "simple", value: "OK" });
  assert.equal(get.type === "bulk" ? get.value?.length : 0, big.length);
  assert.deepEqual(missing, { type: "bulk", value: null });
  assert.deepEqual(await client.call("NOSUCH"), {
    type: "error",
    value: "ERR unknown command 'NOSUCH', with args beginning with: ",
  });
  await assert.rejects(client.command("NOSUCH"), ReplyError);
  await client.call("HELLO", "3");
  assert.deepEqual(await client.call("GET", "missing"), { type: "null" });
});

Deno.test("RedisClient fails pending calls when the server goes away", async () => {
  await using redis = await startRedis();
  using client = await RedisClient.connect({ host: redis.host, port: redis.port });
  const closed = new Promise<ConnectionError>((resolve) => client.onClose(resolve));
  const blocked = assert.rejects(client.call("DEBUG", "SLEEP", "5"), ConnectionError);
  await redis.kill();
  await blocked;
  assert.ok((await closed) instanceof ConnectionError);
  await assert.rejects(client.call("PING"), ConnectionError);
});

Deno.test("RedisClient.connect() fails clearly when nothing listens", async () => {
  await using redis = await startRedis();
  const port = redis.port;
  await redis.stop();
  await assert.rejects(
    RedisClient.connect({ host: "127.0.0.1", port }),
    /127\.0\.0\.1:\d+: .*(refused|ECONNREFUSED)/i,
  );
});
