import assert from "node:assert/strict";
import { concatBytes } from "./bytes.ts";

Deno.test("concatBytes() joins parts in order and returns a single part as is", () => {
  const a = new Uint8Array([1, 2]);
  assert.deepEqual([...concatBytes([a, new Uint8Array([]), new Uint8Array([3])])], [1, 2, 3]);
  assert.equal(concatBytes([a]), a);
  assert.deepEqual([...concatBytes([a, a], 4)], [1, 2, 1, 2]);
});
