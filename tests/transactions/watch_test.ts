/**
 * WATCH made world-wide: clients on two racks increment one counter with
 * WATCH / GET / MULTI / SET / EXEC (the optimistic pattern redis-py's
 * `transaction()` uses), retrying on a nil EXEC. Every EXEC that commits is
 * one increment and no increment is lost: the counter in every rack's Redis
 * equals the number of committed transactions.
 */

import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { startPylon, startRedis, startWorld, useKafka } from "../harness/mod.ts";
import { waitConverged } from "../world/world.ts";

const CLIENTS_PER_RACK = 10;
const INCREMENTS = 5;

async function incrementWithWatch(client: Redis, key: string): Promise<{ retries: number }> {
  for (let attempt = 0; attempt < 200; attempt++) {
    await client.watch(key);
    const value = Number(await client.get(key) ?? 0);
    const result = await client.multi().set(key, String(value + 1)).exec();
    if (result !== null) return { retries: attempt };
  }
  throw new Error("200 attempts aborted");
}

Deno.test("WATCH on two racks: 20 clients, every committed increment counted, none lost", async () => {
  await using kafka = await useKafka();
  await using world = await startWorld({ brokers: kafka.brokers, racks: 2 });
  const clients = world.racks.flatMap((rack) =>
    Array.from(
      { length: CLIENTS_PER_RACK },
      () => new Redis({ port: rack.pylon.port, lazyConnect: true, maxRetriesPerRequest: 0 }),
    )
  );
  await Promise.all(clients.map((c) => c.connect()));
  let retries = 0;
  try {
    await Promise.all(clients.map(async (client) => {
      for (let i = 0; i < INCREMENTS; i++) {
        retries += (await incrementWithWatch(client, "ctr")).retries;
      }
    }));
  } finally {
    for (const client of clients) client.disconnect();
  }
  await waitConverged(world.racks);
  const expected = String(clients.length * INCREMENTS);
  for (const rack of world.racks) {
    const master = await world.master(rack);
    assert.equal(await master.call("GET", "ctr"), expected, `rack ${rack.name}'s Redis`);
  }
  console.log(
    `watch: ${expected} increments committed from 2 racks, ${retries} EXECs aborted and retried`,
  );
  assert.ok(retries > 0, "contention made some EXECs abort");
});

Deno.test("WATCH as Redis answers it on one node: abort on change, UNWATCH, inside MULTI, RESET", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({ redis: { url: redis.url } });
  await pylon.waitApplying();
  const a = new Redis({ port: pylon.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  const b = new Redis({ port: pylon.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  await a.connect();
  await b.connect();
  try {
    await a.set("k", "1");
    // Changed by another client after WATCH: EXEC aborts, nothing applied.
    assert.equal(await a.watch("k"), "OK");
    await b.set("k", "2");
    assert.equal(await a.multi().set("k", "3").set("other", "x").exec(), null);
    assert.equal(await redis.call("GET", "k"), "2");
    assert.equal(await redis.call("EXISTS", "other"), "0");
    // Unchanged: it commits; a watched key changed in another db does not count.
    await a.watch("k");
    await b.select(1);
    await b.set("k", "elsewhere");
    assert.deepEqual(await a.multi().set("k", "4").exec(), [[null, "OK"]]);
    // UNWATCH forgets.
    await a.watch("k");
    await b.select(0);
    await b.set("k", "5");
    await a.unwatch();
    assert.deepEqual(await a.multi().get("k").exec(), [[null, "5"]]);
    // EXEC ends the watch: a later change does not abort the next transaction.
    await b.set("k", "6");
    assert.deepEqual(await a.multi().get("k").exec(), [[null, "6"]]);
    // WATCH inside MULTI is an error, and EXEC still runs (as in Redis).
    const raw = await a.call("MULTI");
    assert.equal(raw, "OK");
    await assert.rejects(a.call("WATCH", "k"), /WATCH inside MULTI is not allowed/);
    assert.equal(await a.call("SET", "k", "7"), "QUEUED");
    assert.deepEqual(await a.call("EXEC"), ["OK"]);
    // RESET forgets the watch.
    await a.watch("k");
    await b.set("k", "8");
    assert.equal(await a.call("RESET"), "RESET");
    assert.deepEqual(await a.multi().get("k").exec(), [[null, "8"]]);
  } finally {
    a.disconnect();
    b.disconnect();
  }
});
