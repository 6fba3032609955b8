/**
 * Expiry by the log's clock on a real Redis: stored expiries are shifted by
 * H, so Redis never expires a key by its own clock; a key logically expired
 * at an op's log time T is deleted before a script touches it, and a key
 * logically alive at T is used even when the real clock has long passed its
 * logical expiry. EXPIRE_DUE, and the TTL readers' rewrites, against the
 * replies Redis really gives.
 */

import assert from "node:assert/strict";
import { startRedis } from "../harness/mod.ts";
import {
  EXPIRE_DUE,
  EXPIRY_SHIFT_MS,
  shiftExpiry,
  ttlFromPexpiretime,
  ttlRequest,
  unshiftTtlReply,
} from "../../src/determinism/expiry.ts";
import { wrapEval } from "../../src/determinism/prologue.ts";
import { FrameClient, text } from "./racks.ts";

const encoder = new TextEncoder();
const H = EXPIRY_SHIFT_MS;
const bytes = (...argv: string[]) => argv.map((arg) => encoder.encode(arg));

/** A script run as an op at log time `t`. */
function script(client: FrameClient, t: number, body: string, ...keysAndArgs: string[]) {
  return client.call(...wrapEval(bytes("EVAL", body, ...keysAndArgs), { logTimeMs: t, seed: "1" }));
}

/** A command as the log holds it, shifted as the applier sends it. */
function logged(client: FrameClient, ...argv: string[]) {
  return client.call(...shiftExpiry(argv[0]!, bytes(...argv)));
}

Deno.test("a key logically expired at T is deleted before the script touches it", async () => {
  await using server = await startRedis();
  await using client = await FrameClient.connect(server.port);
  const t = Date.now() - 60_000;
  await logged(client, "SET", "gone", "v", "PXAT", String(t - 1));
  await logged(client, "SET", "edge", "v", "PXAT", String(t));
  await logged(client, "SET", "alive", "v", "PXAT", String(t + 1));
  // A sweeper's mark: stored below H, logically expired whatever it says.
  await client.call("SET", "marked", "v", "PXAT", String(H - 1));
  await client.call("ZADD", "z", "1", "a");
  await logged(client, "PEXPIREAT", "z", String(t - 5));
  assert.equal(text(await client.call("EXISTS", "gone", "edge", "alive", "marked", "z")), ":5␍␊");
  const reply = await script(
    client,
    t,
    "return {redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[3], KEYS[4]), redis.call('GET', KEYS[1]), " +
      "redis.call('ZUNIONSTORE', 'dst', 1, KEYS[5]), redis.call('GET', KEYS[3])}",
    "5",
    "gone",
    "edge",
    "alive",
    "marked",
    "z",
  );
  assert.equal(text(reply), "*4␍␊:1␍␊$-1␍␊:0␍␊$1␍␊v␍␊");
  assert.equal(text(await client.call("EXISTS", "gone", "edge", "marked", "z")), ":0␍␊", "deleted");
  assert.equal(text(await client.call("EXISTS", "alive")), ":1␍␊");
});

Deno.test("a key logically alive at T is used though the real clock passed its logical expiry long ago", async () => {
  await using server = await startRedis();
  await using client = await FrameClient.connect(server.port);
  const t = Date.now() - 60_000;
  await logged(client, "SET", "k", "v", "PXAT", String(t + 1_000));
  await script(client, t, "return redis.call('HSET', KEYS[1], 'f', 'v')", "1", "h");
  await script(client, t, "return redis.call('PEXPIRE', KEYS[1], 1500)", "1", "h");
  // 59 s past both logical expiries by the real clock; 500 ms before them by the log's.
  const reply = await script(
    client,
    t + 500,
    "return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1]), redis.call('TTL', KEYS[1]), " +
      "redis.call('HGET', KEYS[2], 'f'), redis.call('PTTL', KEYS[2]), redis.call('RANDOMKEY') ~= false, " +
      "redis.call('DBSIZE')}",
    "2",
    "k",
    "h",
  );
  assert.equal(text(reply), "*7␍␊$1␍␊v␍␊:500␍␊:1␍␊$1␍␊v␍␊:1000␍␊:1␍␊:2␍␊");
  // At T + 1000 the string is gone, the hash (due at T + 1500) not yet.
  const later = await script(
    client,
    t + 1_000,
    "return {redis.call('EXISTS', KEYS[1]), redis.call('EXISTS', KEYS[2]), redis.call('DBSIZE'), " +
      "redis.call('KEYS', '*')}",
    "2",
    "k",
    "h",
  );
  assert.equal(text(later), "*4␍␊:0␍␊:1␍␊:1␍␊*1␍␊$1␍␊h␍␊");
  // Redis itself never expired anything: its stored times are H ahead.
  assert.equal(text(await client.call("PEXPIRETIME", "h")), `:${t + 1_500 + H}␍␊`);
});

Deno.test("RANDOMKEY, KEYS and DBSIZE in a script skip keys logically expired at T, and delete them", async () => {
  await using server = await startRedis();
  await using client = await FrameClient.connect(server.port);
  const t = Date.now() - 60_000;
  for (let i = 0; i < 20; i++) await logged(client, "SET", `old${i}`, "v", "PXAT", String(t - 10));
  await client.call("SET", "live", "v");
  const reply = await script(
    client,
    t,
    "return {redis.call('RANDOMKEY'), redis.call('DBSIZE'), redis.call('KEYS', '*')}",
    "0",
  );
  assert.equal(text(reply), "*3␍␊$4␍␊live␍␊:1␍␊*1␍␊$4␍␊live␍␊");
  assert.equal(text(await client.call("DBSIZE")), ":1␍␊");
});

Deno.test("an expiry set by a script at or before T deletes the key, as Redis does for a time in the past", async () => {
  await using server = await startRedis();
  await using client = await FrameClient.connect(server.port);
  const t = Date.now() - 60_000;
  const reply = await script(
    client,
    t,
    "redis.call('SET', KEYS[1], 'v') local a = redis.call('PEXPIREAT', KEYS[1], ARGV[1]) " +
      "redis.call('SET', KEYS[2], 'v') local b = redis.call('PEXPIRE', KEYS[2], 0) " +
      "redis.call('SET', KEYS[3], 'v') local c = redis.call('PEXPIREAT', KEYS[3], ARGV[2]) " +
      "return {a, b, c, redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[3])}",
    "3",
    "at-t",
    "zero",
    "after-t",
    String(t),
    String(t + 1),
  );
  assert.equal(text(reply), "*4␍␊:1␍␊:1␍␊:1␍␊:1␍␊");
  assert.equal(text(await client.call("EXISTS", "at-t", "zero", "after-t")), ":1␍␊");
});

Deno.test("EXPIRE_DUE deletes the keys due at T in each named db and counts them", async () => {
  await using server = await startRedis();
  await using client = await FrameClient.connect(server.port);
  const t = Date.now() - 60_000;
  await client.call("SELECT", "3");
  await logged(client, "SET", "due", "v", "PXAT", String(t));
  await logged(client, "SET", "later", "v", "PXAT", String(t + 1));
  await client.call("SET", "forever", "v");
  await client.call("SELECT", "0");
  await logged(client, "SET", "due", "v", "PXAT", String(t - 100));
  await client.call("SET", "marked", "v", "PXAT", String(H - 1));
  const deleted = await client.call(
    "EVAL",
    EXPIRE_DUE,
    "0",
    String(t),
    ...["0", "due", "0", "marked", "3", "due", "3", "later", "3", "forever", "3", "missing"],
  );
  assert.equal(text(deleted), ":3␍␊");
  assert.equal(
    text(await client.call("DBSIZE")),
    ":0␍␊",
    "the script's SELECT left this connection in db 0",
  );
  await client.call("SELECT", "3");
  assert.equal(text(await client.call("EXISTS", "due", "later", "forever")), ":2␍␊");
});

Deno.test("TTL readers outside scripts answer in logical time from Redis's replies", async () => {
  await using server = await startRedis();
  await using client = await FrameClient.connect(server.port);
  const now = Date.now();
  await logged(client, "SET", "k", "v", "PXAT", String(now + 10_000));
  await logged(client, "SET", "past", "v", "PXAT", String(now - 1_000));
  await client.call("SET", "plain", "v");
  for (const key of ["k", "past", "plain", "missing"]) {
    for (const name of ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"]) {
      const argv = bytes(name, key);
      const nowMs = Date.now();
      const direct = unshiftTtlReply(name, await client.call(...argv), 2, nowMs);
      const exact = ttlFromPexpiretime(name, await client.call(...ttlRequest(argv)), 2, nowMs);
      const value = Number(text(exact).slice(1, -2));
      const expected = key === "plain" ? -1 : key === "k"
        ? {
          TTL: 10,
          PTTL: now + 10_000 - nowMs,
          EXPIRETIME: Math.floor((now + 10_500) / 1000),
          PEXPIRETIME: now + 10_000,
        }[name]!
        : -2;
      assert.equal(value, expected, `${name} ${key} from PEXPIRETIME`);
      const approximate = Number(text(direct).slice(1, -2));
      assert.ok(
        Math.abs(approximate - expected) <= (name === "PTTL" ? 50 : 1),
        `${name} ${key}: ${approximate}`,
      );
    }
  }
});

Deno.test("keys SORT reads through its BY and GET patterns are checked for expiry too", async () => {
  await using server = await startRedis();
  await using client = await FrameClient.connect(server.port);
  const t = Date.now() - 60_000;
  await client.call("RPUSH", "list", "b", "a");
  await logged(client, "SET", "w_a", "9", "PXAT", String(t - 1));
  await client.call("SET", "w_b", "2");
  await logged(client, "SET", "o_a", "gone", "PXAT", String(t));
  await client.call("HSET", "h_b", "f", "kept");
  const reply = await script(
    client,
    t,
    "return redis.call('SORT', KEYS[1], 'BY', 'w_*', 'GET', '#', 'GET', 'o_*', 'GET', 'h_*->f')",
    "1",
    "list",
  );
  // a weighs 0 (its weight key expired), b weighs 2; o_a expired, h_b's field kept.
  assert.equal(text(reply), "*6␍␊$1␍␊a␍␊$-1␍␊$-1␍␊$1␍␊b␍␊$-1␍␊$4␍␊kept␍␊");
  assert.equal(text(await client.call("EXISTS", "w_a", "o_a", "w_b", "h_b")), ":2␍␊");
});
