import assert from "node:assert/strict";
import { decodeTime, isValid } from "ulid";
import { newOpId } from "./op_id.ts";

Deno.test("newOpId() gives valid ULIDs that strictly increase, even within one millisecond", () => {
  const now = Date.now();
  const ids = Array.from({ length: 10_000 }, () => newOpId(now));
  for (const id of ids) assert.ok(isValid(id), id);
  for (let i = 1; i < ids.length; i++) {
    assert.ok(ids[i]! > ids[i - 1]!, `${ids[i - 1]} then ${ids[i]}`);
  }
  assert.equal(new Set(ids).size, ids.length);
});

Deno.test("newOpId() encodes the time as ULIDs do and counts on when the clock steps back", () => {
  const at = Date.UTC(2030, 0, 1); // after every id the other tests made
  const first = newOpId(at + 1_000_000);
  assert.equal(decodeTime(first), at + 1_000_000);
  const second = newOpId(at);
  assert.ok(second > first);
  assert.equal(decodeTime(second), at + 1_000_000, "keeps the later time");
  const later = newOpId(at + 2_000_000);
  assert.equal(decodeTime(later), at + 2_000_000);
  assert.ok(isValid(later));
});
