/**
 * Issue 24, item 2: racks whose Redis have different numbers of databases.
 * The world's contract records one `databases` and one metadata db, from the
 * first rack that reports its Redis (east here: 16 dbs, metadata in db 15);
 * a rack with 32 (west, metadata in its db 31 by default) is paused naming
 * both and applies nothing. The reproduction, through west:
 * `SELECT 15` (the world's metadata db) and `SELECT 20` (past the world's 16)
 * are refused, so no client key lands in any rack's metadata db; `MOVE`/`COPY
 * .. DB 20` get Redis's own error on every rack alike. Rebuilt on 16 dbs,
 * west replays the log and ends equal to east.
 */

import assert from "node:assert/strict";
import { RawClient, startPylon, startWorld, useKafka, waitFor } from "../harness/mod.ts";
import {
  applierView,
  assertSameData,
  metadata,
  redisKeys,
  replyText,
  waitApplying,
  waitPaused,
  waitSamePosition,
} from "./contract.ts";
import { waitHealthyPeer } from "../world/world.ts";

Deno.test("a rack with 32 databases in a world of 16 is paused, and no key reaches a metadata db", async () => {
  const started = performance.now();
  await using kafka = await useKafka();
  // West's applier waits until east's Redis founded the contract: the first rack recorded is east.
  await using world = await startWorld({
    brokers: kafka.brokers,
    racks: 2,
    setups: [{}, { redis: { config: { databases: "32" } }, env: { PYLON_APPLIER: "off" } }],
  });
  const [east, west] = world.racks as [typeof world.racks[0], typeof world.racks[0]];
  const eastRedis = await world.master(east);
  const westRedis = await world.master(west);
  await east.pylon.waitApplying(30_000);
  await west.pylon.stop();
  west.pylon = await west.pylon.startAgain({ env: {} });
  // West's writes are answered by the rack that applies them: east, over the peer link.
  await waitHealthyPeer(west);

  // The reproduction, through west; replies kept, checked after the independent look.
  await using client = await RawClient.connect(west.pylon.port);
  const replies: string[] = [];
  for (
    const argv of [
      ["SELECT", "15"],
      ["SET", "dbs:in15", "x"],
      ["SELECT", "20"],
      ["SET", "dbs:in20", "x"],
      ["SELECT", "0"],
      ["SET", "dbs:in0", "x"],
      ["MOVE", "dbs:in0", "20"],
      ["COPY", "dbs:in0", "dbs:copy", "DB", "20"],
    ]
  ) replies.push(`${argv.join(" ")} -> ${replyText(await client.call(...argv))}`);
  await waitFor("east to apply the writes", async () => {
    const keys = await redisKeys(eastRedis, 0);
    return keys.has("dbs:in0") ? true : undefined;
  }, { timeoutMs: 20_000 });
  await waitSamePosition([east]);

  // The independent look: no client key in any metadata db, east's or west's.
  for (const [redis, dbs, metaDb] of [[eastRedis, 16, 15], [westRedis, 32, 31]] as const) {
    for (let db = 0; db < dbs; db++) {
      const keys = [...(await redisKeys(redis, db)).keys()];
      if (db === metaDb) {
        assert.deepEqual(
          keys.filter((k) => !k.startsWith("pylon:")),
          [],
          `port ${redis.port}: client keys in its metadata db ${db} (${replies.join("; ")})`,
        );
      } else if (redis === westRedis || db !== 0) {
        assert.deepEqual(keys, [], `port ${redis.port} db ${db} (${replies.join("; ")})`);
      }
    }
  }
  // East applied the three SETs in db 0 (SELECT 15 and 20 were refused, so the connection
  // stayed in db 0) and MOVE/COPY to db 20 failed there as Redis fails them.
  assert.deepEqual([...(await redisKeys(eastRedis, 0)).keys()], [
    "dbs:in0",
    "dbs:in15",
    "dbs:in20",
  ]);
  assert.deepEqual(replies, [
    "SELECT 15 -> (error) ERR DB index is out of range",
    "SET dbs:in15 x -> OK",
    "SELECT 20 -> (error) ERR DB index is out of range",
    "SET dbs:in20 x -> OK",
    "SELECT 0 -> OK",
    "SET dbs:in0 x -> OK",
    "MOVE dbs:in0 20 -> (error) ERR DB index is out of range",
    "COPY dbs:in0 dbs:copy DB 20 -> (error) ERR DB index is out of range",
  ]);
  const world16 = await east.pylon.call("PYLON", "WORLD");
  assert.match(world16, /^contract .*metadata-db=15 .*databases=16\b/m, world16);
  const paused = await waitPaused(west, /databases is '32', the world's is '16'/);
  assert.match(paused.lastError, /metadata db is '31', the world's is '15'/);
  assert.equal((await metadata(westRedis, 31)).position, 0, "west applied nothing");
  assert.equal((await applierView(east)).state.match(/applying|waiting/) !== null, true);

  // Rebuilt on 16 dbs, west replays the log. Its metadata moves to db 15, which a node folder
  // never allows: west gets a new node, as an operator replaces one (its Raft state goes with
  // the old folder, so the old id leaves the world, then the new one is added).
  const admin = ["--no-auth-warning", "--user", "pylon", "--pass", world.secret];
  const newId = `${west.nodeId}-16`;
  const args = (west.pylon.options.args ?? []).map((arg) => arg === west.nodeId ? newId : arg);
  // Removed while it runs: a world of two nodes commits a change only with both.
  // (Once the world group has a leader: west's restart above may have started an election.)
  await waitFor("the world to remove west's node", async () => {
    const reply = await east.pylon.call(...admin, "PYLON", "NODE", "REMOVE", west.nodeId);
    if (reply === "OK") return true;
    assert.match(reply, /no leader now|not the leader/, reply);
    return undefined;
  }, { timeoutMs: 30_000, intervalMs: 200 });
  await west.pylon.stop();
  await westRedis.stop();
  await westRedis.wipe();
  await westRedis.reconfigure({ databases: "16" });
  await westRedis.restart();
  west.pylon = await startPylon({ redis: { url: westRedis.url }, args: [...args, "--join"] });
  assert.equal(
    await east.pylon.call(
      ...admin,
      "PYLON",
      "NODE",
      "ADD",
      newId,
      west.name,
      `127.0.0.1:${west.peerPort}`,
    ),
    "OK",
  );
  await waitApplying(west);
  await waitSamePosition(world.racks);
  const keys = await assertSameData(
    eastRedis,
    westRedis,
    Array.from({ length: 15 }, (_, db) => db),
    "after west was rebuilt",
  );
  assert.equal(keys, 3);
  console.log(`databases test: ${Math.round((performance.now() - started) / 1000)} s`);
});
