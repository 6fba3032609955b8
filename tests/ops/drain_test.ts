/**
 * SIGTERM drains: no new connections or requests, every request taken gets its
 * reply (a write: applied, or its deadline), then the node exits — bounded.
 * Checked against Redis itself: every write applied was answered.
 */

import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { encodeCommand } from "../../src/resp/encoder.ts";
import { RawClient, startPylon, startRedis, waitFor } from "../harness/mod.ts";

Deno.test("SIGTERM during 5,000 pipelined SETs: every applied write is answered, then a clean exit", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({ redis: { url: redis.url } });
  await using client = await RawClient.connect(pylon.port);
  const parts = Array.from({ length: 5_000 }, (_, i) => encodeCommand(["SET", `k${i}`, "v"]));
  const stream = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    stream.set(p, at);
    at += p.length;
  }
  const sending = client.send(stream).catch(() => {});
  const first = await client.read();
  assert.deepEqual(first, { type: "simple", value: "OK" });
  const signalledAt = performance.now();
  pylon.service.signal("SIGTERM");
  const rest = await client.readUntilClosed(30_000);
  await sending;
  const { code, log } = await pylon.exit(30_000);
  const exitMs = performance.now() - signalledAt;
  assert.equal(code, 0, log);
  assert.match(log, /draining/);

  const replies = [first, ...rest];
  const errors = replies.filter((r) => r.type !== "simple");
  assert.deepEqual(errors, [], "no write was refused or cut off");
  // Replies come in request order: k0 .. k(n-1) were answered, and exactly those are in Redis.
  const direct = new Redis({ port: redis.port, lazyConnect: true });
  await direct.connect();
  try {
    const keys = (await direct.keys("k*")).length;
    assert.equal(keys, replies.length, `${replies.length} answered, ${keys} applied in Redis`);
    assert.equal(
      await direct.exists(`k${replies.length}`),
      0,
      "the first unanswered was not applied",
    );
  } finally {
    direct.disconnect();
  }
  console.log(
    `drain: ${replies.length} of 5000 taken and answered; exit ${
      exitMs.toFixed(0)
    } ms after SIGTERM`,
  );
  assert.ok(exitMs < 15_000, "bounded by the drain timeout");
});

Deno.test("a second signal during a drain exits at once", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({
    redis: { url: redis.url },
    args: ["--drain-timeout-ms", "60000"],
  });
  // A write Redis cannot answer (it is stopped): the drain waits for its reply or deadline.
  await using client = await RawClient.connect(pylon.port);
  redis.service.pause();
  await client.send(encodeCommand(["SET", "held", "1"]));
  await waitFor(
    "the write to be taken",
    async () => (await pylon.info()).get("writes_waiting") === "1" || undefined,
  );
  pylon.service.signal("SIGTERM");
  await pylon.waitForLog(/draining/);
  const started = performance.now();
  // Copies of the first signal within a second are not a second one: signal until it exits.
  let status: Deno.CommandStatus | undefined;
  while (status === undefined && performance.now() - started < 10_000) {
    pylon.service.signal("SIGTERM");
    status = await Promise.race([
      pylon.service.exited,
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 250)),
    ]);
  }
  assert.equal(status?.code, 1, "not a clean stop");
  assert.ok(performance.now() - started < 5_000, "well before the 60 s drain timeout");
  redis.service.resume();
});
