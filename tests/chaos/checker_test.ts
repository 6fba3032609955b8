import assert from "node:assert/strict";
import { check, type KeyRecord, type LoggedOp, type RackData } from "./checker.ts";
import type { Entry } from "./history.ts";
import {
  aliveKeys,
  EXPIRY_SHIFT_MS as H,
  liveness,
  parseStreamFull,
  type StreamRecord,
} from "./rack_data.ts";
import { compareIds } from "./time_checker.ts";
import type { RespValue } from "../../src/resp/value.ts";

let clock = 0;
function entry(e: Partial<Entry> & Pick<Entry, "kind" | "key" | "outcome">): Entry {
  clock += 10;
  return { client: 0, connection: 1, node: "n0", invokeMs: clock, completeMs: clock + 5, ...e };
}

/** A time client's entry, sent at wall time W + `from` and answered at W + `to`. */
function timed(
  from: number,
  to: number,
  e: Partial<Entry> & Pick<Entry, "kind" | "key" | "argv">,
): Entry {
  return entry({
    client: 9,
    outcome: "ok",
    invokeWallMs: W + from,
    completeWallMs: W + to,
    ...e,
  });
}

/** The wall clock the time entries start at, and the comparison time. */
const W = 1_000_000;
const C = W + 10_000;

function str(value: string, storedExpiryMs = -1): KeyRecord {
  return { type: "string", digest: `d:${value}`, storedExpiryMs, value };
}
/** A string expiring at `atMs` in log terms: stored shifted. */
const volatile = (value: string, atMs: number) => str(value, H + atMs);
function set(...members: string[]): KeyRecord {
  return { type: "set", digest: `d:${[...members].sort()}`, storedExpiryMs: -1, members };
}
function stream(record: StreamRecord): KeyRecord {
  return {
    type: "stream",
    digest: `d:${JSON.stringify(record.entries)}`,
    storedExpiryMs: -1,
    stream: record,
  };
}

function rack(name: string, keys: Record<string, KeyRecord>): RackData {
  return { rack: name, keys: new Map(Object.entries(structuredClone(keys))) };
}

const op = (id: string, ...argv: string[]): LoggedOp => ({ id, commands: [argv] });

function s0(): StreamRecord {
  return {
    length: 1,
    lastGeneratedId: "1000300-0",
    maxDeletedId: "1000100-0",
    entriesAdded: 2,
    recordedFirstId: "1000300-0",
    entries: [["1000300-0", ["f", "c9-6"]]],
    groups: [{
      name: "g0",
      lastDeliveredId: "1000300-0",
      entriesRead: "2",
      lag: "0",
      pelCount: 1,
      pending: [{ id: "1000300-0", consumer: "k9", deliveryMs: W + 400, deliveries: 1 }],
      consumers: [{
        name: "k9",
        pelCount: 1,
        pending: [{ id: "1000300-0", consumer: "k9", deliveryMs: W + 400, deliveries: 1 }],
      }],
    }],
  };
}

/** A history where everything holds. */
function good() {
  const history = [
    entry({ kind: "incr", key: "ctr:0", outcome: "ok", value: "1" }),
    entry({ kind: "get", key: "ctr:0", outcome: "ok", value: "1" }),
    entry({ kind: "incr", key: "ctr:0", outcome: "unknown" }),
    entry({ kind: "sadd", key: "set:0", arg: "m1", outcome: "ok", value: "1" }),
    entry({ kind: "ismember", key: "set:0", arg: "m1", outcome: "ok", value: "1" }),
    entry({ kind: "set", key: "reg:0:1", arg: "v1", outcome: "ok", value: "OK" }),
    entry({ kind: "get", key: "reg:0:1", outcome: "ok", value: "v1" }),
    entry({ kind: "sadd", key: "set:0", arg: "m2", outcome: "fail" }),
    // A key alive at C, its expiry moved on.
    timed(0, 5, {
      kind: "ttl-set",
      key: "t:9:1",
      argv: ["SET", "t:9:1", "v1", "PX", "60000"],
      value: "OK",
    }),
    timed(10, 15, {
      kind: "expire",
      key: "t:9:1",
      argv: ["PEXPIRE", "t:9:1", "120000"],
      value: "1",
    }),
    // A key written from another rack after it expired: a new key, no expiry.
    timed(20, 25, {
      kind: "ttl-set",
      key: "t:9:2",
      argv: ["SET", "t:9:2", "10", "PX", "50"],
      value: "OK",
    }),
    timed(100, 105, { kind: "edge-incr", key: "t:9:2", argv: ["INCR", "t:9:2"], value: "1" }),
    // Keys expired by C: one rack has not swept one yet, another is removing one.
    timed(30, 35, {
      kind: "ttl-set",
      key: "t:9:3",
      argv: ["SET", "t:9:3", "v3", "PX", "1000"],
      value: "OK",
    }),
    timed(40, 45, {
      kind: "ttl-set",
      key: "t:9:4",
      argv: ["SET", "t:9:4", "v4", "PX", "10"],
      value: "OK",
    }),
    // Scripts: TIME at the op's log time, written to its key.
    timed(200, 210, {
      kind: "script-time",
      key: "e:9:5",
      arg: "e:9:5",
      argv: ["EVAL", "…", "1", "e:9:5"],
      value: "1000.205000",
    }),
    // Streams: an id trimmed by MAXLEN, one still there, delivered once.
    timed(250, 255, {
      kind: "xadd",
      key: "s:0",
      arg: "c9-0",
      argv: ["XADD", "s:0", "MAXLEN", "1", "*", "f", "c9-0"],
      value: "1000100-0",
    }),
    timed(300, 305, {
      kind: "xadd",
      key: "s:0",
      arg: "c9-6",
      argv: ["XADD", "s:0", "MAXLEN", "1", "*", "f", "c9-6"],
      value: "1000300-0",
    }),
    timed(400, 405, {
      kind: "xreadgroup",
      key: "s:0",
      argv: ["XREADGROUP", "GROUP", "g0", "k9", "COUNT", "1", "STREAMS", "s:0", ">"],
      values: ["1000300-0"],
    }),
    timed(406, 407, {
      kind: "xclaim",
      key: "s:0",
      argv: ["XCLAIM", "s:0", "g0", "k9", "0", "1000300-0"],
      outcome: "refused",
      error: "ERR command 'xclaim' is refused by Pylon: it claims by idle time",
    }),
    // SPOP: a member popped once, another left; a refused SPOP changes nothing.
    timed(500, 505, { kind: "padd", key: "p:0", arg: "c9-7", argv: ["SADD", "p:0", "c9-7"] }),
    timed(510, 515, { kind: "padd", key: "p:0", arg: "c9-8", argv: ["SADD", "p:0", "c9-8"] }),
    timed(520, 525, { kind: "spop", key: "p:0", argv: ["SPOP", "p:0"], value: "c9-7" }),
    timed(530, 535, {
      kind: "spop",
      key: "p:0",
      argv: ["SPOP", "p:0", "2"],
      outcome: "refused",
      error: "ERR command 'spop' is refused by Pylon: it removes random members",
    }),
    timed(540, 545, {
      kind: "script-srand",
      key: "p:0",
      arg: "e:9:9",
      argv: ["EVAL", "…", "2", "p:0", "e:9:9"],
      value: "c9-8",
    }),
    timed(550, 555, {
      kind: "script-time",
      key: "e:9:11",
      arg: "e:9:11",
      argv: ["EVAL", "…", "1", "e:9:11"],
      outcome: "refused",
      error: "ERR The user executing the script can't run this command or subcommand script: …",
    }),
    // TTL of t:9:1 (expiring within [W + 120008, W + 120017]) read in a script.
    timed(600, 610, {
      kind: "script-ttl",
      key: "t:9:1",
      arg: "e:9:10",
      argv: ["EVAL", "…", "2", "t:9:1", "e:9:10"],
      value: "119",
    }),
  ];
  const log = [
    op("a", "INCR", "ctr:0"),
    op("b", "SADD", "set:0", "m1"),
    op("c", "SET", "reg:0:1", "v1"),
    op("d", "SADD", "p:0", "c9-7"),
    op("e", "SADD", "p:0", "c9-8"),
    { id: "f", commands: [] },
  ];
  const keys = {
    "ctr:0": str("1"),
    "reg:0:1": str("v1"),
    "set:0": set("m1"),
    "t:9:1": volatile("v1", W + 120_012),
    "t:9:2": str("1"),
    "e:9:5": str("1000.205000"),
    "s:0": stream(s0()),
    "p:0": set("c9-8"),
    "e:9:9": str("c9-8"),
    "e:9:10": str("119"),
  };
  return {
    history,
    log,
    racks: [
      rack("r0", { ...keys, "t:9:3": volatile("v3", W + 1_030) }),
      rack("r1", { ...keys, "t:9:4": str("v4", 12_345) }),
    ],
  };
}

type Good = ReturnType<typeof good>;
const keysOf = (g: Good, i: number) => g.racks[i]!.keys;
const each = (g: Good, fn: (keys: Map<string, KeyRecord>) => void) =>
  g.racks.forEach((r) => fn(r.keys));
const later = (g: Good, e: Entry) => g.history.push(e);

Deno.test("a history where every promise held has no anomaly", () => {
  const { history, log, racks } = good();
  assert.deepEqual(check(history, racks, log, C).anomalies, []);
});

Deno.test("the checker finds each kind of broken promise", () => {
  const cases: [string, (g: Good) => void, RegExp][] = [
    [
      "a lost acknowledged SADD",
      (g) => keysOf(g, 1).set("set:0", set()),
      /r1: acknowledged SADD set:0 m1 .* missing/,
    ],
    [
      "an op applied twice",
      (g) => keysOf(g, 0).set("ctr:0", str("2")),
      /r0: ctr:0 is 2 but the log holds 1 INCRs/,
    ],
    [
      "an op in the log twice",
      (g) => g.log.push(op("a", "INCR", "ctr:0")),
      /op a is in the log twice/,
    ],
    [
      "a made-up reply",
      (g) => g.history.push(entry({ kind: "sadd", key: "set:0", arg: "m9", outcome: "applied" })),
      /SADD set:0 m9 was answered applied but is not in the log/,
    ],
    [
      "two INCRs answered alike",
      (g) => {
        g.history.push(entry({ kind: "incr", key: "ctr:0", outcome: "ok", value: "1" }));
        g.log.push(op("z", "INCR", "ctr:0"));
        each(g, (keys) => keys.set("ctr:0", str("2")));
      },
      /two INCRs of ctr:0 were both answered 1/,
    ],
    [
      "a stale read after one's own write",
      (g) => g.history.push(entry({ kind: "get", key: "ctr:0", outcome: "ok", value: "0" })),
      /client 0 read ctr:0=0 on n0 after its INCR answered 1/,
    ],
    [
      "racks that differ",
      (g) => keysOf(g, 1).set("extra", str("x")),
      /extra: r0 has none, r1 has "x" \(no expiry\): only on the second/,
    ],
    [
      "a write answered with a rack's condition",
      (g) =>
        g.history.push(
          entry({
            kind: "incr",
            key: "ctr:0",
            outcome: "unknown",
            error: "OOM command not allowed when used memory > 'maxmemory'.",
          }),
        ),
      /incr ctr:0 on n0 was answered with a rack's condition: OOM/,
    ],
    [
      "a failed write that was applied",
      (g) => keysOf(g, 0).get("set:0")!.members!.push("m2"),
      /r0: failed SADD set:0 m2 is there/,
    ],
    // Convergence in log terms.
    [
      "an alive key whose expiry differs between racks",
      (g) => keysOf(g, 1).set("t:9:1", volatile("v1", W + 120_013)),
      /t:9:1: r0 has "v1" \(expires at 1120012\), r1 has "v1" \(expires at 1120013\): expiries differ/,
    ],
    [
      "an expired key one rack still holds as alive",
      (g) => keysOf(g, 0).set("t:9:3", volatile("v3", C + 1)),
      /t:9:3: r0 has "v3" .*, r1 has none: only on the first/,
    ],
    [
      "streams whose delivery times differ",
      (g) => {
        const s = keysOf(g, 1).get("s:0")!.stream!;
        s.groups[0]!.pending[0]!.deliveryMs += 1;
      },
      /s:0: .* group g0 pending 1000300-0 delivery time 1000400 vs 1000401/,
    ],
    [
      "streams that differ in an entry and in a delivery time, both shown",
      (g) => {
        const s = keysOf(g, 1).get("s:0")!.stream!;
        s.entries[0]![1] = ["f", "other"];
        s.groups[0]!.consumers[0]!.pending[0]!.deliveryMs += 7;
      },
      /s:0: .* entry 0: .*"c9-6".* vs .*"other".*; group g0 consumer k9 pending 1000300-0 delivery time 1000400 vs 1000407/,
    ],
    [
      "streams whose groups' last-delivered ids differ",
      (g) => {
        keysOf(g, 1).get("s:0")!.stream!.groups[0]!.lastDeliveredId = "0-0";
      },
      /s:0: .* group g0 lastDeliveredId 1000300-0 vs 0-0/,
    ],
    [
      "streams whose last-generated ids differ",
      (g) => {
        keysOf(g, 1).get("s:0")!.stream!.lastGeneratedId = "1000301-0";
      },
      /s:0: .* lastGeneratedId 1000300-0 vs 1000301-0/,
    ],
    // Keys with expiries, followed through their client's replies.
    [
      "an acknowledged key alive in log terms missing on a rack",
      (g) => keysOf(g, 1).delete("t:9:1"),
      /r1: acknowledged t:9:1 \(v1, expiring in log terms within \[1120008, 1120017\]\) should be alive at log time 1010000 but is absent/,
    ],
    [
      "an expiry stored unshifted (Redis would expire it by its own clock)",
      (g) => each(g, (keys) => keys.set("t:9:1", str("v1", W + 120_012))),
      /r0: acknowledged t:9:1 .* should be alive at log time 1010000 but is v1, stored expiry 1120012, below the shift/,
    ],
    [
      "a key alive past the expiry its client set",
      (g) => each(g, (keys) => keys.set("t:9:3", volatile("v3", C + 5))),
      /r0: t:9:3 \(v3, expiring in log terms within \[1001028, 1001037\]\) should have expired by log time 1010000/,
    ],
    [
      "a key alive with an expiry outside the one set",
      (g) => each(g, (keys) => keys.set("t:9:1", volatile("v1", W + 200_000))),
      /r0: t:9:1 is v1, expiring at 1200000, expected v1, expiring in log terms within \[1120008, 1120017\]/,
    ],
    [
      "a write at the expiry boundary answered as if the key were alive",
      (g) => {
        const incr = g.history.find((e) => e.kind === "edge-incr")!;
        incr.value = "11";
        each(g, (keys) => keys.set("t:9:2", volatile("11", W + 75)));
      },
      /edge-incr t:9:2 \(INCR t:9:2\) answered 11 as if alive, on a key expired at its log time/,
    ],
    [
      "a write at the expiry boundary answered as if the key had expired",
      (g) => {
        later(
          g,
          timed(700, 705, {
            kind: "edge-setnx",
            key: "t:9:1",
            argv: ["SET", "t:9:1", "w", "NX"],
            value: "OK",
          }),
        );
        each(g, (keys) => keys.set("t:9:1", str("w")));
      },
      /edge-setnx t:9:1 \(SET t:9:1 w NX\) answered OK as if expired, on a key alive/,
    ],
    [
      "an EXPIRE answered 0 on a key alive in log terms",
      (g) =>
        later(
          g,
          timed(700, 705, {
            kind: "expire",
            key: "t:9:1",
            argv: ["EXPIRE", "t:9:1", "100"],
            value: "0",
          }),
        ),
      /expire t:9:1 \(EXPIRE t:9:1 100\) answered 0 on a key alive at its log time/,
    ],
    [
      "a GETEX answered nil on a key alive in log terms",
      (g) =>
        later(
          g,
          timed(700, 705, {
            kind: "getex",
            key: "t:9:1",
            argv: ["GETEX", "t:9:1", "PERSIST"],
            value: null,
          }),
        ),
      /getex t:9:1 \(GETEX t:9:1 PERSIST\) answered nil on a key alive/,
    ],
    [
      "a TTL read in a script that does not fit the key's expiry",
      (g) => {
        g.history.find((e) => e.kind === "script-ttl")!.value = "-2";
        each(g, (keys) => keys.set("e:9:10", str("-2")));
      },
      /script-ttl t:9:1 .* answered -2 as TTL of a key expiring within \[1120008, 1120017\]/,
    ],
    // Script keys.
    [
      "TIME in a script outside its op's log time",
      (g) => {
        g.history.find((e) => e.kind === "script-time")!.value = "999.000000";
        each(g, (keys) => keys.set("e:9:5", str("999.000000")));
      },
      /TIME in a script answered 999.000000, outside its op's log time \[1000200, 1000210\]/,
    ],
    [
      "a script's acknowledged write missing on a rack",
      (g) => keysOf(g, 1).delete("e:9:5"),
      /r1: script-time answered 1000.205000 and wrote it to e:9:5, which is absent/,
    ],
    [
      "a refused script that wrote",
      (g) => keysOf(g, 0).set("e:9:11", str("1000.550000")),
      /r0: script-time was refused without writing, yet e:9:11 is there/,
    ],
    [
      "SRANDMEMBER answering a member never added",
      (g) => {
        g.history.find((e) => e.kind === "script-srand")!.value = "zz";
        each(g, (keys) => keys.set("e:9:9", str("zz")));
      },
      /SRANDMEMBER p:0 in a script answered zz, which the log never added/,
    ],
    // Streams.
    [
      "an acknowledged XADD id missing on a rack",
      (g) => {
        const s = keysOf(g, 1).get("s:0")!.stream!;
        s.entries = [];
        s.length = 0;
      },
      /r1: acknowledged XADD s:0 1000300-0 \(f c9-6, xadd\) is missing/,
    ],
    [
      "an XADD id holding another entry",
      (g) => keysOf(g, 0).get("s:0")!.stream!.entries[0]![1] = ["f", "c1-1"],
      /r0: s:0 1000300-0 holds f c1-1, but XADD of f c9-6 was answered that id/,
    ],
    [
      "two XADDs answered one id",
      (g) =>
        later(
          g,
          timed(800, 805, {
            kind: "script-xadd",
            key: "s:0",
            arg: "c9-77",
            argv: ["EVAL", "…", "1", "s:0", "300", "c9-77"],
            value: "1000300-0",
          }),
        ),
      /two XADDs to s:0 were both answered 1000300-0 \(c9-6 and c9-77\)/,
    ],
    [
      "an entry delivered as new to two consumers of a group",
      (g) =>
        later(
          g,
          timed(800, 805, {
            kind: "xreadgroup",
            key: "s:0",
            argv: ["XREADGROUP", "GROUP", "g0", "k8", "COUNT", "1", "STREAMS", "s:0", ">"],
            values: ["1000300-0"],
          }),
        ),
      /s:0 1000300-0 was delivered as new in group g0 twice \(to k9 and k8\)/,
    ],
    // SPOP.
    [
      "a member popped by two clients",
      (g) =>
        later(
          g,
          timed(800, 805, {
            kind: "script-spop",
            key: "p:0",
            argv: ["EVAL", "…", "1", "p:0"],
            value: "c9-7",
          }),
        ),
      /c9-7 of p:0 was popped twice/,
    ],
    [
      "a popped member still in the set on a rack",
      (g) => keysOf(g, 1).get("p:0")!.members!.push("c9-7"),
      /r1: popped member c9-7 is still in p:0/,
    ],
    [
      "SPOP answering a member never added",
      (g) =>
        later(
          g,
          timed(800, 805, {
            kind: "spop",
            key: "p:0",
            argv: ["SPOP", "p:0", "2"],
            values: ["zz"],
          }),
        ),
      /SPOP p:0 answered zz, which the log never added/,
    ],
  ];
  for (const [what, breakIt, expected] of cases) {
    const g = good();
    breakIt(g);
    const { anomalies } = check(g.history, g.racks, g.log, C);
    assert.ok(anomalies.some((a) => expected.test(a)), `${what}: ${anomalies.join(" | ")}`);
  }
});

Deno.test("refusals are counted apart, never as anomalies", () => {
  const { history, log, racks } = good();
  const { anomalies, figures } = check(history, racks, log, C);
  assert.deepEqual(anomalies, []);
  assert.equal(figures.refused, 3);
  assert.equal(figures.spop_refused, 1);
});

Deno.test("a key is alive in log terms until its stored expiry minus the shift", () => {
  assert.equal(liveness(str("v"), C), "alive");
  assert.equal(liveness(volatile("v", C + 1), C), "alive");
  assert.equal(liveness(volatile("v", C), C), "expired");
  assert.equal(liveness(str("v", 5), C), "removing");
  assert.equal(liveness(str("v", H - 1), C), "removing");
  const keys = aliveKeys(
    rack("r", { a: str("1"), b: volatile("2", C - 1), c: str("3", 0), d: volatile("4", C + 9) }),
    C,
  );
  assert.deepEqual([...keys.keys()], ["a", "d"]);
});

Deno.test("stream ids order by time, then sequence", () => {
  assert.equal(compareIds("1-2", "1-10"), -1);
  assert.equal(compareIds("2-0", "1-10"), 1);
  assert.equal(compareIds("5-5", "5-5"), 0);
});

Deno.test("XINFO STREAM FULL is read into entries and groups, seen-time left out", () => {
  const b = (s: string): RespValue => ({ type: "bulk", value: new TextEncoder().encode(s) });
  const n = (v: number): RespValue => ({ type: "integer", value: BigInt(v) });
  const a = (...items: RespValue[]): RespValue => ({ type: "array", value: items });
  // As Redis 7.0.15 answers after XADD s 1-1 f a, 2-1 f b; XGROUP CREATE s g 0; XREADGROUP g c1 COUNT 1.
  const reply = a(
    b("length"),
    n(2),
    b("radix-tree-keys"),
    n(1),
    b("radix-tree-nodes"),
    n(2),
    b("last-generated-id"),
    b("2-1"),
    b("max-deleted-entry-id"),
    b("0-0"),
    b("entries-added"),
    n(2),
    b("recorded-first-entry-id"),
    b("1-1"),
    b("entries"),
    a(a(b("1-1"), a(b("f"), b("a"))), a(b("2-1"), a(b("f"), b("b")))),
    b("groups"),
    a(a(
      b("name"),
      b("g"),
      b("last-delivered-id"),
      b("1-1"),
      b("entries-read"),
      n(1),
      b("lag"),
      n(1),
      b("pel-count"),
      n(1),
      b("pending"),
      a(a(b("1-1"), b("c1"), n(1796608881192), n(1))),
      b("consumers"),
      a(a(
        b("name"),
        b("c1"),
        b("seen-time"),
        n(1796608881192),
        b("pel-count"),
        n(1),
        b("pending"),
        a(a(b("1-1"), n(1796608881192), n(1))),
      )),
    )),
  );
  const pending = { id: "1-1", consumer: "c1", deliveryMs: 1796608881192, deliveries: 1 };
  assert.deepEqual(parseStreamFull(reply), {
    length: 2,
    lastGeneratedId: "2-1",
    maxDeletedId: "0-0",
    entriesAdded: 2,
    recordedFirstId: "1-1",
    entries: [["1-1", ["f", "a"]], ["2-1", ["f", "b"]]],
    groups: [{
      name: "g",
      lastDeliveredId: "1-1",
      entriesRead: "1",
      lag: "1",
      pelCount: 1,
      pending: [pending],
      consumers: [{ name: "c1", pelCount: 1, pending: [pending] }],
    }],
  });
});

Deno.test("anomalies are counted per kind, each kind listed up to six times", () => {
  const g = good();
  for (let i = 0; i < 10; i++) keysOf(g, 1).set(`extra:${i}`, str("x"));
  keysOf(g, 1).delete("e:9:5");
  const verdict = check(g.history, g.racks, g.log, C);
  assert.deepEqual(verdict.kinds, { diverged_keys: 11, script_write_missing: 1 });
  assert.equal(verdict.all.length, 12);
  assert.equal(verdict.figures.anomalies, 12);
  assert.equal(verdict.anomalies.filter((a) => a.includes("only on")).length, 6);
  assert.equal(verdict.anomalies.at(-1), "… and 5 more anomalies not listed");
});
