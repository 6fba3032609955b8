/**
 * The data digest script against real Redis: two servers with different
 * encodings (listpack or hashtable, intset, skiplist) and orders of insertion
 * digest the same content alike; any change to a value, a member, a score, an
 * expiry or a stream's group shows; a key expired in log time is absent; the
 * budget stops at the same key.
 */

import assert from "node:assert/strict";
import { startRedis } from "../harness/mod.ts";
import { PipelineConnection } from "../../src/redis/pipeline_connection.ts";
import {
  ABSENT,
  describeDigest,
  DIGEST_LIMITS,
  digestKeys,
  NOT_DIGESTED,
} from "../../src/divergence/data_digest.ts";
import { EXPIRY_SHIFT_MS } from "../../src/determinism/expiry.ts";
import { encodeCommand } from "../../src/resp/encoder.ts";
import { bulkPayload } from "../../src/resp/frames.ts";

const encoder = new TextEncoder();
const T = 1_700_000_000_000;

async function run(connection: PipelineConnection, ...commands: (string | number)[][]) {
  const frames = await connection.run(commands.map((c) => encodeCommand(c.map(String))));
  for (const frame of frames) {
    assert.notEqual(frame[0], 45, new TextDecoder().decode(frame));
  }
  return frames;
}

/** The same content, written in another order (so another encoding history). */
const CONTENT: (string | number)[][] = [
  ["SET", "s", "hello"],
  ["HSET", "h", "a", "1", "b", "2", "c", "3"],
  ["SADD", "set", "x", "y", "z", "1", "2"],
  ["SADD", "ints", "1", "2", "3"],
  ["RPUSH", "l", "a", "b", "c", "a"],
  ["ZADD", "z", "1.5", "m1", "2", "m2", "0.1", "m3"],
  ["XADD", "st", "1-1", "f", "v"],
  ["XADD", "st", "2-1", "f", "w"],
  ["XGROUP", "CREATE", "st", "g", "0"],
  ["XREADGROUP", "GROUP", "g", "c1", "COUNT", "1", "STREAMS", "st", ">"],
  ["SET", "exp", "v", "PXAT", String(T + 60_000 + EXPIRY_SHIFT_MS)],
  ["SET", "gone", "v", "PXAT", String(T - 1 + EXPIRY_SHIFT_MS)],
];
const KEYS = ["s", "h", "set", "ints", "l", "z", "st", "exp", "gone", "missing"];

Deno.test("racks with the same content digest alike whatever the encodings; every change shows", async () => {
  await using a = await startRedis();
  // Every collection as a hashtable/skiplist on b, listpacks on a.
  await using b = await startRedis({
    config: {
      "hash-max-listpack-entries": "0",
      "set-max-intset-entries": "0",
      "zset-max-listpack-entries": "0",
      "list-max-listpack-size": "1",
    },
  });
  const ca = await PipelineConnection.connect({ host: a.host, port: a.port });
  const cb = await PipelineConnection.connect({ host: b.host, port: b.port });
  try {
    await run(ca, ...CONTENT);
    // b: the collections built in another order, with extra members removed again.
    await run(
      cb,
      ["SET", "s", "hello"],
      ["HSET", "h", "c", "3", "x", "9", "b", "2", "a", "1"],
      ["HDEL", "h", "x"],
      ["SADD", "set", "2", "z", "1", "y", "x"],
      ["SADD", "ints", "3", "2", "1"],
      ["RPUSH", "l", "a", "b", "c", "a"],
      ["ZADD", "z", "0.1", "m3", "2", "m2", "1.5", "m1"],
      ...CONTENT.slice(6),
    );
    const [encA, encB] = await Promise.all(
      [ca, cb].map(async (c) =>
        (await c.run(
          ["h", "set", "ints", "z", "l"].map((k) => encodeCommand(["OBJECT", "ENCODING", k])),
        ))
          .map((f) => new TextDecoder().decode(bulkPayload(f)))
      ),
    );
    assert.deepEqual(encA, ["listpack", "hashtable", "intset", "listpack", "quicklist"]);
    assert.deepEqual(encB, ["hashtable", "hashtable", "hashtable", "skiplist", "quicklist"]);
    const bytes = KEYS.map((k) => encoder.encode(k));
    const options = { db: 0, keys: bytes, logTimeMs: T, limits: DIGEST_LIMITS };
    const da = await digestKeys(ca, options);
    const db = await digestKeys(cb, options);
    assert.deepEqual(da, db);
    assert.equal(da[KEYS.indexOf("gone")], ABSENT, "expired at the position's log time");
    assert.equal(da[KEYS.indexOf("missing")], ABSENT);
    assert.match(da[KEYS.indexOf("exp")]!, new RegExp(`^string 1 ${T + 60_000} `));
    assert.match(da[KEYS.indexOf("h")]!, /^hash 3 -1 [0-9a-f]{26}$/);
    assert.equal(
      describeDigest(da[KEYS.indexOf("s")]!),
      `string of 5 bytes, no expiry, digest ${da[KEYS.indexOf("s")]!.split(" ")[3]!.slice(0, 12)}`,
    );
    // Later, the expiring key is absent too.
    const later = await digestKeys(ca, { ...options, logTimeMs: T + 60_000 });
    assert.equal(later[KEYS.indexOf("exp")], ABSENT);

    // Each change on b shows on that key alone.
    const changes: [string, (string | number)[]][] = [
      ["s", ["APPEND", "s", "!"]],
      ["h", ["HSET", "h", "a", "one"]],
      ["set", ["SREM", "set", "x"]],
      ["ints", ["SADD", "ints", "4"]],
      ["l", ["LSET", "l", "0", "A"]],
      ["z", ["ZADD", "z", "1.25", "m1"]],
      ["st", ["XACK", "st", "g", "1-1"]],
      ["exp", ["PEXPIREAT", "exp", String(T + 61_000 + EXPIRY_SHIFT_MS)]],
      ["missing", ["SET", "missing", "now here"]],
    ];
    for (const [key, command] of changes) {
      await run(cb, command);
      const after = await digestKeys(cb, options);
      const differing = KEYS.filter((_, i) => after[i] !== da[i]);
      assert.deepEqual(differing, [key], `after ${command.join(" ")}`);
      // Put it back as a had it, so the next change is alone.
      await run(cb, ["DEL", key]);
      const restore = CONTENT.filter((c) => c[1] === key);
      if (key === "st") {
        await run(
          cb,
          ["XADD", "st", "1-1", "f", "v"],
          ["XADD", "st", "2-1", "f", "w"],
          ["XGROUP", "CREATE", "st", "g", "0"],
          ["XREADGROUP", "GROUP", "g", "c1", "COUNT", "1", "STREAMS", "st", ">"],
        );
      } else if (restore.length > 0) await run(cb, ...restore);
      assert.deepEqual(await digestKeys(cb, options), da, `${key} restored`);
    }
  } finally {
    ca.close();
    cb.close();
  }
});

Deno.test("a group's entries-read, Redis's estimate, is no part of a stream's digest", async () => {
  await using a = await startRedis();
  await using b = await startRedis();
  const ca = await PipelineConnection.connect({ host: a.host, port: a.port });
  const cb = await PipelineConnection.connect({ host: b.host, port: b.port });
  try {
    const stream = CONTENT.filter((c) => c.includes("st"));
    await run(ca, ...stream);
    // The same group at the same last id, its estimate dropped (nil), as Redis may on one rack.
    await run(cb, ...stream, ["XGROUP", "SETID", "st", "g", "1-1"]);
    const estimates = await Promise.all([ca, cb].map(async (c) => {
      const [groups] = await c.run([encodeCommand(["XINFO", "GROUPS", "st"])]);
      return /entries-read\r\n(:1|\$-1|_)\r\n/.exec(new TextDecoder().decode(groups))?.[1];
    }));
    assert.deepEqual(estimates, [":1", "$-1"]);
    const options = { db: 0, keys: [encoder.encode("st")], logTimeMs: T, limits: DIGEST_LIMITS };
    assert.deepEqual(await digestKeys(cb, options), await digestKeys(ca, options));
  } finally {
    ca.close();
    cb.close();
  }
});

Deno.test("large values are digested by their ends and the budget leaves the last keys out", async () => {
  await using redis = await startRedis();
  const c = await PipelineConnection.connect({ host: redis.host, port: redis.port });
  try {
    const members = Array.from({ length: 3_000 }, (_, i) => String(i));
    await run(
      c,
      ["RPUSH", "big", ...members],
      ["SADD", "bigset", ...members],
      ["SET", "bigstring", "x".repeat(200_000)],
      ["SET", "a", "1"],
      ["SET", "b", "2"],
    );
    const keys = ["big", "bigset", "bigstring", "a", "b"].map((k) => encoder.encode(k));
    const limits = { elementsMax: 1_000, budget: 1_500, stringBytesMax: 65_536 };
    const digests = await digestKeys(c, { db: 0, keys, logTimeMs: T, limits });
    assert.match(digests[0]!, /^list 3000 -1 [0-9a-f]{80}\+$/, "the first and last 500 elements");
    assert.match(digests[1]!, /^set 3000 -1 count$/);
    // 1,001 + 1,001 elements read: the budget is spent before the string.
    assert.deepEqual(digests.slice(2), [NOT_DIGESTED, NOT_DIGESTED, NOT_DIGESTED]);
    // A change in the middle of the big list is not seen; one at its end is.
    await run(c, ["LSET", "big", "1500", "changed"]);
    assert.equal((await digestKeys(c, { db: 0, keys, logTimeMs: T, limits }))[0], digests[0]);
    await run(c, ["LSET", "big", "-1", "changed"]);
    assert.notEqual((await digestKeys(c, { db: 0, keys, logTimeMs: T, limits }))[0], digests[0]);
    const alone = await digestKeys(c, {
      db: 0,
      keys: [encoder.encode("bigstring")],
      logTimeMs: T,
      limits,
    });
    assert.match(alone[0]!, /^string 200000 -1 [0-9a-f]{40}\+$/);
  } finally {
    c.close();
  }
});

Deno.test("a digest at a position is refused when another applier moved the stored position", async () => {
  await using redis = await startRedis();
  const c = await PipelineConnection.connect({ host: redis.host, port: redis.port });
  try {
    await run(c, ["SET", "k", "v"], ["SELECT", "15"], ["SET", "pylon:applied:0", "5"]);
    const keys = [encoder.encode("k")];
    const at = (position: number) => ({ metaDb: 15, partition: 0, position });
    const options = { db: 0, keys, logTimeMs: T, limits: DIGEST_LIMITS };
    const here = await digestKeys(c, { ...options, at: at(5) });
    assert.deepEqual(here, await digestKeys(c, options), "the keys' db, not the metadata db");
    assert.match(here[0]!, /^string 1 -1 /);
    await assert.rejects(() => digestKeys(c, { ...options, at: at(6) }), /PYLONMOVED position 5/);
  } finally {
    c.close();
  }
});
