import assert from "node:assert/strict";
import { outcomeBounds, OutcomeLog, REPLY_KEPT_BYTES } from "./outcome_log.ts";

const bounds = { windowOps: 4, ringOps: 8, windowsKept: 4 };

function record(offset: number, digest = offset * 7 + 1) {
  return {
    opId: `op${offset}`,
    rack: "east",
    digest,
    reply: new TextEncoder().encode(`:${offset}\r\n`),
  };
}

function fill(log: OutcomeLog, from: number, to: number, digest?: (o: number) => number) {
  for (let o = from; o < to; o++) log.add(o, record(o, digest?.(o)));
}

Deno.test("two racks that applied the same outcomes from different starts agree where both saw whole windows", () => {
  const a = new OutcomeLog(bounds);
  const b = new OutcomeLog(bounds);
  fill(a, 0, 12);
  fill(b, 5, 12); // started in mid-window 1: skips it
  assert.equal(a.validFrom, 0);
  assert.equal(b.validFrom, 8);
  assert.equal(b.window(1), undefined);
  assert.equal(a.window(2), b.window(2));
  assert.notEqual(a.window(0), undefined);
  assert.equal(a.chainAt(9), b.chainAt(9));
  assert.equal(b.chainAt(6), undefined, "its window was not seen whole");
  assert.deepEqual(a.latest(), b.latest());
  assert.equal(a.lastWindow(), 2);
});

Deno.test("one different outcome changes its window's hash and the chain from it on, not before", () => {
  const a = new OutcomeLog(bounds);
  const b = new OutcomeLog(bounds);
  fill(a, 0, 12);
  fill(b, 0, 12, (o) => (o === 6 ? 999 : o * 7 + 1));
  assert.equal(a.window(0), b.window(0));
  assert.notEqual(a.window(1), b.window(1));
  assert.equal(a.chainAt(5), b.chainAt(5));
  assert.notEqual(a.chainAt(6), b.chainAt(6));
  assert.equal(a.window(2), b.window(2), "the next window starts afresh");
});

Deno.test("the ring keeps the last ringOps ops; a gap restarts the chains at the next window", () => {
  const log = new OutcomeLog(bounds);
  fill(log, 0, 20);
  assert.equal(log.record(11), undefined);
  assert.equal(log.record(12)?.opId, "op12");
  assert.deepEqual(log.records(10, 14).map((r) => r.offset), [12, 13, 14]);
  assert.equal(log.window(0), undefined, "only windowsKept windows are kept");
  assert.notEqual(log.window(1), undefined);
  log.add(22, record(22)); // 20 and 21 were applied by another applier
  assert.equal(log.record(19), undefined);
  assert.equal(log.validFrom, 24);
  assert.equal(log.latest(), undefined);
  fill(log, 23, 28);
  assert.notEqual(log.window(6), undefined);
  assert.equal(log.window(5), undefined);
});

Deno.test("offsets applied again (a Redis rebuilt from the log) replace what was recorded", () => {
  const log = new OutcomeLog(bounds);
  fill(log, 0, 14, (o) => (o === 6 ? 999 : o * 7 + 1));
  const wrong = log.window(1);
  log.add(0, record(0)); // the rack's Redis was emptied: applied from the start again
  assert.equal(log.window(1), undefined, "the old hash is not compared any more");
  assert.equal(log.window(2), undefined);
  assert.equal(log.next, 1);
  fill(log, 1, 14);
  const fresh = new OutcomeLog(bounds);
  fill(fresh, 0, 14);
  assert.notEqual(log.window(1), wrong);
  assert.equal(log.window(1), fresh.window(1));
  assert.equal(log.record(6)?.digest, fresh.record(6)?.digest);
});

Deno.test("outcomeBounds keeps about 131,072 ops over all partitions", () => {
  assert.deepEqual(outcomeBounds(1), { windowOps: 256, ringOps: 4096, windowsKept: 65_536 });
  assert.deepEqual(outcomeBounds(64), { windowOps: 256, ringOps: 2048, windowsKept: 16_384 });
  assert.deepEqual(outcomeBounds(16_384), { windowOps: 32, ringOps: 64, windowsKept: 256 });
  for (let p = 1; p <= 16_384; p *= 3) {
    const b = outcomeBounds(p);
    assert.ok(b.ringOps >= 2 * b.windowOps && b.ringOps * Math.min(p, 32) <= 131_072);
  }
});

Deno.test("a kept op gives its reply's first bytes and whole length", () => {
  const log = new OutcomeLog(bounds);
  const long = new Uint8Array(300).fill(65);
  log.add(0, { opId: "a", rack: "east", digest: 1, reply: long });
  log.add(1, { opId: "b", rack: "west", digest: 2, reply: new TextEncoder().encode(":1\r\n") });
  const a = log.record(0)!;
  assert.equal(a.reply.length, REPLY_KEPT_BYTES);
  assert.equal(a.replyLength, 300);
  assert.deepEqual(log.record(1), {
    offset: 1,
    opId: "b",
    rack: "west",
    digest: 2,
    reply: new TextEncoder().encode(":1\r\n"),
    replyLength: 4,
  });
  assert.equal(log.digestAt(1), 2);
});
