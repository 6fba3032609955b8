import assert from "node:assert/strict";
import { isValid } from "ulid";
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
