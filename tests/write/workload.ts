/**
 * A seeded generator of Redis commands over every data type: writes of each
 * kind (with options, expiries, errors from wrong types, transactions) mixed
 * with reads. The same seed gives the same sequence, so a run replays.
 */

import { SeededRandom } from "../../src/random.ts";

/** One generated request, with how to compare its replies. */
export interface Step {
  argv: string[];
  /** Compare the reply as a set (order is not part of Redis's contract here). */
  unordered?: boolean;
  /** Only compare the sign of a TTL: clocks move between the two executions. */
  ttl?: boolean;
}

const STRINGS = ["s0", "s1", "s2", "s3"];
const LISTS = ["l0", "l1", "l2"];
const HASHES = ["h0", "h1", "h2"];
const SETS = ["S0", "S1", "S2"];
const ZSETS = ["z0", "z1", "z2"];
const OTHER = ["b0", "p0", "g0", "x0"];

/** Generates `count` steps from `seed`. */
export function workload(seed: number, count: number): Step[] {
  const r = new SeededRandom(seed);
  const steps: Step[] = [];
  let streamMs = 1_000;
  const any = () => r.pick([...STRINGS, ...LISTS, ...HASHES, ...SETS, ...ZSETS, ...OTHER]);
  // Mostly the right type, sometimes any key (WRONGTYPE and friends).
  const key = (pool: string[]) => (r.chance(0.08) ? any() : r.pick(pool));
  const word = () =>
    r.pick(["a", "b", "c", "d", "e", "f", "g"]) + (r.chance(0.3) ? String(r.int(0, 9)) : "");
  const num = () => String(r.int(-20, 100));
  const float = () => r.pick(["1.5", "-0.25", "3", "1e2", "0.1"]);

  const generators: (() => Step)[] = [
    // strings
    () => ({
      argv: [
        "SET",
        key(STRINGS),
        word(),
        ...r.pick([[], ["NX"], ["XX"], ["GET"], ["KEEPTTL"], ["EX", "1000"]]),
      ],
    }),
    () => ({ argv: ["SETNX", key(STRINGS), word()] }),
    () => ({ argv: ["GETSET", key(STRINGS), num()] }),
    () => ({ argv: ["GETDEL", key(STRINGS)] }),
    () => ({ argv: ["APPEND", key(STRINGS), word()] }),
    () => ({ argv: [r.pick(["INCR", "DECR"]), key(STRINGS)] }),
    () => ({ argv: [r.pick(["INCRBY", "DECRBY"]), key(STRINGS), num()] }),
    () => ({ argv: ["INCRBYFLOAT", key(STRINGS), float()] }),
    () => ({ argv: ["SETRANGE", key(STRINGS), String(r.int(0, 10)), word()] }),
    () => ({ argv: ["MSET", r.pick(STRINGS), word(), r.pick(STRINGS), num()] }),
    () => ({ argv: ["MSETNX", r.pick(STRINGS), word(), r.pick(STRINGS), word()] }),
    () => ({ argv: ["SETEX", key(STRINGS), r.pick(["1000", "0", "-5"]), word()] }),
    () => ({
      argv: ["GETEX", key(STRINGS), ...r.pick([["PERSIST"], ["EX", "1000"], ["PX", "500000"], []])],
    }),
    // keys
    () => ({ argv: [r.pick(["DEL", "UNLINK"]), any(), ...(r.chance(0.3) ? [any()] : [])] }),
    () => ({
      argv: [
        r.pick(["EXPIRE", "PEXPIRE"]),
        any(),
        r.pick(["100000", "-1", "0"]),
        ...r.pick([[], ["NX"], ["GT"]]),
      ],
    }),
    () => ({ argv: ["PERSIST", any()] }),
    () => ({ argv: [r.pick(["RENAME", "RENAMENX"]), any(), any()] }),
    () => ({ argv: ["COPY", any(), any(), ...(r.chance(0.5) ? ["REPLACE"] : [])] }),
    () => ({ argv: ["MOVE", any(), String(r.int(1, 2))] }),
    // lists
    () => ({
      argv: [
        r.pick(["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]),
        key(LISTS),
        word(),
        ...(r.chance(0.5) ? [word()] : []),
      ],
    }),
    () => ({
      argv: [r.pick(["LPOP", "RPOP"]), key(LISTS), ...(r.chance(0.4) ? [String(r.int(0, 3))] : [])],
    }),
    () => ({ argv: ["LSET", key(LISTS), String(r.int(-3, 3)), word()] }),
    () => ({ argv: ["LINSERT", key(LISTS), r.pick(["BEFORE", "AFTER"]), word(), word()] }),
    () => ({ argv: ["LREM", key(LISTS), String(r.int(-2, 2)), word()] }),
    () => ({ argv: ["LTRIM", key(LISTS), String(r.int(0, 2)), String(r.int(-1, 5))] }),
    () => ({
      argv: ["LMOVE", key(LISTS), key(LISTS), r.pick(["LEFT", "RIGHT"]), r.pick(["LEFT", "RIGHT"])],
    }),
    () => ({
      argv: [
        "LMPOP",
        "2",
        key(LISTS),
        key(LISTS),
        r.pick(["LEFT", "RIGHT"]),
        "COUNT",
        String(r.int(1, 3)),
      ],
    }),
    // hashes
    () => ({
      argv: ["HSET", key(HASHES), word(), word(), ...(r.chance(0.4) ? [word(), num()] : [])],
    }),
    () => ({ argv: ["HSETNX", key(HASHES), word(), word()] }),
    () => ({ argv: ["HDEL", key(HASHES), word(), word()] }),
    () => ({ argv: ["HINCRBY", key(HASHES), word(), num()] }),
    () => ({ argv: ["HINCRBYFLOAT", key(HASHES), word(), float()] }),
    // sets
    () => ({ argv: ["SADD", key(SETS), word(), word(), ...(r.chance(0.3) ? [num()] : [])] }),
    () => ({ argv: ["SREM", key(SETS), word()] }),
    () => ({ argv: ["SMOVE", key(SETS), key(SETS), word()] }),
    () => ({
      argv: [
        r.pick(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]),
        r.pick(SETS),
        key(SETS),
        key(SETS),
      ],
    }),
    // sorted sets
    () => ({
      argv: [
        "ZADD",
        key(ZSETS),
        ...r.pick([[], ["NX"], ["XX"], ["GT"], ["CH"], ["LT", "CH"]]),
        num(),
        word(),
        num(),
        word(),
      ],
    }),
    () => ({ argv: ["ZADD", key(ZSETS), "INCR", float(), word()] }),
    () => ({ argv: ["ZINCRBY", key(ZSETS), float(), word()] }),
    () => ({ argv: ["ZREM", key(ZSETS), word()] }),
    () => ({
      argv: [
        r.pick(["ZPOPMIN", "ZPOPMAX"]),
        key(ZSETS),
        ...(r.chance(0.5) ? [String(r.int(1, 3))] : []),
      ],
    }),
    () => ({
      argv: ["ZREMRANGEBYSCORE", key(ZSETS), String(r.int(-20, 10)), String(r.int(10, 60))],
    }),
    () => ({ argv: ["ZRANGESTORE", r.pick(ZSETS), key(ZSETS), "0", "2"] }),
    () => ({
      argv: [r.pick(["ZUNIONSTORE", "ZINTERSTORE"]), r.pick(ZSETS), "2", key(ZSETS), key(ZSETS)],
    }),
    () => ({ argv: ["ZMPOP", "1", key(ZSETS), r.pick(["MIN", "MAX"]), "COUNT", "2"] }),
    // streams, bitmaps, HyperLogLog, geo
    () => ({ argv: ["XADD", "x0", `${(streamMs += r.int(1, 5))}-0`, "f", word()] }),
    () => ({ argv: ["XTRIM", "x0", "MAXLEN", String(r.int(1, 5))] }),
    () => ({ argv: ["XDEL", "x0", `${streamMs}-0`] }),
    () => ({ argv: ["SETBIT", "b0", String(r.int(0, 64)), r.pick(["0", "1"])] }),
    () => ({
      argv: ["BITFIELD", "b0", "INCRBY", "u8", "8", String(r.int(1, 50)), "GET", "u8", "8"],
    }),
    () => ({ argv: ["BITOP", "OR", "b0", "b0", key(STRINGS)] }),
    () => ({ argv: ["PFADD", "p0", word(), word()] }),
    () => ({ argv: ["PFCOUNT", "p0"] }),
    () => ({ argv: ["GEOADD", "g0", String(r.int(-170, 170)), String(r.int(-80, 80)), word()] }),
    () => ({ argv: ["SORT", key(LISTS), "ALPHA", "STORE", r.pick(LISTS)] }),
    // reads, to see the state the writes left
    () => ({ argv: ["GET", key(STRINGS)] }),
    () => ({ argv: ["MGET", ...STRINGS] }),
    () => ({ argv: ["LRANGE", key(LISTS), "0", "-1"] }),
    () => ({ argv: ["HGETALL", key(HASHES)] }),
    () => ({ argv: ["SMEMBERS", key(SETS)], unordered: true }),
    () => ({ argv: ["ZRANGE", key(ZSETS), "0", "-1", "WITHSCORES"] }),
    () => ({ argv: ["XRANGE", "x0", "-", "+"] }),
    () => ({ argv: ["TYPE", any()] }),
    () => ({ argv: ["TTL", any()], ttl: true }),
    () => ({ argv: ["BITCOUNT", "b0"] }),
    () => ({ argv: ["GEOPOS", "g0", word()] }),
    () => ({ argv: ["EXISTS", ...STRINGS, ...LISTS] }),
  ];

  for (let i = 0; i < count; i++) {
    const roll = r.next();
    if (roll < 0.04) {
      steps.push({ argv: ["SELECT", String(r.int(0, 2))] });
    } else if (roll < 0.08) {
      // A client transaction: one op on every rack, EXEC answers with an array.
      steps.push({ argv: ["MULTI"] });
      for (let j = r.int(1, 3); j > 0; j--) {
        // Inside EXEC's array a reply is compared as is: no set-order or TTL replies there.
        let step = r.pick(generators)();
        while (step.unordered || step.ttl) step = r.pick(generators)();
        steps.push(step);
      }
      steps.push({ argv: [r.chance(0.9) ? "EXEC" : "DISCARD"] });
    } else {
      steps.push(r.pick(generators)());
    }
  }
  return steps;
}
