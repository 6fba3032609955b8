/**
 * A corpus of write requests for proving Pylon's write-path checks against a
 * real Redis: for every command Pylon logs as a write, requests Redis accepts,
 * the type of key they work on (to prepare a db where their keys exist), and
 * a generator of near misses (wrong tokens, bad numbers, missing and extra
 * arguments, reordered options) made from the valid ones.
 */

/** The type of value a command's keys hold when they exist. */
export type KeyType =
  | "string"
  | "list"
  | "set"
  | "zset"
  | "hash"
  | "stream"
  | "hll"
  | "geo"
  | "none";

/** One write command's corpus. */
export interface Fixture {
  readonly type: KeyType;
  /** Requests Redis accepts on an empty db or on one where their keys exist (`$PAYLOAD` is a DUMP payload). */
  readonly valid: readonly (readonly string[])[];
  /** Hand-picked requests worth checking beyond the generated ones. */
  readonly extra?: readonly (readonly string[])[];
}

/** A time far in the future (2100-01-01) in seconds and in milliseconds. */
export const FUTURE_S = "4102444800";
export const FUTURE_MS = "4102444800000";

/** Every command Pylon classifies as a write (with its arguments where a rule decides). */
export const FIXTURES: Readonly<Record<string, Fixture>> = {
  "append": { type: "string", valid: [["APPEND", "k", "v"]] },
  "bitfield": {
    type: "string",
    valid: [
      ["BITFIELD", "k", "GET", "u8", "0"],
      ["BITFIELD", "k", "SET", "i8", "#1", "-5", "INCRBY", "u4", "2", "1"],
      ["BITFIELD", "k", "OVERFLOW", "SAT", "INCRBY", "u8", "0", "300", "OVERFLOW", "FAIL"],
    ],
    extra: [["BITFIELD", "k", "OVERFLOW", "SAT"], ["BITFIELD", "k", "GET", "u8", "#1"]],
  },
  "bitop": {
    type: "string",
    valid: [["BITOP", "AND", "d", "k", "k2"], ["BITOP", "not", "d", "k"]],
  },
  "copy": {
    type: "string",
    valid: [["COPY", "k", "k2"], ["COPY", "k", "k2", "DB", "1", "REPLACE"]],
    extra: [["COPY", "k", "k2", "REPLACE", "DB", "1", "DB", "2"]],
  },
  "decr": { type: "string", valid: [["DECR", "k"]] },
  "decrby": { type: "string", valid: [["DECRBY", "k", "5"]] },
  "del": { type: "string", valid: [["DEL", "k", "k2"]] },
  "eval": {
    type: "string",
    valid: [["EVAL", "return redis.call('GET', KEYS[1])", "1", "k"], ["EVAL", "return 1", "0"]],
  },
  "evalsha": {
    type: "string",
    // The sha of "return 1", loaded before the cases run.
    valid: [["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "1", "k", "a"]],
  },
  "expire": {
    type: "string",
    valid: [["EXPIRE", "k", "100"], ["EXPIRE", "k", "100", "XX", "GT"], ["EXPIRE", "k", "-5"]],
    extra: [["EXPIRE", "k", "9223372036854775"], ["EXPIRE", "k", "-9223372036854776"]],
  },
  "expireat": {
    type: "string",
    valid: [["EXPIREAT", "k", FUTURE_S, "NX"], ["EXPIREAT", "k", "-1"]],
    extra: [["EXPIREAT", "k", "9223372036854775808"], ["EXPIREAT", "k", "9223372036854776"]],
  },
  "fcall": { type: "string", valid: [["FCALL", "corpus_get", "1", "k"]] },
  "flushall": { type: "none", valid: [["FLUSHALL"], ["FLUSHALL", "ASYNC"], ["flushall", "sync"]] },
  "flushdb": { type: "none", valid: [["FLUSHDB"], ["FLUSHDB", "ASYNC"], ["flushdb", "sync"]] },
  "function|load": {
    type: "none",
    valid: [["FUNCTION", "LOAD", "REPLACE", "$LIBRARY"]],
  },
  "function|restore": { type: "none", valid: [["FUNCTION", "RESTORE", "$FPAYLOAD", "REPLACE"]] },
  "function|delete": { type: "none", valid: [["FUNCTION", "DELETE", "corpus"]] },
  "function|flush": {
    type: "none",
    valid: [["FUNCTION", "FLUSH"], ["FUNCTION", "FLUSH", "SYNC"]],
  },
  "geoadd": {
    type: "geo",
    valid: [
      ["GEOADD", "g", "13.36", "38.11", "palermo"],
      ["GEOADD", "g", "NX", "CH", "1", "2", "a", "3", "4", "b"],
    ],
  },
  "georadius": {
    type: "geo",
    valid: [
      ["GEORADIUS", "g", "1", "1", "500", "km", "STORE", "d"],
      ["GEORADIUS", "g", "1", "1", "500", "km", "COUNT", "1", "ANY", "DESC", "STOREDIST", "d"],
    ],
    extra: [["GEORADIUS", "g", "1", "1", "500", "km", "ANY", "COUNT", "1", "STORE", "d"]],
  },
  "georadiusbymember": {
    type: "geo",
    valid: [
      ["GEORADIUSBYMEMBER", "g", "m", "500", "km", "STORE", "d"],
      ["GEORADIUSBYMEMBER", "g", "m", "500", "mi", "ASC", "COUNT", "2", "STOREDIST", "d"],
    ],
  },
  "geosearchstore": {
    type: "geo",
    valid: [
      ["GEOSEARCHSTORE", "d", "g", "FROMMEMBER", "m", "BYRADIUS", "500", "km"],
      [
        "GEOSEARCHSTORE",
        "d",
        "g",
        "FROMLONLAT",
        "1",
        "1",
        "BYBOX",
        "100",
        "100",
        "km",
        "ASC",
        "COUNT",
        "1",
        "ANY",
        "STOREDIST",
      ],
    ],
    extra: [["GEOSEARCHSTORE", "d", "g", "COUNT", "1", "BYRADIUS", "5", "km", "FROMMEMBER", "m"]],
  },
  "getdel": { type: "string", valid: [["GETDEL", "k"]] },
  "getex": {
    type: "string",
    valid: [["GETEX", "k"], ["GETEX", "k", "EX", "100"], ["GETEX", "k", "PERSIST"]],
  },
  "getset": { type: "string", valid: [["GETSET", "k", "v"]] },
  "hdel": { type: "hash", valid: [["HDEL", "h", "f", "g"]] },
  "hincrby": { type: "hash", valid: [["HINCRBY", "h", "f", "5"]] },
  "hincrbyfloat": { type: "hash", valid: [["HINCRBYFLOAT", "h", "f", "1.5"]] },
  "hmset": { type: "hash", valid: [["HMSET", "h", "f", "1", "g", "2"]] },
  "hset": { type: "hash", valid: [["HSET", "h", "f", "1", "g", "2"]] },
  "hsetnx": { type: "hash", valid: [["HSETNX", "h", "x", "1"]] },
  "incr": { type: "string", valid: [["INCR", "k"]] },
  "incrby": { type: "string", valid: [["INCRBY", "k", "5"]] },
  "incrbyfloat": { type: "string", valid: [["INCRBYFLOAT", "k", "1.5"]] },
  "linsert": { type: "list", valid: [["LINSERT", "l", "BEFORE", "2", "x"]] },
  "lmove": { type: "list", valid: [["LMOVE", "l", "l2", "LEFT", "RIGHT"]] },
  "lmpop": {
    type: "list",
    valid: [["LMPOP", "2", "l", "l2", "LEFT", "COUNT", "2"], ["LMPOP", "1", "l", "RIGHT"]],
  },
  "lpop": { type: "list", valid: [["LPOP", "l"], ["LPOP", "l", "2"]] },
  "lpush": { type: "list", valid: [["LPUSH", "l", "a", "b"]] },
  "lpushx": { type: "list", valid: [["LPUSHX", "l", "a", "b"]] },
  "lrem": { type: "list", valid: [["LREM", "l", "0", "1"]] },
  "lset": { type: "list", valid: [["LSET", "l", "0", "x"]] },
  "ltrim": { type: "list", valid: [["LTRIM", "l", "0", "1"]] },
  "move": { type: "string", valid: [["MOVE", "k", "1"]] },
  "mset": { type: "string", valid: [["MSET", "k", "1", "k2", "2"]] },
  "msetnx": { type: "string", valid: [["MSETNX", "k", "1", "k2", "2"]] },
  "persist": { type: "string", valid: [["PERSIST", "k"]] },
  "pexpire": {
    type: "string",
    valid: [["PEXPIRE", "k", "100000", "LT"], ["PEXPIRE", "k", "0"]],
    extra: [["PEXPIRE", "k", "9223372036854775807"]],
  },
  "pexpireat": {
    type: "string",
    valid: [["PEXPIREAT", "k", FUTURE_MS], ["PEXPIREAT", "k", "9223372036854775807", "gt"]],
  },
  "pfadd": { type: "hll", valid: [["PFADD", "h", "a", "b"], ["PFADD", "h"]] },
  "pfcount": { type: "hll", valid: [["PFCOUNT", "h"]] },
  "pfmerge": { type: "hll", valid: [["PFMERGE", "d", "h", "h2"]] },
  "psetex": {
    type: "string",
    valid: [["PSETEX", "k", "100000", "v"]],
    extra: [["PSETEX", "k", "9223372036854775807", "v"]],
  },
  "publish": { type: "none", valid: [["PUBLISH", "ch", "hello"]] },
  "rename": { type: "string", valid: [["RENAME", "k", "k2"]] },
  "renamenx": { type: "string", valid: [["RENAMENX", "k", "k2"]] },
  "restore": {
    type: "string",
    valid: [
      ["RESTORE", "k", "0", "$PAYLOAD"],
      ["RESTORE", "k", "100000", "$PAYLOAD", "REPLACE", "IDLETIME", "5"],
      ["RESTORE", "k", FUTURE_MS, "$PAYLOAD", "ABSTTL", "FREQ", "5", "REPLACE"],
    ],
    extra: [
      ["RESTORE", "k", "0", "$PAYLOAD", "IDLETIME", "1", "FREQ", "2"],
      ["RESTORE", "k", "0", "$PAYLOAD", "FREQ", "256"],
      ["RESTORE", "k", "0", "$PAYLOAD", "IDLETIME", "-1"],
      ["RESTORE", "k", "0", "$PAYLOAD", "IDLETIME", "1", "IDLETIME", "2"],
    ],
  },
  "rpop": { type: "list", valid: [["RPOP", "l"], ["RPOP", "l", "2"]] },
  "rpoplpush": { type: "list", valid: [["RPOPLPUSH", "l", "l2"]] },
  "rpush": { type: "list", valid: [["RPUSH", "l", "a", "b"]] },
  "rpushx": { type: "list", valid: [["RPUSHX", "l", "a", "b"]] },
  "sadd": { type: "set", valid: [["SADD", "s", "a", "b"]] },
  "script|load": { type: "none", valid: [["SCRIPT", "LOAD", "return 1"]] },
  "script|flush": { type: "none", valid: [["SCRIPT", "FLUSH"], ["SCRIPT", "FLUSH", "ASYNC"]] },
  "sdiffstore": { type: "set", valid: [["SDIFFSTORE", "d", "s", "s2"]] },
  "set": {
    type: "string",
    valid: [
      ["SET", "k", "v"],
      ["SET", "k", "v", "NX", "GET", "EX", "100"],
      ["SET", "k", "v", "KEEPTTL", "XX"],
      ["SET", "k", "v", "PXAT", FUTURE_MS],
    ],
    extra: [["SET", "k", "v", "EX", "abc", "EX", "10"], [
      "SET",
      "k",
      "v",
      "EX",
      "9223372036854776",
    ]],
  },
  "setbit": { type: "string", valid: [["SETBIT", "k", "7", "1"]] },
  "setex": {
    type: "string",
    valid: [["SETEX", "k", "100", "v"]],
    extra: [["SETEX", "k", "9223372036854775", "v"], ["SETEX", "k", "9223372036854776", "v"]],
  },
  "setnx": { type: "string", valid: [["SETNX", "k", "v"]] },
  "setrange": { type: "string", valid: [["SETRANGE", "k", "2", "xyz"]] },
  "sinterstore": { type: "set", valid: [["SINTERSTORE", "d", "s", "s2"]] },
  "smove": { type: "set", valid: [["SMOVE", "s", "s2", "a"]] },
  "sort": {
    type: "list",
    valid: [
      ["SORT", "l", "STORE", "d"],
      [
        "SORT",
        "l",
        "BY",
        "nosort",
        "LIMIT",
        "0",
        "2",
        "GET",
        "#",
        "GET",
        "w_*",
        "DESC",
        "ALPHA",
        "STORE",
        "d",
      ],
    ],
    extra: [["SORT", "l", "STORE", "d", "ALPHA", "LIMIT", "0", "1", "BY", "x", "ASC", "DESC"]],
  },
  "spop": { type: "set", valid: [["SPOP", "s"], ["SPOP", "s", "2"]] },
  "spublish": { type: "none", valid: [["SPUBLISH", "ch", "hello"]] },
  "srem": { type: "set", valid: [["SREM", "s", "a", "b"]] },
  "sunionstore": { type: "set", valid: [["SUNIONSTORE", "d", "s", "s2"]] },
  "swapdb": { type: "none", valid: [["SWAPDB", "0", "1"]] },
  "unlink": { type: "string", valid: [["UNLINK", "k", "k2"]] },
  "xack": { type: "stream", valid: [["XACK", "s", "g", "1-1", "2-1"]] },
  "xadd": {
    type: "stream",
    valid: [
      ["XADD", "s", "2-1", "f", "v"],
      ["XADD", "s", "NOMKSTREAM", "MAXLEN", "~", "5", "LIMIT", "10", "3-1", "f", "v", "g", "w"],
      ["XADD", "s", "MINID", "=", "0-1", "4-1", "f", "v"],
    ],
    extra: [
      ["XADD", "s", "LIMIT", "10", "MAXLEN", "~", "5", "NOMKSTREAM", "5-1", "f", "v"],
      ["XADD", "s", "0-*", "f", "v"],
    ],
  },
  "xautoclaim": {
    type: "stream",
    valid: [["XAUTOCLAIM", "s", "g", "c", "0", "0-0", "COUNT", "10", "JUSTID"]],
  },
  "xclaim": {
    type: "stream",
    valid: [
      ["XCLAIM", "s", "g", "c", "0", "1-1"],
      [
        "XCLAIM",
        "s",
        "g",
        "c",
        "10",
        "1-1",
        "2-1",
        "IDLE",
        "5",
        "RETRYCOUNT",
        "2",
        "FORCE",
        "JUSTID",
      ],
    ],
  },
  "xdel": { type: "stream", valid: [["XDEL", "s", "1-1"]] },
  "xgroup|create": {
    type: "stream",
    valid: [
      ["XGROUP", "CREATE", "s", "g2", "$"],
      ["XGROUP", "CREATE", "s", "g3", "0", "MKSTREAM", "ENTRIESREAD", "1"],
    ],
  },
  "xgroup|createconsumer": {
    type: "stream",
    valid: [["XGROUP", "CREATECONSUMER", "s", "g", "c2"]],
  },
  "xgroup|delconsumer": { type: "stream", valid: [["XGROUP", "DELCONSUMER", "s", "g", "c"]] },
  "xgroup|destroy": { type: "stream", valid: [["XGROUP", "DESTROY", "s", "g"]] },
  "xgroup|setid": {
    type: "stream",
    valid: [["XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD", "0"], [
      "XGROUP",
      "SETID",
      "s",
      "g",
      "$",
    ]],
  },
  "xreadgroup": {
    type: "stream",
    valid: [
      ["XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">"],
      ["XREADGROUP", "NOACK", "GROUP", "g", "c", "STREAMS", "s", "0"],
    ],
  },
  "xsetid": {
    type: "stream",
    valid: [["XSETID", "s", "5-0"], [
      "XSETID",
      "s",
      "5-0",
      "ENTRIESADDED",
      "10",
      "MAXDELETEDID",
      "0-1",
    ]],
  },
  "xtrim": {
    type: "stream",
    valid: [["XTRIM", "s", "MAXLEN", "0"], ["XTRIM", "s", "LIMIT", "10", "MINID", "~", "0-1"]],
  },
  "zadd": {
    type: "zset",
    valid: [["ZADD", "z", "1", "a"], ["ZADD", "z", "XX", "GT", "CH", "INCR", "2", "a"]],
  },
  "zdiffstore": { type: "zset", valid: [["ZDIFFSTORE", "d", "2", "z", "z2"]] },
  "zincrby": { type: "zset", valid: [["ZINCRBY", "z", "1.5", "a"]] },
  "zinterstore": {
    type: "zset",
    valid: [["ZINTERSTORE", "d", "2", "z", "z2", "WEIGHTS", "1", "0.5", "AGGREGATE", "MAX"]],
  },
  "zmpop": { type: "zset", valid: [["ZMPOP", "1", "z", "MIN", "COUNT", "2"]] },
  "zpopmax": { type: "zset", valid: [["ZPOPMAX", "z"], ["ZPOPMAX", "z", "2"]] },
  "zpopmin": { type: "zset", valid: [["ZPOPMIN", "z"], ["ZPOPMIN", "z", "2"]] },
  "zrangestore": {
    type: "zset",
    valid: [
      ["ZRANGESTORE", "d", "z", "0", "-1"],
      ["ZRANGESTORE", "d", "z", "(1", "+inf", "BYSCORE", "LIMIT", "0", "1"],
      ["ZRANGESTORE", "d", "z", "+", "[a", "BYLEX", "REV"],
    ],
  },
  "zrem": { type: "zset", valid: [["ZREM", "z", "a", "b"]] },
  "zremrangebylex": { type: "zset", valid: [["ZREMRANGEBYLEX", "z", "[a", "(c"]] },
  "zremrangebyrank": { type: "zset", valid: [["ZREMRANGEBYRANK", "z", "0", "1"]] },
  "zremrangebyscore": {
    type: "zset",
    valid: [["ZREMRANGEBYSCORE", "z", "(1", "+inf"], ["ZREMRANGEBYSCORE", "z", "-inf", "2.5"]],
  },
  "zunionstore": {
    type: "zset",
    valid: [
      ["ZUNIONSTORE", "d", "2", "z", "z2"],
      ["ZUNIONSTORE", "d", "2", "z", "z2", "AGGREGATE", "MIN", "WEIGHTS", "2", "0.5"],
    ],
  },
};

/** Commands that create a key of each type, named `key`. */
export function createKey(type: KeyType, key: string): string[][] {
  switch (type) {
    case "string":
      return [["SET", key, "12"]];
    case "list":
      return [["RPUSH", key, "3", "1", "2"]];
    case "set":
      return [["SADD", key, "a", "b", "c"]];
    case "zset":
      return [["ZADD", key, "1", "a", "2", "b", "3", "c"]];
    case "hash":
      return [["HSET", key, "f", "1", "g", "2"]];
    case "stream":
      return [
        ["XADD", key, "1-1", "f", "v"],
        ["XGROUP", "CREATE", key, "g", "0"],
        ["XGROUP", "CREATECONSUMER", key, "g", "c"],
      ];
    case "hll":
      return [["PFADD", key, "a", "b"]];
    case "geo":
      return [["GEOADD", key, "1", "1", "m", "2", "2", "n"]];
    case "none":
      return [];
  }
}

/** The function library the scripting fixtures load (`$LIBRARY`). */
export const CORPUS_LIBRARY = "#!lua name=corpus\n" +
  "redis.register_function('corpus_get', function(keys) return redis.call('GET', keys[1]) end)";

/** Arguments put in place of each argument of a valid request. */
const REPLACEMENTS = [
  "abc",
  "1.5",
  "",
  "-1",
  "+1",
  "01",
  " 1",
  "1e3",
  "0x10",
  "(1",
  "#1",
  "nan",
  "9223372036854775808",
  "NX",
  "LIMIT",
  "*",
  "0",
  "inf",
  "1-*",
  "01-1",
  "-",
  "+",
  "[a",
  "i8",
  "u64",
  "#0",
];

/** Arguments appended to a valid request. */
const APPENDED = ["garbage", "1", "NX", "COUNT", "STORE", "GET"];

/**
 * Near misses of a valid request (argv[0..start) is the command name and
 * subcommand and stays): each argument replaced, dropped, doubled or swapped
 * with the next, arguments appended, and the valid request in other cases.
 */
export function nearMisses(valid: readonly string[], start: number): string[][] {
  const out: string[][] = [];
  const n = valid.length;
  for (let i = start; i < n; i++) {
    for (const value of REPLACEMENTS) out.push(valid.with(i, value));
    out.push(valid.toSpliced(i, 1));
    out.push(valid.toSpliced(i, 0, valid[i]!));
    if (i + 1 < n) out.push(valid.with(i, valid[i + 1]!).with(i + 1, valid[i]!));
  }
  for (const extra of APPENDED) out.push([...valid, extra]);
  out.push([...valid, ...valid.slice(start)]);
  out.push(valid.map((arg, i) => i < start ? arg : arg.toLowerCase()));
  out.push(valid.map((arg, i) => i < start ? arg : arg.toUpperCase()));
  return out;
}

/** Every ordered choice of up to `size` items (with repeats). */
export function sequences<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [[]];
  let layer: T[][] = [[]];
  for (let k = 0; k < size; k++) {
    layer = layer.flatMap((prefix) => items.map((item) => [...prefix, item]));
    out.push(...layer);
  }
  return out;
}
