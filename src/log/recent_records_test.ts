import assert from "node:assert/strict";
import { RecentRecords } from "./recent_records.ts";

const bytes = (n: number) => new Uint8Array(n);

Deno.test("RecentRecords hands back the appended arrays from an offset, within limits", () => {
  const recent = new RecentRecords(10, 1024);
  assert.equal(recent.base, 10);
  const records = [bytes(4), bytes(4), bytes(4)];
  recent.push(records);
  assert.equal(recent.base, 10);
  const taken = recent.take(11, 10, 1024);
  assert.deepEqual(taken.map((r) => r.offset), [11, 12]);
  assert.equal(taken[0]!.value, records[1]);
  assert.deepEqual(recent.take(10, 2, 1024).map((r) => r.offset), [10, 11]);
  assert.deepEqual(recent.take(10, 10, 5).map((r) => r.offset), [10]);
  // At least one, even past the byte bound.
  assert.deepEqual(recent.take(12, 10, 1).map((r) => r.offset), [12]);
});

Deno.test("RecentRecords drops its oldest records past its byte bound", () => {
  const recent = new RecentRecords(0, 10);
  recent.push([bytes(4), bytes(4)]);
  recent.push([bytes(4)]);
  assert.equal(recent.base, 1);
  assert.deepEqual(recent.take(1, 10, 100).map((r) => r.offset), [1, 2]);
  // A record larger than the bound is not kept: base moves to the end.
  recent.push([bytes(11)]);
  assert.equal(recent.base, 4);
  assert.deepEqual(recent.take(4, 10, 100), []);
});

Deno.test("RecentRecords compacts after many drops and keeps offsets right", () => {
  const recent = new RecentRecords(0, 100);
  for (let i = 0; i < 5000; i++) recent.push([bytes(1)]);
  assert.equal(recent.base, 4900);
  const taken = recent.take(4999, 10, 100);
  assert.deepEqual(taken.map((r) => r.offset), [4999]);
});
