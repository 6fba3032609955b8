/**
 * The checker's outcome rounds between racks wired to each other in memory
 * (each one's peer requests answered by the other's `serve`), on a manual
 * clock: who finds what, what it says, who stops.
 */

import assert from "node:assert/strict";
import { ManualClock, settleMicrotasks } from "../manual_clock.ts";
import type { Op } from "../log/op.ts";
import type { PartitionStatus } from "../applier/applier.ts";
import { DivergenceChecker, type RackPeers } from "./checker.ts";
import { DivergenceGuard } from "./guard.ts";
import { FrameType } from "../cluster/peer_protocol.ts";
import { decodeRecords, encodeRecordsAsk } from "./wire.ts";

const encoder = new TextEncoder();

/** A rack's checker with its guard, its applier's position and its peers, for `racks`. */
function world(names: string[], clock: ManualClock) {
  const racks = new Map<string, { checker: DivergenceChecker; guard: DivergenceGuard }>();
  let position = 0;
  for (const name of names) {
    const guard = new DivergenceGuard(
      { read: () => Promise.resolve(undefined), write: () => Promise.resolve() },
      clock,
    );
    const peers: RackPeers = {
      rackLeaders: () => names.filter((n) => n !== name).map((n) => ({ id: `node-${n}`, rack: n })),
      ask: (to, type, payload) => racks.get(to.slice(5))!.checker.serve(type, payload),
    };
    const status = (): PartitionStatus => ({
      partition: 0,
      state: "applying",
      position,
      appliedOps: 0,
      batches: 0,
      lastError: undefined,
      lastAcceptedAtMs: undefined,
      logTimeMs: undefined,
      catchingUp: false,
    });
    const checker = new DivergenceChecker({
      rack: name,
      partitions: 1,
      metaDb: 15,
      applier: () => [status()],
      peers,
      guard,
      connect: () => Promise.resolve(undefined),
      dbs: () => [0],
      dataKeysPerSecond: 0,
      clock,
    });
    racks.set(name, { checker, guard });
  }
  return {
    racks,
    /** Every rack applies ops [from, to) (INCR, accepted by rack `origin`), `reply` per rack. */
    apply(
      from: number,
      to: number,
      reply: (rack: string, offset: number) => string,
      origin = names[0]!,
      only = names,
    ) {
      const ops: Op[] = [];
      for (let o = from; o < to; o++) {
        ops.push({
          id: `op${String(o).padStart(5, "0")}`,
          origin: "n",
          rack: origin,
          db: 0,
          protocol: 2,
          transaction: false,
          acceptedAtMs: 0,
          commands: [[encoder.encode("INCR"), encoder.encode("k")]],
        });
      }
      for (const [name, { checker }] of racks) {
        if (!only.includes(name)) continue;
        const replies = ops.map((op, i) => ({ op, reply: encoder.encode(reply(name, from + i)) }));
        checker.applied(0, from, ops, replies, () => undefined);
      }
      position = to;
    },
  };
}

const same = (_: string, o: number) => `:${o}\r\n`;

/** Time passes in steps of 10 ms, each letting the rounds' promise chains run to their end. */
async function pass(clock: ManualClock, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 10) await clock.advance(10, () => settleMicrotasks(1_000));
}

Deno.test("equal racks compare windows and last ops and find nothing", async () => {
  const clock = new ManualClock();
  const w = world(["a", "b"], clock);
  for (const { checker } of w.racks.values()) checker.start();
  w.apply(0, 600, same);
  await pass(clock, 1_000);
  for (const { checker } of w.racks.values()) {
    const s = checker.status();
    assert.equal(s.diverged, undefined);
    assert.equal(s.outcomeWindowsCompared, 2);
    assert.ok(s.outcomePointsCompared >= 1);
    assert.deepEqual(s.peersDiverged, []);
  }
  for (const { checker } of w.racks.values()) await checker.stop();
});

Deno.test("with two racks, the rack whose reply differs from the accepting rack's stops, naming both", async () => {
  const clock = new ManualClock();
  const w = world(["a", "b"], clock);
  for (const { checker } of w.racks.values()) checker.start();
  w.apply(0, 300, (rack, o) => rack === "b" && o === 100 ? ":101\r\n" : `:${o}\r\n`);
  await pass(clock, 1_000);
  const b = w.racks.get("b")!.guard.reason();
  assert.equal(
    b,
    "op op00100 at offset 100 of partition 0 (accepted by rack 'a'): rack 'b' answered " +
      `":101\\r\\n", rack 'a' answered ":100\\r\\n"; rack 'b' differs from the world (no ` +
      "majority: the accepting rack 'a' is the reference); this rack stops applying and serving reads",
  );
  assert.equal(w.racks.get("a")!.guard.reason(), undefined);
  assert.deepEqual(w.racks.get("a")!.checker.status().peersDiverged.map(([r]) => r), ["b"]);
  for (const { checker } of w.racks.values()) await checker.stop();
});

Deno.test("with three racks the majority decides, even against the accepting rack", async () => {
  const clock = new ManualClock();
  const w = world(["a", "b", "c"], clock);
  for (const { checker } of w.racks.values()) checker.start();
  // Accepted by a, whose reply is the odd one out (its Redis was changed).
  w.apply(0, 40, (rack, o) => rack === "a" && o === 7 ? ":999\r\n" : `:${o}\r\n`, "a");
  await pass(clock, 1_000);
  assert.match(
    w.racks.get("a")!.guard.reason()!,
    /rack 'a' differs from the world \(2 of 3 racks agree\)/,
  );
  assert.equal(w.racks.get("b")!.guard.reason(), undefined);
  assert.equal(w.racks.get("c")!.guard.reason(), undefined);
  for (const { checker } of w.racks.values()) await checker.stop();
});

Deno.test("a difference in a window already whole is found too, and a halted rack is not asked again", async () => {
  const clock = new ManualClock();
  const w = world(["a", "b"], clock);
  for (const { checker } of w.racks.values()) checker.start();
  w.apply(0, 256, same);
  await pass(clock, 300);
  w.apply(256, 1_000, (rack, o) => rack === "b" && o === 300 ? ":0\r\n" : `:${o}\r\n`);
  await pass(clock, 1_000);
  assert.match(w.racks.get("b")!.guard.reason()!, /^op op00300 at offset 300 /);
  const compared = w.racks.get("a")!.checker.status().outcomeWindowsCompared;
  w.apply(1_000, 1_600, same);
  await pass(clock, 1_000);
  assert.equal(w.racks.get("a")!.checker.status().outcomeWindowsCompared, compared);
  for (const { checker } of w.racks.values()) await checker.stop();
});

Deno.test("with no majority and the ops no longer kept, the rack that applied them later yields", async () => {
  const clock = new ManualClock();
  const w = world(["a", "b"], clock);
  const reply = (rack: string, o: number) => rack === "b" && o === 100 ? ":0\r\n" : `:${o}\r\n`;
  w.apply(0, 6_000, reply, "a", ["a"]); // long ago: a keeps only its last 4,096 ops
  w.apply(0, 300, reply, "a", ["b"]); // b catching up
  for (const { checker } of w.racks.values()) checker.start();
  await pass(clock, 1_000);
  assert.match(
    w.racks.get("b")!.guard.reason()!,
    /^the outcomes of ops 0\.\.255 of partition 0 differ .*\(no majority: the rack that applied these ops first 'a' is the reference\)/,
  );
  assert.equal(w.racks.get("a")!.guard.reason(), undefined);
  for (const { checker } of w.racks.values()) await checker.stop();
});

Deno.test("with no majority and the ops kept nowhere, both racks stop", async () => {
  const clock = new ManualClock();
  const w = world(["a", "b"], clock);
  // Both applied 6,000 ops before any round: the ops of window 0 are no longer kept anywhere.
  w.apply(0, 6_000, (rack, o) => rack === "b" && o === 100 ? ":0\r\n" : `:${o}\r\n`);
  for (const { checker } of w.racks.values()) checker.start();
  await pass(clock, 1_000);
  for (const rack of ["a", "b"]) {
    assert.match(
      w.racks.get(rack)!.guard.reason()!,
      /^the outcomes of ops 0\.\.255 of partition 0 differ .*no way to tell which is right/,
    );
  }
  for (const { checker } of w.racks.values()) await checker.stop();
});

Deno.test("each op's reply is recorded at its offset, whatever order the replies come in", async () => {
  const clock = new ManualClock();
  const w = world(["a", "b"], clock);
  const op = (id: string, commands: string[][]): Op => ({
    id,
    origin: "n",
    rack: "a",
    db: 0,
    protocol: 2,
    transaction: false,
    acceptedAtMs: 0,
    commands: commands.map((argv) => argv.map((x) => encoder.encode(x))),
  });
  const tick = op("tick", []);
  const ran = op("ran", [["INCR", "k"]]);
  const skipped = op("skipped", [["PUBLISH", "c", "m"]]);
  const { checker } = w.racks.get("a")!;
  // As settleBatch gives them: skipped ops first, then the ones that ran; none for a tick.
  checker.applied(0, 0, [tick, ran, undefined, skipped], [
    { op: skipped, reply: encoder.encode(":0\r\n") },
    { op: ran, reply: encoder.encode(":1\r\n") },
  ], () => undefined);
  const records = decodeRecords(
    await checker.serve(
      FrameType.OutcomeRecords,
      encodeRecordsAsk({ partition: 0, from: 0, to: 3 }),
    ),
  );
  assert.deepEqual(
    records.map((r) => [r.offset, r.opId, new TextDecoder().decode(r.reply)]),
    [[0, "tick", ""], [1, "ran", ":1\r\n"], [2, "", ""], [3, "skipped", ":0\r\n"]],
  );
});
