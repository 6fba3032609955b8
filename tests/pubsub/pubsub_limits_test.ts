/**
 * Subscribers as an adversary uses them: one that never reads is closed at
 * the output limit (the node's memory, read from /proc, stays bounded, and a
 * reading subscriber misses nothing); the number of subscribed clients, each
 * holding a connection to the rack's Redis, is capped; clients that subscribe
 * and vanish leave no connection behind on the rack's Redis.
 */

import assert from "node:assert/strict";
import { rss } from "../harness/proc.ts";
import { encodeCommand } from "../../src/resp/encoder.ts";
import { RawClient, startPylon, startRedis, waitFor } from "../harness/mod.ts";

const MiB = 1024 * 1024;

/** Subscribed connections on the rack's Redis (Pylon's own, one per subscribed client). */
async function subscribedOnRedis(redis: { call(...args: string[]): Promise<string> }) {
  const clients = await redis.call("CLIENT", "LIST");
  return clients.split("\n").filter((line) => / flags=P /.test(line)).length;
}

Deno.test("a subscriber that never reads is closed at its output limit; memory stays bounded; readers miss nothing", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({
    redis: { url: redis.url },
    args: ["--client-output-buffer-limit", "1mb"],
  });
  await using stuck = await RawClient.connect(pylon.port);
  await using reader = await RawClient.connect(pylon.port);
  for (const client of [stuck, reader]) {
    await client.send(encodeCommand(["SUBSCRIBE", "big"]));
    await client.read();
  }
  const before = rss(pylon.service.pid);
  let peak = before;
  await using publisher = await RawClient.connect(pylon.port);
  const payload = "x".repeat(64 * 1024);
  const COUNT = 200;
  const received = (async () => {
    let count = 0;
    while (count < COUNT) {
      const message = await reader.read(60_000);
      if (message.type === "array") count++;
    }
    return count;
  })();
  for (let i = 0; i < COUNT; i++) {
    await publisher.send(encodeCommand(["PUBLISH", "big", payload]));
    await publisher.read(30_000);
    if (i % 20 === 0) peak = Math.max(peak, rss(pylon.service.pid));
  }
  assert.equal(await received, COUNT, "the reading subscriber got every message");
  // The one that never read was closed; what it can still read ends with the close.
  const leftovers = await stuck.readUntilClosed(30_000);
  assert.ok(leftovers.length < COUNT, `closed before all ${COUNT} messages: ${leftovers.length}`);
  await waitFor(
    "the stuck subscriber's connection to the rack's Redis to close",
    async () => await subscribedOnRedis(redis) === 1 ? true : undefined,
  );
  peak = Math.max(peak, rss(pylon.service.pid));
  console.log(
    `slow subscriber: ${COUNT} × 64 KiB published; closed after ${leftovers.length} messages; ` +
      `RSS ${Math.round(before / MiB)} -> peak ${Math.round(peak / MiB)} MiB`,
  );
  assert.ok(peak - before < 200 * MiB, `RSS grew by ${Math.round((peak - before) / MiB)} MiB`);
});

Deno.test("subscribed clients are capped; those that vanish leave no connection on the rack's Redis", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({
    redis: { url: redis.url },
    args: ["--max-subscribers", "3"],
  });
  // Fifty clients subscribe and vanish without a word.
  for (let i = 0; i < 50; i++) {
    const client = await RawClient.connect(pylon.port);
    await client.send(encodeCommand(["SUBSCRIBE", `ch-${i}`]));
    await client.read();
    client.close();
  }
  await waitFor(
    "every subscribed connection on the rack's Redis to close",
    async () => await subscribedOnRedis(redis) === 0 ? true : undefined,
  );
  const clients = await Promise.all([0, 1, 2, 3].map(() => RawClient.connect(pylon.port)));
  try {
    const replies = [];
    for (const client of clients) {
      await client.send(encodeCommand(["SUBSCRIBE", "ch"]));
      replies.push(await client.read());
    }
    assert.deepEqual(replies.slice(0, 3).map((r) => r.type), ["array", "array", "array"]);
    assert.equal(replies[3]!.type, "error");
    assert.match(JSON.stringify(replies[3]), /max-subscribers/);
    // One leaves subscribe mode: its place is free again.
    await clients[0]!.send(encodeCommand(["UNSUBSCRIBE"]));
    await clients[0]!.read();
    await clients[3]!.send(encodeCommand(["SUBSCRIBE", "ch"]));
    assert.equal((await clients[3]!.read()).type, "array");
  } finally {
    for (const client of clients) client.close();
  }
});
