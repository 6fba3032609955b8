import assert from "node:assert/strict";
import { GroupCommit } from "./group_commit.ts";
import { LogError } from "./op_log.ts";
import { ManualClock } from "../manual_clock.ts";

function bytes(n: number): Uint8Array {
  return new Uint8Array(n);
}

Deno.test("GroupCommit writes at once when idle and batches what arrives meanwhile", async () => {
  const writes: number[] = [];
  let next = 0;
  const release: (() => void)[] = [];
  const commit = new GroupCommit(async (records) => {
    writes.push(records.length);
    await new Promise<void>((resolve) => release.push(resolve));
    const first = next;
    next += records.length;
    return first;
  }, { batchRecordsMax: 100, batchBytesMax: 1 << 20, lingerMs: 0 });

  const first = commit.append(bytes(1));
  const rest = Array.from({ length: 10 }, () => commit.append(bytes(1)));
  assert.deepEqual(writes, [1], "the first append is written without waiting");
  release.shift()!();
  assert.equal(await first, 0);
  await Promise.resolve();
  assert.deepEqual(writes, [1, 10], "the ten that waited share one write");
  release.shift()!();
  assert.deepEqual(await Promise.all(rest), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.equal(commit.batches, 2);
});

Deno.test("GroupCommit bounds batches by records and bytes, keeping order", async () => {
  const writes: number[] = [];
  let next = 0;
  const commit = new GroupCommit((records) => {
    writes.push(records.length);
    const first = next;
    next += records.length;
    return Promise.resolve(first);
  }, { batchRecordsMax: 4, batchBytesMax: 10, lingerMs: 0 });
  const offsets = await Promise.all([
    ...Array.from({ length: 9 }, () => commit.append(bytes(1))),
    commit.append(bytes(50)),
    commit.append(bytes(3)),
  ]);
  assert.deepEqual(offsets, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.ok(writes.every((n) => n <= 4), `batches ${writes}`);
});

Deno.test("GroupCommit fails every record of a failed write and keeps going", async () => {
  let calls = 0;
  const commit = new GroupCommit((records) => {
    calls++;
    if (calls === 1) return Promise.reject(new Error("broker gone"));
    return Promise.resolve(100 + records.length * 0);
  }, { batchRecordsMax: 10, batchBytesMax: 1 << 20, lingerMs: 0 });
  const failed = commit.append(bytes(1));
  await assert.rejects(
    failed,
    (e: unknown) => e instanceof LogError && e.maybeAppended && /broker gone/.test(e.message),
  );
  assert.equal(await commit.append(bytes(1)), 100);
  await commit.close();
  await assert.rejects(
    commit.append(bytes(1)),
    (e: unknown) => e instanceof LogError && !e.maybeAppended,
  );
});

Deno.test("GroupCommit refuses, unwritten, records whose deadline passed while a slow write held them", async () => {
  const written: number[][] = [];
  let next = 0;
  const release: (() => void)[] = [];
  const commit = new GroupCommit(async (records) => {
    written.push(records.map((r) => r.length));
    await new Promise<void>((resolve) => release.push(resolve));
    const first = next;
    next += records.length;
    return first;
  }, { batchRecordsMax: 100, batchBytesMax: 1 << 20, lingerMs: 0 });
  const slow = commit.append(bytes(1));
  const late = commit.append(bytes(2), performance.now() - 1);
  const onTime = commit.append(bytes(3), performance.now() + 60_000);
  release.shift()!();
  assert.equal(await slow, 0);
  await assert.rejects(late, (e: unknown) => e instanceof LogError && !e.maybeAppended);
  await Promise.resolve();
  release.shift()!();
  assert.equal(await onTime, 1, "the one still in time is written next");
  assert.deepEqual(written, [[1], [3]], "the late record never reached a write");
});

Deno.test("GroupCommit lingers and expires deadlines on its clock, not the host's", async () => {
  const clock = new ManualClock();
  const written: number[][] = [];
  const commit = new GroupCommit((records) => {
    written.push(records.map((r) => r.length));
    return Promise.resolve(written.length * 10);
  }, { batchRecordsMax: 100, batchBytesMax: 1 << 20, lingerMs: 5, clock });
  const late = commit.append(bytes(1), 3);
  const onTime = commit.append(bytes(2), 100);
  await clock.advance(4);
  assert.deepEqual(written, [], "nothing is written while the batch lingers");
  await clock.advance(1);
  await assert.rejects(late, (e: unknown) => e instanceof LogError && !e.maybeAppended);
  assert.equal(await onTime, 10);
  assert.deepEqual(written, [[2]], "the record past its deadline at the write was not written");
  assert.equal(clock.timers, 0);
});
