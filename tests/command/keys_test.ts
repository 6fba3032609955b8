/**
 * Key extraction against a real Redis: for a corpus of requests across every
 * data type and key-spec shape, Pylon's key positions must name exactly the
 * keys `COMMAND GETKEYS` returns, and `COMMAND GETKEYSANDFLAGS` must match.
 */

import assert from "node:assert/strict";
import { startRedis } from "../harness/mod.ts";
import { commandKeys, commandReply, route } from "../../src/command/mod.ts";
import type { RespValue } from "../../src/resp/value.ts";
import { argv, connect, items, text } from "./resp3.ts";

/** Requests whose keys Redis can name (Redis checks arity, not the rest of the syntax). */
const CORPUS: string[][] = [
  // strings
  ["GET", "k"],
  ["get", "k"],
  ["SET", "k", "v"],
  ["SET", "k", "v", "GET"],
  ["set", "k", "v", "nx", "ex", "10"],
  ["SET", "k", "v", "get\0x"],
  ["MSET", "a", "1", "b", "2", "c", "3"],
  ["MSETNX", "a", "1", "b", "2"],
  ["MGET", "a", "b", "c"],
  ["APPEND", "k", "v"],
  ["INCR", "k"],
  ["GETEX", "k", "EX", "10"],
  ["GETDEL", "k"],
  ["LCS", "a", "b"],
  ["SETRANGE", "k", "0", "x"],
  ["SUBSTR", "k", "0", "1"],
  // bitmaps
  ["BITOP", "AND", "dest", "a", "b", "c"],
  ["BITCOUNT", "k"],
  ["BITFIELD", "k", "GET", "u8", "0"],
  ["BITFIELD", "k", "SET", "u8", "0", "1"],
  ["BITFIELD", "k", "INCRBY", "u8", "0", "1", "GET", "u8", "0"],
  ["BITFIELD", "k", "OVERFLOW", "SAT", "GET", "u8", "0", "GET", "i4", "4"],
  ["BITFIELD", "k", "GET", "u8"],
  ["BITFIELD", "k"],
  ["BITFIELD_RO", "k", "GET", "u8", "0"],
  // generic
  ["DEL", "a", "b", "c"],
  ["EXISTS", "a", "b"],
  ["UNLINK", "a", "b"],
  ["TOUCH", "a", "b"],
  ["RENAME", "a", "b"],
  ["COPY", "a", "b", "DB", "1"],
  ["RESTORE", "k", "0", "payload"],
  ["DUMP", "k"],
  ["TYPE", "k"],
  ["EXPIRE", "k", "10"],
  ["OBJECT", "ENCODING", "k"],
  ["object", "freq", "k"],
  ["MEMORY", "USAGE", "k", "SAMPLES", "5"],
  ["WATCH", "a", "b"],
  ["MIGRATE", "host", "6379", "k", "0", "5000"],
  ["MIGRATE", "host", "6379", "", "0", "5000", "KEYS", "a", "b", "c"],
  ["MIGRATE", "host", "6379", "", "0", "5000", "COPY", "REPLACE", "KEYS", "a", "b"],
  ["MIGRATE", "host", "6379", "k", "0", "5000", "KEYS", "a"],
  ["MIGRATE", "host", "6379", "", "0", "5000", "AUTH", "keys", "KEYS", "a"],
  ["MIGRATE", "host", "6379", "", "0", "5000", "AUTH2", "keys", "keys", "KEYS", "a", "b"],
  ["MIGRATE", "host", "6379", "", "0", "5000", "KEYS"],
  ["SORT", "k"],
  ["SORT", "k", "STORE", "dst"],
  ["SORT", "k", "BY", "w*", "GET", "o*", "LIMIT", "0", "10", "STORE", "dst"],
  ["SORT", "k", "LIMIT", "0", "store", "STORE", "d"],
  ["SORT", "k", "STORE", "a", "STORE", "b"],
  ["SORT", "k", "GET", "store", "ALPHA"],
  ["SORT_RO", "k", "BY", "x"],
  // lists
  ["LPUSH", "l", "a", "b"],
  ["LMOVE", "src", "dst", "LEFT", "RIGHT"],
  ["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"],
  ["LMPOP", "2", "l1", "l2", "LEFT", "COUNT", "2"],
  ["BLMPOP", "0", "2", "l1", "l2", "LEFT"],
  ["BLPOP", "l1", "l2", "0"],
  ["RPOPLPUSH", "a", "b"],
  ["LPOS", "l", "x", "RANK", "2"],
  // sets
  ["SADD", "s", "a"],
  ["SINTER", "s1", "s2", "s3"],
  ["SINTERSTORE", "d", "s1", "s2"],
  ["SINTERCARD", "2", "s1", "s2", "LIMIT", "5"],
  ["SINTERCARD", "2x", "s1", "s2"],
  ["SMOVE", "s1", "s2", "m"],
  ["SUNIONSTORE", "d", "a", "b"],
  ["SMISMEMBER", "s", "a", "b"],
  // hashes
  ["HSET", "h", "f", "v"],
  ["HMGET", "h", "f", "g"],
  ["HRANDFIELD", "h", "2"],
  // sorted sets
  ["ZADD", "z", "1", "a"],
  ["ZUNIONSTORE", "d", "2", "z1", "z2", "WEIGHTS", "1", "2"],
  ["ZINTERSTORE", "d", "3", "z1", "z2", "z3"],
  ["ZUNIONSTORE", "d", "2x", "a", "b"],
  ["ZINTER", "2", "z1", "z2", "WITHSCORES"],
  ["ZUNION", "3", "a", "b", "c"],
  ["ZDIFF", "2", "a", "b"],
  ["ZDIFFSTORE", "d", "2", "a", "b"],
  ["ZINTERCARD", "2", "a", "b"],
  ["ZRANGESTORE", "dst", "src", "0", "-1"],
  ["ZMPOP", "2", "z1", "z2", "MIN"],
  ["BZMPOP", "0", "1", "z", "MAX"],
  ["BZPOPMIN", "z1", "z2", "0"],
  ["ZRANGE", "z", "0", "-1"],
  // streams
  ["XADD", "s", "*", "f", "v"],
  ["XREAD", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0"],
  ["XREAD", "BLOCK", "0", "STREAMS", "s", "0"],
  ["XREAD", "STREAMS", "streams", "0"],
  ["XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s1", "s2", ">", ">"],
  ["XREADGROUP", "GROUP", "streams", "c", "STREAMS", "streams", "0"],
  ["XRANGE", "s", "-", "+"],
  ["XGROUP", "CREATE", "s", "g", "$"],
  ["XINFO", "STREAM", "s"],
  ["XAUTOCLAIM", "s", "g", "c", "0", "0"],
  ["XCLAIM", "s", "g", "c", "0", "1-1"],
  // geo
  ["GEOADD", "g", "1", "2", "m"],
  ["GEORADIUS", "g", "1", "2", "3", "km"],
  ["GEORADIUS", "g", "1", "2", "3", "km", "STORE", "dst"],
  ["GEORADIUS", "g", "1", "2", "3", "km", "STOREDIST", "dst"],
  ["GEORADIUS", "g", "1", "2", "3", "km", "STORE", "a", "STOREDIST", "b"],
  ["GEORADIUSBYMEMBER", "g", "m", "3", "km", "STORE", "dst"],
  ["GEORADIUS_RO", "g", "1", "2", "3", "km"],
  ["GEOSEARCHSTORE", "dst", "src", "FROMMEMBER", "m", "BYRADIUS", "1", "km"],
  // hyperloglog
  ["PFCOUNT", "a", "b"],
  ["PFMERGE", "d", "a", "b"],
  ["PFADD", "h", "x"],
  // scripting
  ["EVAL_RO", "return 1", "2", "a", "b", "c"],
  ["EVAL", "return 1", "0"],
  ["EVAL", "return 1", "5", "a"],
  ["EVALSHA", "0123456789012345678901234567890123456789", "1", "k", "arg"],
  ["FCALL", "f", "2", "a", "b"],
  ["FCALL_RO", "f", "1", "a"],
  // no keys, or arguments Redis rejects
  ["ZUNIONSTORE", "d", "0", "z"],
  ["ZUNIONSTORE", "d", "5", "a", "b"],
  ["XREAD", "STREAMS", "a", "b", "0"],
  ["LMPOP", "0", "a", "LEFT"],
  ["MIGRATE", "host", "6379", "", "0", "5000"],
  ["SORT", "k", "LIMIT", "0"],
  ["SORT", "k", "STORE"],
  ["XREADGROUP", "GROUP", "g", "c", "NOACK", "STREAMS", "s", "0"],
  ["XREAD", "COUNT", "1", "NOSUCH", "STREAMS", "s", "0"],
  ["ZUNIONSTORE", "d", "-1", "a"],
  ["ZINTER", " 2", "a", "b"],
  ["EVAL", "return 1", "abc", "a"],
  ["SINTERCARD", "1", "a", "b", "c"],
  ["GEORADIUS", "g", "1", "2", "3", "km", "STORE"],
  ["GEORADIUSBYMEMBER", "g", "m", "3", "km", "STOREDIST", "x", "STORE", "y"],
  ["LMPOP", "1", "a", "b", "LEFT"],
  ["GET", "a\0b"],
  ["PUBLISH", "ch", "m"],
  ["SPUBLISH", "ch", "m"],
  ["PING"],
  ["KEYS", "*"],
  ["CLIENT", "KILL", "1.2.3.4:5"],
];

function keysOf(reply: RespValue): string[] | string {
  if (reply.type === "error") return reply.value;
  return items(reply).map(text);
}

Deno.test("commandKeys() names the keys COMMAND GETKEYS names, for every request of the corpus", async () => {
  await using redis = await startRedis();
  using client = await connect(redis.port, 3);
  assert.ok(CORPUS.length >= 60);
  const commandsCovered = new Set<string>();
  for (const request of CORPUS) {
    const theirs = await client.call("COMMAND", "GETKEYS", ...request);
    const pylon = commandReply(argv("COMMAND", "GETKEYS", ...request));
    assert.deepEqual(pylon, theirs, `COMMAND GETKEYS ${request.join(" ")}: ${text(theirs)}`);

    const withFlags = await client.call("COMMAND", "GETKEYSANDFLAGS", ...request);
    const pylonFlags = commandReply(argv("COMMAND", "GETKEYSANDFLAGS", ...request));
    assert.deepEqual(pylonFlags, withFlags, `COMMAND GETKEYSANDFLAGS ${request.join(" ")}`);

    const routed = route(argv(...request));
    assert.notEqual(routed.kind, "error", request.join(" "));
    if (routed.kind === "error") continue;
    commandsCovered.add(routed.command.name);
    const positions = commandKeys(routed.command, argv(...request));
    const expected = keysOf(theirs);
    assert.deepEqual(
      positions.map((i) => request[i]),
      typeof expected === "string" ? [] : expected,
      `commandKeys(${request.join(" ")})`,
    );
  }
  assert.ok(commandsCovered.size >= 60, `only ${commandsCovered.size} commands covered`);
});
