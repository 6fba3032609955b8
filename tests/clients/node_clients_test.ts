/**
 * node-redis and ioredis, unmodified, on two racks: what an application
 * written for one Redis does with them — subscribe, scripts (EVAL, EVALSHA
 * through ioredis's defineCommand, node-redis's scripts), WATCH/MULTI — works
 * across racks, checked in every rack's Redis.
 */

import assert from "node:assert/strict";
import { createClient } from "redis";
import { Redis } from "ioredis";
import { startWorld, useKafka, waitFor } from "../harness/mod.ts";
import { waitConverged } from "../world/world.ts";

Deno.test("node-redis and ioredis on two racks: subscribe, EVAL/EVALSHA/defineCommand, WATCH/MULTI", async () => {
  await using kafka = await useKafka();
  await using world = await startWorld({ brokers: kafka.brokers, racks: 2 });
  const [a, b] = world.racks as [typeof world.racks[0], typeof world.racks[0]];
  const node = createClient({ socket: { port: a.pylon.port } });
  const nodeSubscriber = node.duplicate();
  const io = new Redis({ port: b.pylon.port, maxRetriesPerRequest: 0 });
  await node.connect();
  await nodeSubscriber.connect();
  try {
    // node-redis subscribed on rack A; ioredis publishes on rack B.
    const received: string[] = [];
    await nodeSubscriber.subscribe("events", (message) => {
      received.push(message);
    });
    for (let i = 0; i < 5; i++) await io.publish("events", `e-${i}`);
    await waitFor(
      "node-redis to receive 5 messages",
      () => received.length >= 5 ? true : undefined,
    );
    assert.deepEqual(received, ["e-0", "e-1", "e-2", "e-3", "e-4"]);

    // Scripts: node-redis EVAL on rack A, ioredis defineCommand (EVALSHA, then EVAL on NOSCRIPT) on B.
    assert.equal(
      await node.eval("return redis.call('INCRBY', KEYS[1], ARGV[1])", {
        keys: ["score"],
        arguments: ["5"],
      }),
      5,
    );
    io.defineCommand("addScore", {
      numberOfKeys: 1,
      lua: "return redis.call('INCRBY', KEYS[1], ARGV[1])",
    });
    const withScript = io as unknown as { addScore(key: string, by: number): Promise<number> };
    assert.equal(await withScript.addScore("score", 2), 7);
    assert.equal(await withScript.addScore("score", 3), 10);

    // WATCH/MULTI with node-redis: a change from the other rack aborts it.
    await node.watch("balance");
    await io.set("balance", "100");
    await assert.rejects(node.multi().set("balance", "0").exec(), /watched keys has been changed/);
    await node.watch("balance");
    const balance = Number(await node.get("balance"));
    assert.deepEqual(await node.multi().set("balance", String(balance - 30)).exec(), ["OK"]);
  } finally {
    await nodeSubscriber.quit().catch(() => undefined);
    await node.quit().catch(() => undefined);
    io.disconnect();
  }
  await waitConverged(world.racks);
  for (const rack of world.racks) {
    const master = await world.master(rack);
    assert.equal(await master.call("GET", "score"), "10", `rack ${rack.name}`);
    assert.equal(await master.call("GET", "balance"), "70", `rack ${rack.name}`);
  }
});
