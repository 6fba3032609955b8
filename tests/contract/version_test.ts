/**
 * Issue 24, item 3: a rack on an older Redis (a rolling upgrade). Ops use the
 * syntax of Redis 7, the world's version floor; a Redis 6.2 refuses some of
 * it (`PEXPIREAT k t NX`, which `EXPIRE k 100 NX` is logged as, is an arity
 * error there). Such a rack is refused — paused naming `redis_version` — and
 * applies nothing, so it never skips an op another rack applied; upgraded to
 * 7 on the same data, it applies everything and ends equal.
 */

import assert from "node:assert/strict";
import { ensureRedis62, startWorld, useKafka } from "../harness/mod.ts";
import {
  applierView,
  assertSameData,
  metadata,
  redisKeys,
  run,
  waitApplying,
  waitPaused,
  waitSamePosition,
} from "./contract.ts";

const META_DB = 15;

Deno.test("a rack on Redis 6.2 is refused and applies nothing, then applies everything once upgraded", async () => {
  const started = performance.now();
  // Built once into .cache/ (tests/harness/provision.ts); a failed build fails this test.
  const redis62 = await ensureRedis62();
  await using kafka = await useKafka();
  await using world = await startWorld({
    brokers: kafka.brokers,
    racks: 2,
    setups: [{}, { redis: { server: redis62 } }],
  });
  const [newer, older] = world.racks as [typeof world.racks[0], typeof world.racks[0]];
  const newerRedis = await world.master(newer);
  const olderRedis = await world.master(older);
  assert.match(await olderRedis.call("INFO", "server"), /redis_version:6\.2\.14/);

  const paused = await waitPaused(
    older,
    /redis_version is '6\.2\.14', the world's is '7\.0\.0 or later'/,
    30_000,
  );
  const positionBefore = (await metadata(olderRedis, META_DB)).position;

  // The issue's example, through the Redis 7 rack.
  assert.deepEqual(
    await run(newer.pylon.port, ["SET", "k", "v"], ["EXPIRE", "k", "100", "NX"], ["TTL", "k"]),
    ["OK", "1", "100"],
  );
  await waitSamePosition([newer]);
  const view = await applierView(older);
  assert.equal(view.state, "paused", `still refused: ${view.lastError}`);
  assert.equal(view.lastError, paused.lastError);
  // The independent look: the 6.2 rack's Redis has neither the key nor a moved position.
  assert.deepEqual([...(await redisKeys(olderRedis, 0)).keys()], []);
  assert.equal((await metadata(olderRedis, META_DB)).position, positionBefore);
  assert.ok(Number(view.info.get("rack_condition_contract_redis_version")) >= 1);

  // The upgrade: the same data on Redis 7 (the system's), and the rack applies what it missed.
  assert.equal(await olderRedis.call("SAVE"), "OK");
  await older.pylon.stop();
  await olderRedis.stop();
  await olderRedis.reconfigure({ "enable-debug-command": "yes" }, "default");
  await olderRedis.restart();
  assert.match(await olderRedis.call("INFO", "server"), /redis_version:7\./);
  await older.pylon.restart();
  await waitApplying(older);
  await waitSamePosition(world.racks);
  const keys = await assertSameData(
    newerRedis,
    olderRedis,
    Array.from({ length: 15 }, (_, db) => db),
    "after the upgrade",
  );
  assert.equal(keys, 1);
  console.log(`version test: ${Math.round((performance.now() - started) / 1000)} s`);
});
