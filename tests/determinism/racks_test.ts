/**
 * Two racks, one log: two separate Redis servers apply the same ops with the
 * same log times and seeds, the second one later in real time (waits of a few
 * hundred ms before some ops) and with its sets, hashes and keys laid out
 * differently (inserted in another order, then rebuilt by DEBUG RELOAD).
 * Applied with time and chance from the log, every reply and the racks' state
 * (DEBUG DIGEST, stored expiries, each stream's PEL with its delivery times)
 * are equal. Each scenario is also applied as Pylon applied ops before
 * (`rack` mode: each Redis deciding by its own clock and its own random
 * source) and must then differ: that is what makes the equality mean
 * something.
 */

import assert from "node:assert/strict";
import { SeededRandom } from "../../src/random.ts";
import { startRedis } from "../harness/mod.ts";
import {
  applyAll,
  type ApplyMode,
  applyOp,
  FrameClient,
  rackState,
  type TestOp,
  text,
} from "./racks.ts";

/** What a scenario gives each rack before its ops: the same data, laid out differently. */
interface Setup {
  early: string[][];
  late: string[][];
}

interface Outcome {
  early: string[];
  late: string[];
  earlyState: string;
  lateState: string;
}

async function run(setup: Setup, ops: TestOp[], mode: ApplyMode): Promise<Outcome> {
  await using earlyServer = await startRedis();
  await using lateServer = await startRedis();
  await using early = await FrameClient.connect(earlyServer.port);
  await using late = await FrameClient.connect(lateServer.port);
  for (const argv of setup.early) await early.call(...argv);
  for (const argv of setup.late) await late.call(...argv);
  const [earlyReplies, lateReplies] = await Promise.all([
    applyAll(early, ops, mode, false),
    applyAll(late, ops, mode, true),
  ]);
  return {
    early: earlyReplies,
    late: lateReplies,
    earlyState: await rackState(early),
    lateState: await rackState(late),
  };
}

/** Applies the scenario both ways: equal by the log, different by each rack's own clock and chance. */
async function scenario(name: string, setup: Setup, ops: TestOp[]): Promise<void> {
  const byLog = await run(setup, ops, "log");
  for (let i = 0; i < ops.length; i++) {
    assert.equal(byLog.late[i], byLog.early[i], `${name}: reply ${i} to ${ops[i]!.argv.join(" ")}`);
  }
  assert.equal(byLog.lateState, byLog.earlyState, `${name}: the racks' state`);
  const byRack = await run(setup, ops, "rack");
  const differs = byRack.early.some((reply, i) => reply !== byRack.late[i]) ||
    byRack.earlyState !== byRack.lateState;
  assert.ok(differs, `${name}: applied by each rack's own clock and chance, the racks must differ`);
}

/** Log times start in the past, so every rack's clock is past each op's T when it applies it. */
function clock(): (stepMs: number) => number {
  let t = Date.now() - 30_000;
  return (stepMs) => (t += stepMs);
}

const members = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** The same sets, hashes, sorted sets and keys, inserted in opposite orders; the late rack reloads. */
function layouts(): Setup {
  const set = members("m", 300);
  const fields = members("f", 200);
  const keys = members("key:", 150);
  const early = [
    ["SADD", "set", ...set],
    ["SADD", "small", "1", "2", "3", "40", "500"],
    ["HSET", "hash", ...fields.flatMap((f) => [f, `v-${f}`])],
    ["ZADD", "zset", ...fields.flatMap((f, i) => [String(i % 7), f])],
    ...keys.map((k) => ["SET", k, "x"]),
  ];
  const late = [
    ...[...set].reverse().map((m) => ["SADD", "set", m]),
    ["SADD", "small", "500", "40", "3", "2", "1"],
    ...[...fields].reverse().map((f) => ["HSET", "hash", f, `v-${f}`]),
    ...[...fields].reverse().map((f) => ["ZADD", "zset", String(fields.indexOf(f) % 7), f]),
    ...[...keys].reverse().map((k) => ["SET", k, "x"]),
    ["DEBUG", "RELOAD"],
  ];
  return { early, late };
}

const NO_SETUP: Setup = { early: [], late: [] };

Deno.test("TIME inside scripts answers the op's log time on every rack", async () => {
  const t = clock();
  const body = "local now = redis.call('TIME') " +
    "redis.call('SET', KEYS[1], now[1] .. '.' .. now[2]) return now";
  await scenario("TIME", NO_SETUP, [
    { t: t(0), seed: "1", argv: ["EVAL", body, "1", "a"] },
    { t: t(250), seed: "2", argv: ["EVAL", body, "1", "b"], lateRackDelayMs: 300, protocol: 3 },
    { t: t(1), seed: "3", argv: ["EVAL", "return redis.call('TIME')", "0"], lateRackDelayMs: 50 },
  ]);
});

Deno.test("XADD * gets the id Redis would give at the op's log time, as a command and in scripts", async () => {
  const t = clock();
  const script = "return {redis.call('XADD', KEYS[1], '*', 'n', ARGV[1]), " +
    "redis.call('XADD', KEYS[1], 'MAXLEN', '~', 100, '*', 'n', ARGV[1])}";
  await scenario("XADD *", NO_SETUP, [
    { t: t(0), seed: "1", argv: ["XADD", "s", "*", "n", "1"] },
    { t: t(0), seed: "2", argv: ["XADD", "s", "*", "n", "2"], lateRackDelayMs: 300 },
    { t: t(5), seed: "3", argv: ["EVAL", script, "1", "s", "3"], lateRackDelayMs: 200 },
    { t: t(0), seed: "4", argv: ["XADD", "s", "NOMKSTREAM", "MAXLEN", "=", "3", "*", "n", "4"] },
    // A last id ahead of the log's clock: the next id follows it.
    { t: t(1), seed: "5", argv: ["XADD", "s", String(Date.now() + 9_000_000) + "-7", "n", "5"] },
    { t: t(1), seed: "6", argv: ["XADD", "s", "*", "n", "6"], lateRackDelayMs: 100, protocol: 3 },
    { t: t(1), seed: "7", argv: ["EVAL", script, "1", "fresh", "7"] },
  ]);
});

Deno.test("SPOP removes the same members on every rack, whatever each set's layout", async () => {
  const t = clock();
  const script = "local popped = redis.call('SPOP', KEYS[1], ARGV[1]) " +
    "redis.call('RPUSH', KEYS[2], unpack(popped)) return popped";
  await scenario("SPOP", layouts(), [
    { t: t(0), seed: "11", argv: ["SPOP", "set", "5"] },
    { t: t(3), seed: "12", argv: ["SPOP", "set"], lateRackDelayMs: 20 },
    { t: t(3), seed: "13", argv: ["SPOP", "set", "7"], protocol: 3 },
    { t: t(3), seed: "14", argv: ["EVAL", script, "2", "set", "popped", "4"] },
    { t: t(3), seed: "15", argv: ["SPOP", "small", "2"] },
    { t: t(3), seed: "16", argv: ["EVAL", "return redis.call('SPOP', KEYS[1])", "1", "small"] },
    { t: t(3), seed: "17", argv: ["SPOP", "small", "10"] },
  ]);
});

Deno.test("SRANDMEMBER, ZRANDMEMBER, HRANDFIELD and RANDOMKEY inside scripts choose alike on every rack", async () => {
  const t = clock();
  const keep = (call: string) =>
    `local r = ${call} if type(r) == 'table' then redis.call('RPUSH', KEYS[2], unpack(r)) ` +
    "else redis.call('RPUSH', KEYS[2], r) end return r";
  const ops: TestOp[] = [];
  const seeds = new SeededRandom(7);
  for (const count of ["3", "-5", "1", "400", "-1"]) {
    ops.push(
      {
        t: t(1),
        seed: String(seeds.nextU32() >>> 1),
        argv: [
          "EVAL",
          keep("redis.call('SRANDMEMBER', KEYS[1], ARGV[1])"),
          "2",
          "set",
          "out",
          count,
        ],
      },
      {
        t: t(1),
        seed: String(seeds.nextU32() >>> 1),
        argv: [
          "EVAL",
          keep("redis.call('ZRANDMEMBER', KEYS[1], ARGV[1], 'WITHSCORES')"),
          "2",
          "zset",
          "out",
          count,
        ],
      },
      {
        t: t(1),
        seed: String(seeds.nextU32() >>> 1),
        argv: [
          "EVAL",
          keep("redis.call('HRANDFIELD', KEYS[1], ARGV[1], 'WITHVALUES')"),
          "2",
          "hash",
          "out",
          count,
        ],
        protocol: 3,
      },
    );
  }
  for (let i = 0; i < 4; i++) {
    ops.push({
      t: t(1),
      seed: String(100 + i),
      argv: ["EVAL", keep("redis.call('RANDOMKEY')"), "2", "-", "out"],
    });
  }
  ops.push(
    {
      t: t(1),
      seed: "7",
      argv: ["EVAL", keep("redis.call('SRANDMEMBER', KEYS[1])"), "2", "set", "out"],
    },
    {
      t: t(1),
      seed: "8",
      argv: ["EVAL", keep("redis.call('HRANDFIELD', KEYS[1])"), "2", "hash", "out"],
    },
    {
      t: t(1),
      seed: "9",
      argv: ["EVAL", keep("redis.call('ZRANDMEMBER', KEYS[1])"), "2", "zset", "out"],
    },
    // Hash-ordered replies come sorted: a script writing in their order writes alike.
    {
      t: t(1),
      seed: "10",
      argv: ["EVAL", keep("redis.call('SMEMBERS', KEYS[1])"), "2", "set", "order"],
    },
    {
      t: t(1),
      seed: "11",
      argv: ["EVAL", keep("redis.call('HKEYS', KEYS[1])"), "2", "hash", "order"],
    },
    { t: t(1), seed: "12", argv: ["EVAL", keep("redis.call('KEYS', 'key:*')"), "2", "-", "order"] },
  );
  await scenario("random reads", layouts(), ops);
});

Deno.test("consumer groups: delivery times are the log's, and min-idle-time is decided by them", async () => {
  const t = clock();
  const setup: Setup = {
    early: [
      ...Array.from({ length: 8 }, (_, i) => ["XADD", "s", `1-${i + 1}`, "n", String(i)]),
      ["XGROUP", "CREATE", "s", "g", "0"],
    ],
    late: [
      ...Array.from({ length: 8 }, (_, i) => ["XADD", "s", `1-${i + 1}`, "n", String(i)]),
      ["XGROUP", "CREATE", "s", "g", "0"],
    ],
  };
  const claimScript =
    "return {redis.call('XCLAIM', KEYS[1], 'g', ARGV[1], 400, '1-4', '1-5', 'JUSTID'), " +
    "redis.call('XPENDING', KEYS[1], 'g', '-', '+', 10)}";
  const autoScript =
    "return redis.call('XAUTOCLAIM', KEYS[1], 'g', ARGV[1], 400, '0-0', 'COUNT', 3)";
  await scenario("consumer groups", setup, [
    {
      t: t(0),
      seed: "1",
      argv: ["XREADGROUP", "GROUP", "g", "c1", "COUNT", "3", "STREAMS", "s", ">"],
    },
    {
      t: t(100),
      seed: "2",
      argv: [
        "EVAL",
        "return redis.call('XREADGROUP', 'GROUP', 'g', 'c2', 'COUNT', 3, 'STREAMS', KEYS[1], '>')",
        "1",
        "s",
      ],
    },
    // 150 ms of log time since c1's delivery: not idle enough, though the late rack waited 600 ms.
    {
      t: t(50),
      seed: "3",
      argv: ["XCLAIM", "s", "g", "c3", "400", "1-1", "1-2"],
      lateRackDelayMs: 600,
    },
    // 500 ms of log time: idle enough, though the early rack applies it at once.
    { t: t(350), seed: "4", argv: ["XCLAIM", "s", "g", "c3", "400", "1-1", "1-4", "1-9"] },
    { t: t(10), seed: "5", argv: ["EVAL", claimScript, "1", "s", "c4"], lateRackDelayMs: 300 },
    { t: t(600), seed: "6", argv: ["XAUTOCLAIM", "s", "g", "c5", "400", "0-0", "COUNT", "2"] },
    { t: t(10), seed: "7", argv: ["EVAL", autoScript, "1", "s", "c6"], protocol: 3 },
    {
      t: t(10),
      seed: "8",
      argv: ["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", "0"],
      lateRackDelayMs: 200,
    },
    {
      t: t(10),
      seed: "9",
      argv: [
        "EVAL",
        "return redis.call('XPENDING', KEYS[1], 'g', 'IDLE', 500, '-', '+', 10)",
        "1",
        "s",
      ],
    },
    { t: t(10), seed: "10", argv: ["XCLAIM", "s", "g", "c7", "0", "1-6", "IDLE", "250", "JUSTID"] },
    {
      t: t(10),
      seed: "11",
      argv: ["EVAL", "return redis.call('XPENDING', KEYS[1], 'g', '-', '+', 10, 'c7')", "1", "s"],
      lateRackDelayMs: 150,
    },
  ]);
});

Deno.test("expiries inside scripts run on the log's clock: EXPIRE, PEXPIRE, SET EX, GETEX, TTL, PTTL", async () => {
  const t = clock();
  await scenario("expiries", NO_SETUP, [
    {
      t: t(0),
      seed: "1",
      argv: [
        "EVAL",
        "redis.call('SET', KEYS[1], 'v', 'PX', 250) return redis.call('PTTL', KEYS[1])",
        "1",
        "a",
      ],
    },
    // 100 ms of log time later: alive with 150 ms left, though the late rack waited 400 ms.
    {
      t: t(100),
      seed: "2",
      argv: [
        "EVAL",
        "return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1]), redis.call('TTL', KEYS[1])}",
        "1",
        "a",
      ],
      lateRackDelayMs: 400,
    },
    {
      t: t(0),
      seed: "3",
      argv: [
        "EVAL",
        "redis.call('SET', KEYS[1], 'v') redis.call('EXPIRE', KEYS[1], 1) " +
        "return {redis.call('GETEX', KEYS[1], 'PX', 700), redis.call('PEXPIRETIME', KEYS[1])}",
        "1",
        "b",
      ],
    },
    // 800 ms of log time later: gone, though the early rack applies it at once.
    {
      t: t(800),
      seed: "4",
      argv: ["EVAL", "return {redis.call('GET', KEYS[1]), redis.call('INCR', KEYS[1])}", "1", "b"],
    },
    {
      t: t(10),
      seed: "5",
      argv: [
        "EVAL",
        "redis.call('PEXPIRE', KEYS[1], 300) return {redis.call('PTTL', KEYS[1]), redis.call('EXPIRETIME', KEYS[1])}",
        "1",
        "b",
      ],
      lateRackDelayMs: 100,
    },
    // A command as the log holds it: an absolute expiry from the accepting node's clock.
    { t: t(10), seed: "6", argv: ["SET", "c", "v", "PXAT", String(t(0) + 200)], keys: ["c"] },
    { t: t(300), seed: "7", argv: ["GET", "c"], keys: ["c"], lateRackDelayMs: 50 },
    { t: t(0), seed: "8", argv: ["EVAL", "return redis.call('EXISTS', KEYS[1])", "1", "c"] },
  ]);
});

Deno.test("a generated mix of scripts and commands applies alike on two racks with different layouts and timing", async () => {
  const random = new SeededRandom(20_261_207);
  const pick = <T>(items: readonly T[]) => items[random.int(0, items.length - 1)]!;
  const t = clock();
  const bodies = [
    "return redis.call('TIME')",
    "return redis.call('XADD', KEYS[1], '*', 'n', ARGV[1])",
    "return redis.call('SPOP', KEYS[1], ARGV[1])",
    "return redis.call('SRANDMEMBER', KEYS[1], ARGV[1])",
    "return redis.call('ZRANDMEMBER', KEYS[1], ARGV[1], 'WITHSCORES')",
    "return redis.call('HRANDFIELD', KEYS[1], ARGV[1], 'WITHVALUES')",
    "local k = redis.call('RANDOMKEY') if k then redis.call('SET', 'picked', k) end return k",
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', 200) return redis.call('PTTL', KEYS[1])",
    "return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1])}",
    "return redis.call('EXPIRE', KEYS[1], ARGV[1])",
    "return redis.call('XREADGROUP', 'GROUP', 'g', 'c' .. ARGV[1], 'COUNT', 2, 'STREAMS', KEYS[1], '>')",
    "return redis.call('XAUTOCLAIM', KEYS[1], 'g', 'c' .. ARGV[1], 300, '0-0', 'COUNT', 2)",
    "return redis.call('XPENDING', KEYS[1], 'g', 'IDLE', 300, '-', '+', 20)",
    "return redis.call('SMEMBERS', KEYS[1])",
  ];
  const ops: TestOp[] = [];
  for (let i = 0; i < 60; i++) {
    const kind = random.int(0, 4);
    const seed = String(random.nextU32() >>> 1);
    const base = {
      t: t(random.int(0, 150)),
      seed,
      protocol: pick([2, 3] as const),
      lateRackDelayMs: random.int(0, 4) === 0 ? random.int(100, 400) : 0,
    };
    if (kind === 0) {
      ops.push({ ...base, argv: ["SPOP", "set", String(random.int(1, 4))] });
    } else if (kind === 1) {
      ops.push({ ...base, argv: ["XADD", "s", "*", "n", String(i)] });
    } else if (kind === 2) {
      ops.push({
        ...base,
        argv: ["XAUTOCLAIM", "s", "g", `c${random.int(1, 3)}`, "300", "0", "COUNT", "3"],
      });
    } else {
      const body = pick(bodies);
      const key =
        body.includes("XREADGROUP") || body.includes("XAUTOCLAIM") || body.includes("XPENDING") ||
          body.includes("XADD")
          ? "s"
          : body.includes("SPOP") || body.includes("SRANDMEMBER") || body.includes("SMEMBERS")
          ? "set"
          : body.includes("ZRANDMEMBER")
          ? "zset"
          : body.includes("HRANDFIELD")
          ? "hash"
          : pick(["key:1", "key:2", "fresh"]);
      ops.push({ ...base, argv: ["EVAL", body, "1", key, String(random.int(-3, 5))] });
    }
  }
  const setup = layouts();
  setup.early.push(["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
  setup.late.unshift(["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
  await scenario("generated mix", setup, ops);
});

Deno.test("a stream read or claim applied before the rack's clock reaches its T is refused before it changes anything", async () => {
  await using server = await startRedis();
  await using client = await FrameClient.connect(server.port);
  await client.call("XADD", "s", "1-1", "f", "v");
  await client.call("XGROUP", "CREATE", "s", "g", "0");
  const ahead = Date.now() + 600_000;
  for (
    const argv of [
      ["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"],
      [
        "EVAL",
        "return redis.call('XREADGROUP', 'GROUP', 'g', 'c', 'STREAMS', KEYS[1], '>')",
        "1",
        "s",
      ],
    ]
  ) {
    const reply = await applyOp(client, { t: ahead, seed: "1", argv }, "log");
    assert.match(text(reply), /Pylon cannot record delivery time \d+ on this rack yet/);
  }
  assert.equal(
    text(await client.call("XPENDING", "s", "g")),
    "*4␍␊:0␍␊$-1␍␊$-1␍␊*-1␍␊",
    "nothing delivered",
  );
});
