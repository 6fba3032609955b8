import assert from "node:assert/strict";
import { check, type LoggedOp, type RackData } from "./checker.ts";
import type { Entry } from "./history.ts";

let clock = 0;
function entry(e: Partial<Entry> & Pick<Entry, "kind" | "key" | "outcome">): Entry {
  clock += 10;
  return { client: 0, connection: 1, node: "n0", invokeMs: clock, completeMs: clock + 5, ...e };
}

function rack(name: string, strings: Record<string, string>, sets: Record<string, string[]> = {}) {
  return {
    rack: name,
    strings: new Map(Object.entries(strings)),
    sets: new Map(Object.entries(sets).map(([k, v]) => [k, new Set(v)])),
  } satisfies RackData;
}

const op = (id: string, ...argv: string[]): LoggedOp => ({ id, commands: [argv] });

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
  ];
  const log = [
    op("a", "INCR", "ctr:0"),
    op("b", "SADD", "set:0", "m1"),
    op("c", "SET", "reg:0:1", "v1"),
  ];
  const data = { "ctr:0": "1", "reg:0:1": "v1" };
  return {
    history,
    log,
    racks: [rack("r0", data, { "set:0": ["m1"] }), rack("r1", data, { "set:0": ["m1"] })],
  };
}

Deno.test("a history where every promise held has no anomaly", () => {
  const { history, log, racks } = good();
  assert.deepEqual(check(history, racks, log).anomalies, []);
});

Deno.test("the checker finds each kind of broken promise", () => {
  const cases: [string, (g: ReturnType<typeof good>) => void, RegExp][] = [
    [
      "a lost acknowledged SADD",
      (g) => g.racks[1]!.sets.set("set:0", new Set()),
      /r1: acknowledged SADD set:0 m1 .* missing/,
    ],
    [
      "an op applied twice",
      (g) => g.racks[0]!.strings.set("ctr:0", "2"),
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
        for (const r of g.racks) r.strings.set("ctr:0", "2");
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
      (g) => g.racks[1]!.strings.set("extra", "x"),
      /extra: r0 has undefined, r1 has x/,
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
      (g) => g.racks[0]!.sets.get("set:0")!.add("m2"),
      /r0: failed SADD set:0 m2 is there/,
    ],
  ];
  for (const [what, breakIt, expected] of cases) {
    const g = good();
    breakIt(g);
    const { anomalies } = check(g.history, g.racks, g.log);
    assert.ok(anomalies.some((a) => expected.test(a)), `${what}: ${anomalies.join(" | ")}`);
  }
});
