import assert from "node:assert/strict";
import { MemoryStorage } from "./memory_storage.ts";
import { RaftLog } from "./raft_log.ts";
import { CompactedError, type Entry } from "./types.ts";

function entry(index: number, term: number): Entry {
  return { index, term, type: "normal", data: new Uint8Array([index]) };
}

function logWith(stored: number[]): { log: RaftLog; storage: MemoryStorage } {
  const storage = new MemoryStorage({ voters: ["a"], learners: [] });
  storage.append(stored.map((term, i) => entry(i + 1, term)));
  return { log: new RaftLog(storage), storage };
}

Deno.test("RaftLog reads stable and unstable entries as one log", () => {
  const { log } = logWith([1, 1]);
  log.append([entry(3, 2), entry(4, 2)]);
  assert.equal(log.lastIndex(), 4);
  assert.equal(log.term(2), 1);
  assert.equal(log.term(4), 2);
  assert.deepEqual(log.slice(1, 5, Infinity).map((e) => e.index), [1, 2, 3, 4]);
  assert.deepEqual(log.unstableEntries().map((e) => e.index), [3, 4]);
});

Deno.test("RaftLog.append() hides a conflicting stored suffix until it is persisted", () => {
  const { log, storage } = logWith([1, 1, 1, 1]);
  log.append([entry(3, 2)]);
  assert.equal(log.lastIndex(), 3);
  assert.equal(log.term(3), 2);
  assert.equal(storage.lastIndex(), 4);
  storage.append(log.unstableEntries());
  log.stableTo(3, 2);
  assert.equal(log.hasUnstableEntries(), false);
  assert.equal(log.lastIndex(), 3);
});

Deno.test("RaftLog.append() refuses to replace committed entries or leave gaps", () => {
  const { log } = logWith([1, 1, 1]);
  log.commitTo(2);
  assert.throws(() => log.append([entry(2, 2)]), /committed/);
  assert.throws(() => log.append([entry(6, 2)]), /gap/);
});

Deno.test("RaftLog.stableTo() ignores entries that were replaced after they were handed out", () => {
  const { log } = logWith([1]);
  log.append([entry(2, 1), entry(3, 1)]);
  log.append([entry(3, 2)]);
  log.stableTo(3, 1);
  assert.deepEqual(log.unstableEntries().map((e) => [e.index, e.term]), [[2, 1], [3, 2]]);
});

Deno.test("RaftLog.findConflict() finds the first new or conflicting entry", () => {
  const { log } = logWith([1, 1, 2]);
  assert.equal(log.findConflict([entry(2, 1), entry(3, 2)]), 0);
  assert.equal(log.findConflict([entry(2, 1), entry(3, 3)]), 3);
  assert.equal(log.findConflict([entry(3, 2), entry(4, 2)]), 4);
});

Deno.test("RaftLog.findConflictByTerm() skips back to the last entry of a term at most the given", () => {
  const { log } = logWith([1, 1, 2, 2, 4, 4]);
  assert.equal(log.findConflictByTerm(6, 3), 4);
  assert.equal(log.findConflictByTerm(6, 1), 2);
  assert.equal(log.findConflictByTerm(6, 4), 6);
  assert.equal(log.findConflictByTerm(6, 0), 0);
});

Deno.test("RaftLog.isUpToDate() compares last terms, then lengths (§5.4.1)", () => {
  const { log } = logWith([1, 2, 2]);
  assert.equal(log.isUpToDate(3, 2), true);
  assert.equal(log.isUpToDate(2, 2), false);
  assert.equal(log.isUpToDate(1, 3), true);
  assert.equal(log.isUpToDate(9, 1), false);
});

Deno.test("RaftLog hands out committed entries once, after the applied index", () => {
  const { log } = logWith([1, 1, 1]);
  log.commitTo(2);
  assert.deepEqual(log.nextCommitted(Infinity).map((e) => e.index), [1, 2]);
  log.appliedTo(2);
  assert.equal(log.hasNextCommitted(), false);
  assert.throws(() => log.commitTo(9), /past the last index/);
});

Deno.test("RaftLog.restore() replaces the log with a snapshot until it is persisted", () => {
  const { log } = logWith([1, 1, 1]);
  log.restore({
    index: 10,
    term: 3,
    conf: { voters: ["a"], learners: [] },
    data: new Uint8Array(0),
  });
  assert.equal(log.firstIndex(), 11);
  assert.equal(log.lastIndex(), 10);
  assert.equal(log.term(10), 3);
  assert.equal(log.committed, 10);
  assert.throws(() => log.term(2), CompactedError);
  assert.equal(log.hasNextCommitted(), false);
  log.append([entry(11, 3)]);
  assert.equal(log.lastIndex(), 11);
});

Deno.test("RaftLog.slice() throws CompactedError below the first index", () => {
  const { log, storage } = logWith([1, 1, 1, 1]);
  storage.createSnapshot(2, { voters: ["a"], learners: [] }, new Uint8Array(0));
  storage.compact(2);
  assert.throws(() => log.slice(2, 4, Infinity), CompactedError);
  assert.deepEqual(log.entriesFrom(3, Infinity).map((e) => e.index), [3, 4]);
});
