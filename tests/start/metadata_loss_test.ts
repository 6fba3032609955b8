/**
 * Pylon's metadata lost under a running node: never a replay onto data that
 * survived. FLUSHALL through Pylon is an op and keeps the metadata;
 * FLUSHALL behind Pylon's back empties everything, so the rack is rebuilt from
 * the log; FLUSHDB of the metadata db alone leaves data with no position, so
 * the node stops refused instead of applying the log a second time.
 */

import assert from "node:assert/strict";
import { startPylon, startRedis } from "../harness/mod.ts";

Deno.test("FLUSHALL through Pylon keeps its metadata: the node restarts and carries on", async () => {
  await using redis = await startRedis({ appendonly: "always" });
  await using pylon = await startPylon({ redis: { url: redis.url } });
  assert.equal(await pylon.call("INCR", "counter"), "1");
  assert.equal(await pylon.call("FLUSHALL"), "OK");
  assert.equal(await pylon.call("INCR", "counter"), "1");
  await pylon.kill();
  await using again = await pylon.startAgain();
  assert.equal(await again.call("INCR", "counter"), "2");
  assert.equal(await redis.call("GET", "counter"), "2");
});

Deno.test("FLUSHALL behind Pylon's back: the rack is rebuilt from the log, counters exact", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({ redis: { url: redis.url } });
  for (let i = 1; i <= 3; i++) assert.equal(await pylon.call("INCR", "counter"), String(i));
  assert.equal(await redis.call("FLUSHALL"), "OK");
  assert.equal(await pylon.call("INCR", "counter"), "4");
  assert.equal(await redis.call("GET", "counter"), "4");
});

Deno.test("FLUSHDB of the metadata db behind Pylon's back stops the node; nothing is applied twice", async () => {
  await using redis = await startRedis({ appendonly: "always" });
  await using pylon = await startPylon({ redis: { url: redis.url } });
  for (let i = 1; i <= 3; i++) assert.equal(await pylon.call("INCR", "counter"), String(i));
  assert.equal(await redis.call("-n", "15", "FLUSHDB"), "OK");
  // The next write finds the position gone: the node checks the Redis again and refuses it.
  await pylon.call("INCR", "counter").catch(() => "connection lost");
  const { code, log } = await pylon.exit();
  assert.equal(code, 78, log);
  assert.match(log, /holds data \(in db 0\) but no Pylon marker/);
  assert.equal(await redis.call("GET", "counter"), "3");
});
