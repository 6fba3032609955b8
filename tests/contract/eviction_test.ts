/**
 * Issue 24, item 1: a rack's Redis that evicts keys by itself. The world's
 * contract asks `maxmemory-policy noeviction` of every rack: a Redis set to
 * an evicting policy behind Pylon's back (directly, not through Pylon) is
 * never applied to — its applier pauses naming the policy, the rack serves no
 * reads from it — and once set back it catches up and ends equal, key by key,
 * with Pylon's marker and position intact. Through Pylon the policy cannot be
 * changed at all.
 */

import assert from "node:assert/strict";
import { freePort, startWorld, useKafka, waitFor } from "../harness/mod.ts";
import {
  applierView,
  assertSameData,
  metadata,
  redisKeys,
  run,
  waitApplying,
  waitPaused,
  waitSamePosition,
  writeKeys,
} from "./contract.ts";

const META_DB = 15;

Deno.test("a rack whose Redis is set to evict is paused, applies and evicts nothing, and catches up once set back", async () => {
  const started = performance.now();
  await using kafka = await useKafka();
  const adminPort = freePort();
  await using world = await startWorld({
    brokers: kafka.brokers,
    racks: 2,
    setups: [{ args: ["--admin-listen", `127.0.0.1:${adminPort}`] }, {}],
  });
  const [east, west] = world.racks as [typeof world.racks[0], typeof world.racks[0]];
  const eastRedis = await world.master(east);
  const westRedis = await world.master(west);
  await writeKeys(west.pylon.port, "before", 100);
  await waitSamePosition(world.racks);
  const markerBefore = (await metadata(eastRedis, META_DB)).marker;
  assert.notEqual(markerBefore, "(nil)", "east's Redis holds Pylon's marker");

  for (
    const [policy, prefix, extra] of [
      ["allkeys-lru", "plain", []],
      ["volatile-lru", "ttl", ["EX", "3600"]],
    ] as const
  ) {
    const used = Number((await eastRedis.info("memory")).get("used_memory"));
    const setAt = performance.now();
    // Behind Pylon's back: set on east's Redis itself, with room for 2 MB more.
    assert.equal(await eastRedis.call("CONFIG", "SET", "maxmemory-policy", policy), "OK");
    assert.equal(
      await eastRedis.call("CONFIG", "SET", "maxmemory", String(used + 2_000_000)),
      "OK",
    );
    await waitPaused(
      east,
      new RegExp(`maxmemory-policy is '${policy}', the world's is 'noeviction'`),
    );
    const pausedMs = Math.round(performance.now() - setAt);
    const keysBefore = await redisKeys(eastRedis, 0);
    const positionBefore = (await metadata(eastRedis, META_DB)).position;
    await waitFor("east to stop serving reads", async () => {
      const view = await applierView(east);
      return view.servesReads ? undefined : true;
    }, { timeoutMs: 15_000 });
    const ready = await fetch(`http://127.0.0.1:${adminPort}/readyz`);
    const readyText = await ready.text();
    assert.equal(ready.status, 503, readyText);
    assert.match(readyText, /paused: .*maxmemory-policy is '/, "/readyz names the reason");

    // 10,000 keys of 1 KiB: five times what east's Redis has room for.
    await writeKeys(west.pylon.port, prefix, 10_000, { valueBytes: 1024, extra: [...extra] });
    // Reads through east's node: served from west, or refused; never a missing key.
    for (const key of [`${prefix}:0`, `${prefix}:5000`, `${prefix}:9999`, "before:7"]) {
      const [reply] = await run(east.pylon.port, ["GET", key]);
      assert.ok(
        reply === "v".repeat(key.startsWith("before") ? 16 : 1024) || reply!.startsWith("(error)"),
        `GET ${key} through paused east: ${reply!.slice(0, 80)}`,
      );
    }
    // The independent look: east's Redis applied nothing and evicted nothing.
    const stats = await eastRedis.info("stats");
    assert.equal(stats.get("evicted_keys"), "0", `${policy}: east's Redis evicted keys`);
    assert.deepEqual(await redisKeys(eastRedis, 0), keysBefore, `${policy}: east's data moved`);
    const meta = await metadata(eastRedis, META_DB);
    assert.equal(meta.position, positionBefore, `${policy}: east's position moved while paused`);
    assert.equal(meta.marker, markerBefore, "east's marker is intact");
    const still = await applierView(east);
    assert.equal(still.state, "paused", `${policy}: east still paused: ${still.lastError}`);
    assert.ok(
      Number(still.info.get("rack_condition_contract_maxmemory_policy")) >= 1,
      "PYLON INFO counts the condition",
    );
    const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    assert.match(
      metrics,
      /pylon_rack_conditions_total\{reason="contract_maxmemory_policy"\} [1-9]/,
    );

    // Set back, with room: east catches up and ends equal, key by key.
    assert.equal(await eastRedis.call("CONFIG", "SET", "maxmemory-policy", "noeviction"), "OK");
    assert.equal(await eastRedis.call("CONFIG", "SET", "maxmemory", "0"), "OK");
    await waitApplying(east);
    const end = await waitSamePosition(world.racks, 90_000);
    const keys = await assertSameData(eastRedis, westRedis, [0], `after ${policy}`);
    const [eastMeta, westMeta] = [
      await metadata(eastRedis, META_DB),
      await metadata(westRedis, META_DB),
    ];
    assert.equal(eastMeta.marker, markerBefore, "east's marker is intact");
    assert.ok(eastMeta.position >= end && westMeta.position >= end, "positions stored");
    assert.equal((await eastRedis.info("stats")).get("evicted_keys"), "0");
    console.log(
      `${policy}: east paused ${pausedMs} ms after its Redis was set; ${keys} keys equal ` +
        `on both racks after catching up to ${end}`,
    );
  }

  // Through Pylon the policy (and the other contract settings) cannot be changed.
  for (const rack of world.racks) {
    for (const [name, value] of [["maxmemory-policy", "allkeys-lru"], ["databases", "32"]]) {
      const [reply] = await run(rack.pylon.port, ["CONFIG", "SET", name!, value!]);
      assert.match(
        reply!,
        /^\(error\) ERR .*'(maxmemory-policy|databases)' is part of the world's contract/,
      );
    }
    const redis = await world.master(rack);
    assert.deepEqual(await run(redis.port, ["CONFIG", "GET", "maxmemory-policy"]), [
      "[maxmemory-policy, noeviction]",
    ]);
  }
  console.log(`eviction test: ${Math.round((performance.now() - started) / 1000)} s`);
});
