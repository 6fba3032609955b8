/**
 * The embedded log's retention against a real node: while the rack's Redis is
 * stopped nothing it has not applied is removed, however far past its bounds
 * the log grows; once it has applied them, old segments go, and the node
 * restarts on the trimmed log. Checked in Redis itself.
 */

import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { startPylon, startRedis, waitFor } from "../harness/mod.ts";

const WRITES = 1_000;

Deno.test("retention frees space and never drops an op the rack has not applied", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({
    redis: { url: redis.url },
    args: ["--log-segment-bytes", "4kb", "--log-retention-bytes", "16kb", "--ack-log", "set"],
  });
  await pylon.waitApplying();
  const client = new Redis({ port: pylon.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  await client.connect();
  try {
    redis.service.pause();
    // Answered once logged (ack-log): the log grows while the rack applies nothing.
    const pipe = client.pipeline();
    for (let i = 0; i < WRITES; i++) pipe.set(`r${i}`, "x".repeat(32));
    for (const [error] of (await pipe.exec())!) assert.equal(error, null);
    const info = async () => await pylon.info();
    const logged = await info();
    assert.ok(Number(logged.get("log_bytes")) > 64 * 1024, `log_bytes ${logged.get("log_bytes")}`);
    // Across more than one retention pass (every 5 s): the start never passes what was applied.
    const watchUntil = performance.now() + 7_000;
    while (performance.now() < watchUntil) {
      const now = await info();
      const start = Number(now.get("partition_0_log_start"));
      const applied = Number(now.get("partition_0_applied") ?? 0);
      assert.ok(start <= applied, `log start ${start} passed the applied position ${applied}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    redis.service.resume();
    await waitFor(
      "the rack to apply everything",
      async () => (await info()).get("partition_0_lag_ops") === "0" || undefined,
      { timeoutMs: 60_000 },
    );
    // The segment being written is never removed: a write past its size starts the next one.
    assert.equal(await client.set("roll", "1"), "OK");
    const trimmed = await waitFor("retention to remove applied segments", async () => {
      const now = await info();
      return Number(now.get("partition_0_log_start")) > 0 ? now : undefined;
    }, {
      timeoutMs: 30_000,
      context: async () =>
        JSON.stringify(
          [...(await info())].filter(([k]) => /log|ignored|retention|partition_0/.test(k)),
        ),
    });
    assert.ok(Number(trimmed.get("log_bytes")) <= 16 * 1024 + 4 * 1024 + 512);
    assert.ok(Number(trimmed.get("log_retention_freed_bytes")) > 0);
  } finally {
    client.disconnect();
  }
  // Every write is in Redis, and the node starts again on the trimmed log.
  const direct = new Redis({ port: redis.port, lazyConnect: true });
  await direct.connect();
  try {
    assert.equal((await direct.keys("r[0-9]*")).length, WRITES);
  } finally {
    direct.disconnect();
  }
  await pylon.restart();
  assert.equal(await pylon.call("SET", "after-restart", "1"), "OK");
  assert.equal(await redis.call("GET", "after-restart"), "1");
});
