/**
 * The sweeper on a real Redis: keys whose shifted expiry the log time has
 * passed are handed to Redis's own expiry (and go with its keyspace event
 * `expired`); keys alive in log terms, and keys without an expiry, stay; it
 * stops at once.
 */

import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { startRedis, waitFor } from "../harness/mod.ts";
import { Sweeper } from "../../src/applier/sweeper.ts";
import { EXPIRY_SHIFT_MS } from "../../src/determinism/expiry.ts";
import { PipelineConnection } from "../../src/redis/pipeline_connection.ts";

Deno.test("the sweeper hands keys the log has expired to Redis's own expiry, and nothing else", async () => {
  await using redis = await startRedis({ config: { "notify-keyspace-events": "Ex" } });
  const client = new Redis({ port: redis.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  const events = new Redis({ port: redis.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  await Promise.all([client.connect(), events.connect()]);
  const expired: string[] = [];
  events.on("message", (_channel: string, key: string) => expired.push(key));
  await events.subscribe("__keyevent@0__:expired");
  const logTime = 1_800_000_000_000;
  for (let i = 0; i < 500; i++) {
    await client.set(`due:${i}`, "v");
    await client.call("PEXPIREAT", `due:${i}`, String(EXPIRY_SHIFT_MS + logTime - 1 - i));
    await client.set(`later:${i}`, "v");
    await client.call("PEXPIREAT", `later:${i}`, String(EXPIRY_SHIFT_MS + logTime + 60_000));
    await client.set(`kept:${i}`, "v");
  }
  await client.select(3);
  await client.set("due:db3", "v");
  await client.call("PEXPIREAT", "due:db3", String(EXPIRY_SHIFT_MS + logTime - 5));
  const sweeper = new Sweeper({
    address: () => ({ host: "127.0.0.1", port: redis.port }),
    connect: (address) => PipelineConnection.connect(address, {}),
    dbs: () => [0, 3],
    logTime: () => logTime,
  });
  sweeper.start();
  try {
    await waitFor("the due keys to be gone", async () => {
      await client.select(0);
      const left = await client.keys("due:*");
      await client.select(3);
      const left3 = await client.keys("due:*");
      return left.length === 0 && left3.length === 0 ? true : undefined;
    }, { timeoutMs: 30_000 });
    await client.select(0);
    assert.equal((await client.keys("later:*")).length, 500, "alive in log terms: kept");
    assert.equal((await client.keys("kept:*")).length, 500, "no expiry: kept");
    const config = await client.call("CONFIG", "GET", "notify-keyspace-events");
    await waitFor(
      "Redis's expired events",
      () => expired.length >= 500 ? true : undefined,
      {
        context: async () =>
          `${expired.length} so far; ${config}; ${await redis.call("INFO", "stats")}`,
      },
    );
    assert.ok(expired.every((key) => key.startsWith("due:")));
    assert.ok(sweeper.stats().swept >= 501);
  } finally {
    const stopping = performance.now();
    await sweeper.stop();
    assert.ok(performance.now() - stopping < 2_000, "stops at once");
    client.disconnect();
    events.disconnect();
  }
});
