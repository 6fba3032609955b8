/**
 * Wrapped ops answer byte for byte what a plain twin Redis answers wherever
 * Redis's own answer involves no time and no chance: the top-level commands
 * run through the wrapper (SPOP, XADD *, XREADGROUP, XCLAIM, XAUTOCLAIM) and
 * scripts calling them or the expiry commands, with their errors (wrong
 * arity, wrong type, invalid expire time, line numbers and the script's
 * sha1), in RESP2 and RESP3. The rack applies each op as Pylon's applier does
 * with src/determinism/ (expiries shifted); the twin runs the same requests
 * directly.
 */

import assert from "node:assert/strict";
import { startRedis } from "../harness/mod.ts";
import { applyOp, FrameClient, type TestOp, text } from "./racks.ts";
import type { Protocol } from "../../src/resp/value.ts";
import { restoreScriptReply, wrapEval } from "../../src/determinism/prologue.ts";

/** One comparison: setup ops, then the op whose reply must be the twin's. */
interface Case {
  name: string;
  /** Only in RESP2: a RESP3 set made from a script comes in the order of a Lua table. */
  resp2Only?: boolean;
  setup?: string[][];
  op: string[];
}

const T0 = Date.now() - 60_000;
const at = (offsetMs: number) => String(T0 + offsetMs);

const eval1 = (body: string, ...keysAndArgs: string[]) => ["EVAL", body, ...keysAndArgs];

const STREAM_SETUP = [
  ["XADD", "s", "1-1", "f", "a"],
  ["XADD", "s", "1-2", "f", "b"],
  ["XADD", "s", "2-0", "f", "c"],
  ["XGROUP", "CREATE", "s", "g", "0"],
];

const CASES: Case[] = [
  // SPOP where only one outcome exists.
  { name: "SPOP of a one-member set", setup: [["SADD", "k", "only"]], op: ["SPOP", "k"] },
  { name: "SPOP 1 of a one-member set", setup: [["SADD", "k", "only"]], op: ["SPOP", "k", "1"] },
  { name: "SPOP 5 of a one-member set", setup: [["SADD", "k", "only"]], op: ["SPOP", "k", "5"] },
  {
    name: "SPOP 3 of an intset, all of it",
    setup: [["SADD", "k", "3", "1", "2"]],
    op: ["SPOP", "k", "3"],
    resp2Only: true,
  },
  { name: "SPOP of a missing key", op: ["SPOP", "k"] },
  { name: "SPOP with count of a missing key", op: ["SPOP", "k", "2"] },
  { name: "SPOP 0", setup: [["SADD", "k", "a", "b"]], op: ["SPOP", "k", "0"] },
  { name: "SPOP of a string", setup: [["SET", "k", "v"]], op: ["SPOP", "k"] },
  { name: "SPOP -1", setup: [["SADD", "k", "a"]], op: ["SPOP", "k", "-1"] },
  { name: "SPOP x", setup: [["SADD", "k", "a"]], op: ["SPOP", "k", "x"] },
  { name: "SPOP with a stray argument", setup: [["SADD", "k", "a"]], op: ["SPOP", "k", "1", "2"] },
  // XADD: explicit ids, and the errors of '*' that come before any id is chosen.
  { name: "XADD with an explicit id", op: ["XADD", "x", "5-5", "f", "v"] },
  {
    name: "XADD <ms>-*",
    setup: [["XADD", "x", "5-5", "f", "v"]],
    op: ["XADD", "x", "5-*", "f", "v"],
  },
  {
    name: "XADD <ms>-* too small",
    setup: [["XADD", "x", "5-5", "f", "v"]],
    op: ["XADD", "x", "4-*", "f", "v"],
  },
  { name: "XADD * NOMKSTREAM on a missing key", op: ["XADD", "x", "NOMKSTREAM", "*", "f", "v"] },
  { name: "XADD * on a string", setup: [["SET", "x", "v"]], op: ["XADD", "x", "*", "f", "v"] },
  { name: "XADD * with a field missing its value", op: ["XADD", "x", "*", "f"] },
  { name: "XADD * with a bad MAXLEN", op: ["XADD", "x", "MAXLEN", "-1", "*", "f", "v"] },
  { name: "XADD * LIMIT without ~", op: ["XADD", "x", "MAXLEN", "5", "LIMIT", "1", "*", "f", "v"] },
  // XREADGROUP: which entries it delivers involves no clock.
  {
    name: "XREADGROUP of new entries",
    setup: STREAM_SETUP,
    op: ["XREADGROUP", "GROUP", "g", "c1", "COUNT", "2", "STREAMS", "s", ">"],
  },
  {
    name: "XREADGROUP with nothing new",
    setup: [...STREAM_SETUP, ["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">"]],
    op: ["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">"],
  },
  {
    name: "XREADGROUP of history with a deleted entry",
    setup: [...STREAM_SETUP, ["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">"], [
      "XDEL",
      "s",
      "1-2",
    ]],
    op: ["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", "0"],
  },
  {
    name: "XREADGROUP of two streams",
    setup: [...STREAM_SETUP, ["XADD", "t", "9-9", "f", "z"], ["XGROUP", "CREATE", "t", "g", "0"]],
    op: ["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "t", "s", ">", ">"],
  },
  {
    name: "XREADGROUP with options before GROUP, NOACK",
    setup: STREAM_SETUP,
    op: ["XREADGROUP", "COUNT", "1", "NOACK", "GROUP", "g", "c1", "STREAMS", "s", ">"],
  },
  {
    name: "XREADGROUP without a group",
    setup: [["XADD", "s", "1-1", "f", "a"]],
    op: ["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">"],
  },
  // XCLAIM and XAUTOCLAIM with min-idle-time 0, and their errors.
  {
    name: "XCLAIM with min-idle-time 0",
    setup: [...STREAM_SETUP, ["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">"]],
    op: ["XCLAIM", "s", "g", "c2", "0", "1-1", "2-0", "9-9"],
  },
  {
    name: "XCLAIM JUSTID, FORCE and RETRYCOUNT",
    setup: [...STREAM_SETUP, ["XREADGROUP", "GROUP", "g", "c1", "COUNT", "1", "STREAMS", "s", ">"]],
    op: ["XCLAIM", "s", "g", "c2", "0", "1-1", "2", "FORCE", "RETRYCOUNT", "7", "JUSTID"],
  },
  {
    name: "XCLAIM of a deleted entry",
    setup: [...STREAM_SETUP, ["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">"], [
      "XDEL",
      "s",
      "2-0",
    ]],
    op: ["XCLAIM", "s", "g", "c2", "0", "2-0", "1-1", "1-1"],
  },
  {
    name: "XCLAIM without a group",
    setup: [["XADD", "s", "1-1", "f", "a"]],
    op: ["XCLAIM", "s", "g", "c", "0", "1-1"],
  },
  {
    name: "XCLAIM with a bad min-idle-time",
    setup: STREAM_SETUP,
    op: ["XCLAIM", "s", "g", "c", "x", "1-1"],
  },
  {
    name: "XCLAIM with a bad option",
    setup: STREAM_SETUP,
    op: ["XCLAIM", "s", "g", "c", "0", "1-1", "BOGUS"],
  },
  {
    name: "XCLAIM with a bad IDLE",
    setup: STREAM_SETUP,
    op: ["XCLAIM", "s", "g", "c", "0", "1-1", "IDLE", "x"],
  },
  {
    name: "XCLAIM of a string",
    setup: [["SET", "s", "v"]],
    op: ["XCLAIM", "s", "g", "c", "0", "1-1"],
  },
  {
    name: "XAUTOCLAIM with min-idle-time 0",
    setup: [...STREAM_SETUP, ["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">"], [
      "XDEL",
      "s",
      "1-2",
    ]],
    op: ["XAUTOCLAIM", "s", "g", "c2", "0", "0", "COUNT", "2"],
  },
  {
    name: "XAUTOCLAIM JUSTID from an exclusive start",
    setup: [...STREAM_SETUP, ["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">"]],
    op: ["XAUTOCLAIM", "s", "g", "c2", "0", "(1-1", "JUSTID"],
  },
  {
    name: "XAUTOCLAIM with COUNT 0",
    setup: STREAM_SETUP,
    op: ["XAUTOCLAIM", "s", "g", "c", "0", "0", "COUNT", "0"],
  },
  {
    name: "XAUTOCLAIM with a bad start",
    setup: STREAM_SETUP,
    op: ["XAUTOCLAIM", "s", "g", "c", "0", "x"],
  },
  { name: "XAUTOCLAIM without a group", op: ["XAUTOCLAIM", "s", "g", "c", "0", "0"] },
  // Scripts: expiry commands' replies and errors.
  {
    name: "EXPIRE in a script",
    setup: [["SET", "k", "v"]],
    op: eval1("return redis.call('EXPIRE', KEYS[1], 100)", "1", "k"),
  },
  {
    name: "EXPIRE of a missing key",
    op: eval1("return redis.call('EXPIRE', KEYS[1], 100)", "1", "k"),
  },
  {
    name: "EXPIRE GT against a longer expiry",
    setup: [["SET", "k", "v", "PXAT", at(10_000_000)]],
    op: eval1(
      "return {redis.call('EXPIRE', KEYS[1], 100, 'GT'), redis.call('EXPIRE', KEYS[1], 100, 'LT')}",
      "1",
      "k",
    ),
  },
  {
    name: "EXPIRE NX and XX",
    setup: [["SET", "k", "v"]],
    op: eval1(
      "return {redis.call('EXPIRE', KEYS[1], 100, 'XX'), redis.call('EXPIRE', KEYS[1], 100, 'NX'), redis.call('PEXPIRE', KEYS[1], 5, 'NX')}",
      "1",
      "k",
    ),
  },
  {
    name: "EXPIRE with a past time deletes",
    setup: [["SET", "k", "v"]],
    op: eval1(
      "return {redis.call('EXPIRE', KEYS[1], -5), redis.call('EXISTS', KEYS[1])}",
      "1",
      "k",
    ),
  },
  {
    name: "EXPIREAT in the past deletes",
    setup: [["SET", "k", "v"]],
    op: eval1(
      "return {redis.call('EXPIREAT', KEYS[1], 1), redis.call('EXISTS', KEYS[1])}",
      "1",
      "k",
    ),
  },
  {
    name: "PEXPIREAT in the future",
    setup: [["SET", "k", "v"]],
    op: eval1(
      "return {redis.call('PEXPIREAT', KEYS[1], ARGV[1]), redis.call('EXISTS', KEYS[1])}",
      "1",
      "k",
      at(10_000_000),
    ),
  },
  {
    name: "EXPIRE with an invalid time",
    setup: [["SET", "k", "v"]],
    op: eval1("return redis.pcall('EXPIRE', KEYS[1], 'soon')", "1", "k"),
  },
  {
    name: "EXPIRE beyond the range",
    setup: [["SET", "k", "v"]],
    op: eval1("return redis.pcall('EXPIRE', KEYS[1], '9223372036854775807')", "1", "k"),
  },
  {
    name: "EXPIRE with NX and XX",
    setup: [["SET", "k", "v"]],
    op: eval1("return redis.pcall('EXPIRE', KEYS[1], 5, 'NX', 'XX')", "1", "k"),
  },
  {
    name: "EXPIRE with an unknown option",
    setup: [["SET", "k", "v"]],
    op: eval1("return redis.pcall('EXPIRE', KEYS[1], 5, 'SOON')", "1", "k"),
  },
  {
    name: "SET EX and GET",
    op: eval1(
      "return {redis.call('SET', KEYS[1], 'v', 'EX', 100), redis.call('GET', KEYS[1]), redis.call('TTL', KEYS[1])}",
      "1",
      "k",
    ),
  },
  {
    name: "SET PX GET with an old value",
    setup: [["SET", "k", "old"]],
    op: eval1("return redis.call('SET', KEYS[1], 'v', 'PX', 100000, 'GET')", "1", "k"),
  },
  {
    name: "SET NX PX on an existing key",
    setup: [["SET", "k", "old"]],
    op: eval1("return redis.call('SET', KEYS[1], 'v', 'NX', 'PX', 100000)", "1", "k"),
  },
  { name: "SET EX 0", op: eval1("return redis.pcall('SET', KEYS[1], 'v', 'EX', 0)", "1", "k") },
  { name: "SET PX -5", op: eval1("return redis.pcall('SET', KEYS[1], 'v', 'PX', -5)", "1", "k") },
  {
    name: "SET EX and PX together",
    op: eval1("return redis.pcall('SET', KEYS[1], 'v', 'EX', 5, 'PX', 5)", "1", "k"),
  },
  {
    name: "SET EXAT in the past",
    op: eval1(
      "return {redis.call('SET', KEYS[1], 'v', 'EXAT', 1), redis.call('EXISTS', KEYS[1])}",
      "1",
      "k",
    ),
  },
  {
    name: "SET KEEPTTL",
    setup: [["SET", "k", "v", "PXAT", at(10_000_000)]],
    op: eval1(
      "return {redis.call('SET', KEYS[1], 'w', 'KEEPTTL'), redis.call('PEXPIRETIME', KEYS[1]) > 0}",
      "1",
      "k",
    ),
  },
  {
    name: "SETEX and PSETEX",
    op: eval1(
      "return {redis.call('SETEX', KEYS[1], 100, 'v'), redis.call('PSETEX', KEYS[2], 100, 'w'), redis.call('MGET', KEYS[1], KEYS[2])}",
      "2",
      "k",
      "l",
    ),
  },
  { name: "SETEX 0", op: eval1("return redis.pcall('SETEX', KEYS[1], 0, 'v')", "1", "k") },
  { name: "PSETEX x", op: eval1("return redis.pcall('PSETEX', KEYS[1], 'x', 'v')", "1", "k") },
  {
    name: "GETEX EX and PERSIST",
    setup: [["SET", "k", "v"]],
    op: eval1(
      "return {redis.call('GETEX', KEYS[1], 'EX', 100), redis.call('TTL', KEYS[1]), redis.call('GETEX', KEYS[1], 'PERSIST'), redis.call('TTL', KEYS[1])}",
      "1",
      "k",
    ),
  },
  {
    name: "GETEX PXAT in the past",
    setup: [["SET", "k", "v"]],
    op: eval1(
      "return {redis.call('GETEX', KEYS[1], 'PXAT', 5), redis.call('EXISTS', KEYS[1])}",
      "1",
      "k",
    ),
  },
  {
    name: "GETEX EX -1",
    setup: [["SET", "k", "v"]],
    op: eval1("return redis.pcall('GETEX', KEYS[1], 'EX', -1)", "1", "k"),
  },
  {
    name: "TTL readers without an expiry and without a key",
    setup: [["SET", "k", "v"]],
    op: eval1(
      "return {redis.call('TTL', KEYS[1]), redis.call('PTTL', KEYS[1]), redis.call('EXPIRETIME', KEYS[2]), redis.call('PEXPIRETIME', KEYS[2])}",
      "2",
      "k",
      "missing",
    ),
  },
  {
    name: "EXPIRETIME and PEXPIRETIME of an absolute expiry, rounded as Redis rounds",
    setup: [["SET", "k", "v", "PXAT", at(10_000_600)], ["SET", "l", "v", "PXAT", at(10_000_400)]],
    op: eval1(
      "return {redis.call('EXPIRETIME', KEYS[1]), redis.call('PEXPIRETIME', KEYS[1]), redis.call('EXPIRETIME', KEYS[2])}",
      "2",
      "k",
      "l",
    ),
  },
  {
    name: "TTL with a stray argument",
    op: eval1("return redis.pcall('TTL', KEYS[1], 'x')", "1", "k"),
  },
  // Scripts: errors keep their line and the client's sha1.
  {
    name: "a wrong type on line 3",
    setup: [["SET", "k", "v"]],
    op: eval1("local a = 1\nlocal b = 2\nreturn redis.call('LPUSH', KEYS[1], 'x')", "1", "k"),
  },
  {
    name: "wrong arity on line 2, not in tail position",
    op: eval1("local a = 1\nlocal x = redis.call('GET')\nreturn x", "0"),
  },
  { name: "an unknown command", op: eval1("return redis.call('NOSUCH', 'x')", "0") },
  {
    name: "an error after a shebang",
    op: eval1("#!lua\nlocal a = 1\nreturn redis.call('INCR', KEYS[1], 5)", "1", "k"),
  },
  {
    name: "an invalid expire time raised on line 2",
    setup: [["SET", "k", "v"]],
    op: eval1("local a = 1\nreturn redis.call('SET', KEYS[1], 'v', 'EX', 'x')", "1", "k"),
  },
  { name: "a Lua error", op: eval1("local a = nil\nreturn a.b", "0") },
  { name: "a compile error", op: eval1("return (", "0") },
  {
    name: "redis.pcall's error table",
    setup: [["SET", "k", "v"]],
    op: eval1("local e = redis.pcall('INCR', KEYS[1]) return {type(e), e.err}", "1", "k"),
  },
  { name: "a wrong number of keys", op: eval1("return 1", "3", "a") },
  { name: "a negative number of keys", op: eval1("return 1", "-1") },
  { name: "redis.setresp(4)", op: eval1("redis.setresp(4)", "0") },
  { name: "the client's ARGV", op: eval1("return {#ARGV, ARGV[1], ARGV[2]}", "1", "k", "a", "b") },
  {
    name: "assigning into redis on line 2",
    op: eval1("local a = 1\nredis.call = nil return 1", "0"),
  },
  {
    name: "the redis table's members",
    op: eval1(
      "return {type(redis), type(redis.call), type(redis.pcall), type(redis.setresp), type(redis.sha1hex), redis.REDIS_VERSION_NUM > 0, redis.sha1hex('x')}",
      "0",
    ),
  },
  {
    name: "redis.call kept in a local",
    setup: [["SET", "k", "1"]],
    op: eval1(
      "local call = redis.call\ncall('INCR', KEYS[1])\nreturn call('INCR', KEYS[1])",
      "1",
      "k",
    ),
  },
  {
    name: "math.random is untouched",
    op: eval1("math.randomseed(7) return math.random(1000)", "0"),
  },
  // Scripts: random commands and stream commands where only one outcome exists.
  {
    name: "SPOP in a script",
    setup: [["SADD", "k", "only"]],
    op: eval1("return redis.call('SPOP', KEYS[1])", "1", "k"),
  },
  {
    name: "SRANDMEMBER of one member",
    setup: [["SADD", "k", "only"]],
    op: eval1(
      "return {redis.call('SRANDMEMBER', KEYS[1]), redis.call('SRANDMEMBER', KEYS[1], 3), redis.call('SRANDMEMBER', KEYS[1], -3)}",
      "1",
      "k",
    ),
  },
  {
    name: "SRANDMEMBER's errors",
    setup: [["SET", "k", "v"]],
    op: eval1(
      "return {redis.pcall('SRANDMEMBER', KEYS[1]), redis.pcall('SRANDMEMBER', KEYS[1], 'x'), redis.pcall('SRANDMEMBER', KEYS[2], 0), redis.pcall('SRANDMEMBER', KEYS[2], 5)}",
      "2",
      "k",
      "missing",
    ),
  },
  {
    name: "ZRANDMEMBER of the whole set in order",
    setup: [["ZADD", "z", "3", "c", "1", "a", "2", "b"]],
    op: eval1(
      "return {redis.call('ZRANDMEMBER', KEYS[1], 3), redis.call('ZRANDMEMBER', KEYS[1], 10, 'WITHSCORES')}",
      "1",
      "z",
    ),
  },
  {
    name: "ZRANDMEMBER's errors",
    setup: [["ZADD", "z", "1", "a"]],
    op: eval1(
      "return {redis.pcall('ZRANDMEMBER', KEYS[1], 1, 'WITHSCORE'), redis.pcall('ZRANDMEMBER', KEYS[1], '-9223372036854775807', 'WITHSCORES'), redis.pcall('ZRANDMEMBER', KEYS[2]), redis.pcall('ZRANDMEMBER', KEYS[1], 0)}",
      "2",
      "z",
      "missing",
    ),
  },
  {
    name: "HRANDFIELD of one field",
    setup: [["HSET", "h", "f", "v"]],
    op: eval1(
      "return {redis.call('HRANDFIELD', KEYS[1]), redis.call('HRANDFIELD', KEYS[1], -2, 'WITHVALUES'), redis.call('HRANDFIELD', KEYS[1], 5)}",
      "1",
      "h",
    ),
  },
  {
    name: "RANDOMKEY of one key",
    setup: [["SET", "only", "v"]],
    op: eval1("return redis.call('RANDOMKEY')", "0"),
  },
  { name: "RANDOMKEY of an empty db", op: eval1("return redis.call('RANDOMKEY')", "0") },
  {
    name: "XADD with an explicit id in a script",
    op: eval1(
      "return {redis.call('XADD', KEYS[1], '7-1', 'f', 'v'), redis.call('XADD', KEYS[1], '7-*', 'f', 'v')}",
      "1",
      "x",
    ),
  },
  {
    name: "XADD * errors in a script",
    setup: [["SET", "x", "v"]],
    op: eval1(
      "return {redis.pcall('XADD', KEYS[1], '*', 'f', 'v'), redis.pcall('XADD', KEYS[2], '*', 'f'), redis.pcall('XADD', KEYS[2], 'NOMKSTREAM', '*', 'f', 'v')}",
      "2",
      "x",
      "y",
    ),
  },
  {
    name: "XREADGROUP and XCLAIM 0 in a script",
    setup: STREAM_SETUP,
    op: eval1(
      "return {redis.call('XREADGROUP', 'GROUP', 'g', 'c1', 'STREAMS', KEYS[1], '>'), redis.call('XCLAIM', KEYS[1], 'g', 'c2', 0, '1-1', 'JUSTID'), redis.call('XPENDING', KEYS[1], 'g')}",
      "1",
      "s",
    ),
  },
  {
    name: "XAUTOCLAIM 0 in a script",
    setup: [...STREAM_SETUP, ["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">"]],
    op: eval1("return redis.call('XAUTOCLAIM', KEYS[1], 'g', 'c2', 0, '-', 'COUNT', 2)", "1", "s"),
  },
  {
    name: "XPENDING's summary and its errors",
    setup: STREAM_SETUP,
    op: eval1(
      "return {redis.call('XPENDING', KEYS[1], 'g'), redis.pcall('XPENDING', KEYS[1], 'g', '-', '+'), redis.pcall('XPENDING', KEYS[1], 'g', 'IDLE', 'x', '-', '+', 1), redis.pcall('XPENDING', KEYS[1], 'nogroup', '-', '+', 5)}",
      "1",
      "s",
    ),
  },
  {
    name: "SMEMBERS of a one-member set",
    setup: [["SADD", "k", "a"]],
    op: eval1("return redis.call('SMEMBERS', KEYS[1])", "1", "k"),
  },
  {
    name: "HGETALL of one field",
    setup: [["HSET", "h", "f", "v"]],
    op: eval1(
      "return {redis.call('HGETALL', KEYS[1]), redis.call('HVALS', KEYS[1]), redis.call('HKEYS', KEYS[1])}",
      "1",
      "h",
    ),
  },
];

/** The same cases, the script in RESP3 (redis.setresp(3) first). */
function resp3(op: string[]): string[] {
  if (op[0] !== "EVAL" || op[1]!.startsWith("#!")) return op;
  return ["EVAL", "redis.setresp(3) " + op[1]!, ...op.slice(2)];
}

async function compare(rack: FrameClient, twin: FrameClient, c: Case, protocol: Protocol) {
  await rack.call("FLUSHALL");
  await twin.call("FLUSHALL");
  let t = T0;
  const next = (argv: string[]): TestOp => ({ t: ++t + 1_000, seed: "4242", argv, protocol });
  for (const argv of c.setup ?? []) {
    await applyOp(rack, next(argv), "log");
    await applyOp(twin, next(argv), "rack");
  }
  const op = next(protocol === 3 ? resp3(c.op) : c.op);
  const mine = text(await applyOp(rack, op, "log"));
  const theirs = text(await applyOp(twin, op, "rack"));
  assert.equal(mine, theirs, `${c.name} (RESP${protocol})`);
}

for (const protocol of [2, 3] as const) {
  Deno.test(`wrapped commands and scripts answer as a plain twin Redis where nothing is left to time or chance (RESP${protocol})`, async () => {
    await using rackServer = await startRedis();
    await using twinServer = await startRedis();
    await using rack = await FrameClient.connect(rackServer.port);
    await using twin = await FrameClient.connect(twinServer.port);
    for (const c of CASES) {
      if (protocol === 2 || !c.resp2Only) await compare(rack, twin, c, protocol);
    }
  });
}

Deno.test("RESTORE with a relative ttl, ABSTTL and a ttl in the past answer as on a plain twin", async () => {
  await using rackServer = await startRedis();
  await using twinServer = await startRedis();
  await using rack = await FrameClient.connect(rackServer.port);
  await using twin = await FrameClient.connect(twinServer.port);
  await twin.call("SET", "src", "payload");
  const dumped = await twin.call("DUMP", "src");
  const payload = dumped.subarray(dumped.indexOf(0x0a) + 1, dumped.length - 2);
  const body = "return {redis.call('RESTORE', KEYS[1], ARGV[1], ARGV[2], unpack(ARGV, 3)), " +
    "redis.call('EXISTS', KEYS[1]), redis.call('TTL', KEYS[1])}";
  const t = Date.now();
  for (
    const args of [
      ["100000"],
      ["100000", "REPLACE"],
      [String(t + 100_000_000), "ABSTTL", "REPLACE"],
      ["5", "ABSTTL", "REPLACE"],
      ["0", "REPLACE"],
    ]
  ) {
    const [ttl, ...options] = args;
    const argv = ["EVAL", body, "1", "dst", ttl!, "<payload>", ...options];
    const bytes = argv.map((arg, i) => i === 5 ? payload : new TextEncoder().encode(arg));
    const op: TestOp = { t, seed: "1", argv };
    const mine = text(await applyOpBytes(rack, op, bytes, "log"));
    const theirs = text(await applyOpBytes(twin, op, bytes, "rack"));
    assert.equal(mine, theirs, `RESTORE ${args.join(" ")}`);
  }
  await rack.call("FLUSHALL");
  await twin.call("FLUSHALL");
});

async function applyOpBytes(
  client: FrameClient,
  op: TestOp,
  argv: Uint8Array[],
  mode: "log" | "rack",
): Promise<Uint8Array> {
  if (mode === "rack") return await client.call(...argv);
  const reply = await client.call(...wrapEval(argv, { logTimeMs: op.t, seed: op.seed }));
  return restoreScriptReply(reply, argv[1]!);
}
