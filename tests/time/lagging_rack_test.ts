/**
 * A rack that applies the log long after the others still ends equal to them:
 * west's node is stopped while east takes writes whose outcome depends on
 * time and chance — keys written with short TTLs and incremented around
 * their expiry, `XADD *` ids, `SPOP`, `EXPIRE`, a script reading `TIME` and
 * `SRANDMEMBER` — then started again seconds later, when its Redis's clock
 * says every one of those keys has expired. It applies them at their log
 * time; both racks' Redis, read directly, hold the same keys, values,
 * expiries and streams.
 */

import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { startWorld, useKafka } from "../harness/mod.ts";
import { waitConverged } from "../world/world.ts";
import { differences, logicalKeys } from "./logical.ts";

const KEYS = 300;

Deno.test("a rack that applies seconds late converges exactly: expiries, XADD *, SPOP and scripts decided at log time", async () => {
  await using kafka = await useKafka();
  await using world = await startWorld({ brokers: kafka.brokers, racks: 2 });
  const [east, west] = world.racks as [typeof world.racks[0], typeof world.racks[0]];
  // Both apply first: a new world records its contract for racks' Redis with both nodes up.
  for (const rack of world.racks) await rack.pylon.waitApplying();
  await west!.pylon.stop();
  const viaEast = new Redis({ port: east!.pylon.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  await viaEast.connect();
  try {
    await viaEast.sadd("pool", ...Array.from({ length: 50 }, (_, i) => `m${i}`));
    const started = Date.now();
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < KEYS; i++) {
      await viaEast.set(`lag:${i}`, "100", "PX", 400);
      // Some before the expiry, some after: by west's clock at apply time, all after.
      writes.push(
        new Promise((resolve) => setTimeout(resolve, (i % 10) * 90)).then(() =>
          viaEast.incr(`lag:${i}`)
        ),
      );
      if (i % 3 === 0) await viaEast.expire(`lag:${i}`, 60);
    }
    for (let i = 0; i < 40; i++) {
      await viaEast.xadd("events", "*", "n", String(i));
      await viaEast.spop("pool");
    }
    await viaEast.eval(
      "local t = redis.call('TIME') local m = redis.call('SRANDMEMBER', 'pool', 5) " +
        "redis.call('SET', KEYS[1], t[1] .. ':' .. table.concat(m, ','), 'PX', 200) " +
        "redis.call('RPUSH', KEYS[2], unpack(m)) return m",
      2,
      "lag:script",
      "lag:picked",
    );
    await Promise.all(writes);
    // West's clock passes every short expiry before it applies anything.
    const waited = 2_500 - (Date.now() - started);
    if (waited > 0) await new Promise((resolve) => setTimeout(resolve, waited));
  } finally {
    viaEast.disconnect();
  }
  await west!.pylon.restart();
  await waitConverged(world.racks);
  const now = Date.now();
  const ports = [await world.master(east!), await world.master(west!)].map((r) => r.port);
  for (const pattern of ["lag:*", "events", "pool"]) {
    const [a, b] = [
      await logicalKeys(ports[0]!, pattern, now),
      await logicalKeys(ports[1]!, pattern, now),
    ];
    const differing = differences(a!, b!);
    assert.deepEqual(differing.slice(0, 5), [], `${pattern}: ${differing.length} keys differ`);
    assert.ok(a!.size > 0, `${pattern}: keys to compare`);
  }
  // Both racks gave XADD * the same ids: the stream's last id is the same too.
  const lastIds = await Promise.all(ports.map(async (port) => {
    const redis = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0 });
    await redis.connect();
    try {
      return await redis.call("XINFO", "STREAM", "events");
    } finally {
      redis.disconnect();
    }
  }));
  assert.deepEqual(lastIds[0], lastIds[1]);
});
