import assert from "node:assert/strict";
import { SeededRandom } from "./random.ts";

Deno.test("SeededRandom replays the same sequence from the same seed", () => {
  const a = new SeededRandom(42);
  const b = new SeededRandom(42);
  const c = new SeededRandom(43);
  const seqA = Array.from({ length: 100 }, () => a.nextU32());
  const seqB = Array.from({ length: 100 }, () => b.nextU32());
  const seqC = Array.from({ length: 100 }, () => c.nextU32());
  assert.deepEqual(seqA, seqB);
  assert.notDeepEqual(seqA, seqC);
});

Deno.test("SeededRandom.int() covers its inclusive range roughly evenly", () => {
  const random = new SeededRandom(7);
  const counts = new Array(6).fill(0);
  for (let i = 0; i < 60_000; i++) counts[random.int(0, 5)]++;
  for (const count of counts) assert.ok(count > 9_000 && count < 11_000, `bucket count ${count}`);
});
