import assert from "node:assert/strict";
import { OutcomeLog } from "./outcome_log.ts";
import { compareSummary, firstCursor, pointsFor, windowAsk } from "./outcome_compare.ts";
import type { PartitionSummary } from "./wire.ts";

const bounds = { windowOps: 4, ringOps: 16, windowsKept: 64 };

function log(from: number, to: number, differ?: number): OutcomeLog {
  const l = new OutcomeLog(bounds);
  for (let o = from; o < to; o++) {
    l.add(o, {
      opId: `op${o}`,
      rack: "a",
      digest: o === differ ? 1 : o + 100,
      reply: new Uint8Array(),
    });
  }
  return l;
}

/** What `theirs` answers to `mine`'s ask from `cursor` (as the checker's peer does). */
function summary(theirs: OutcomeLog, mine: OutcomeLog, cursor: number): PartitionSummary {
  const ask = windowAsk(mine, cursor);
  const windows = [];
  for (let k = ask.fromWindow; k < ask.fromWindow + ask.count && k <= theirs.lastWindow(); k++) {
    windows.push(theirs.window(k));
  }
  return {
    position: theirs.next,
    points: pointsFor(theirs, ask),
    fromWindow: ask.fromWindow,
    windows,
  };
}

Deno.test("equal racks compare every window both hold, and the other rack's last op", () => {
  const mine = log(0, 30);
  const theirs = log(0, 27); // a little behind
  const c = compareSummary(mine, 0, summary(theirs, mine, 0));
  assert.deepEqual(c, {
    windowsCompared: 6,
    windowsSkipped: 0,
    pointCompared: true,
    mismatch: undefined,
    cursor: 6,
  });
  // Next time, from window 6: window 6 is complete here, not there yet.
  const next = compareSummary(mine, 6, summary(theirs, mine, 6));
  assert.equal(next.windowsCompared, 0);
  assert.equal(next.cursor, 6, "asked again until they have it");
});

Deno.test("a different outcome is found in its window, or at the other rack's last op before the window ends", () => {
  const mine = log(0, 30);
  const c = compareSummary(mine, 0, summary(log(0, 30, 13), mine, 0));
  assert.deepEqual(c.mismatch, { window: 3, upTo: 15 });
  assert.equal(c.windowsCompared, 3);
  assert.equal(c.cursor, 3);
  // The difference is in the window still being filled: the point shows it.
  const open = compareSummary(mine, 7, summary(log(0, 30, 29), mine, 7));
  assert.deepEqual(open.mismatch, { window: 7, upTo: 29 });
});

Deno.test("windows one rack saw only in part are skipped, not compared", () => {
  const mine = log(0, 30);
  const restarted = log(10, 30); // mid-window 2
  const c = compareSummary(mine, 0, summary(restarted, mine, 0));
  assert.equal(c.windowsSkipped, 3);
  assert.equal(c.windowsCompared, 4);
  assert.equal(c.mismatch, undefined);
  assert.equal(firstCursor(restarted), 3);
  assert.equal(firstCursor(undefined), 0);
});

Deno.test("the rack behind compares its own last op, which the rack ahead answers", () => {
  const mine = log(0, 22, 21); // behind, and its last op differs, in a window not yet whole
  const theirs = log(0, 30);
  const c = compareSummary(mine, 0, summary(theirs, mine, 0));
  assert.equal(c.windowsCompared, 5);
  assert.deepEqual(c.mismatch, { window: 5, upTo: 21 });
});
