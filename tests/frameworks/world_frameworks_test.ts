import assert from "node:assert/strict";
import { EXPIRY_SHIFT_MS } from "../../src/determinism/expiry.ts";
import { differingKeys, type KeyState } from "./world_frameworks.ts";

const LOG_TIME_MS = 1_796_624_326_000;

/** A key's state as a rack holds it, expiring at log time `at` (or never). */
function key(value: string, at?: number): KeyState {
  const expiry = at === undefined ? -1 : EXPIRY_SHIFT_MS + at;
  return { expiry, state: `+string␍␊ ${expiry} ${value}` };
}

Deno.test("differingKeys() leaves out a key the log expired that one rack's sweeper already removed", () => {
  // As an RQ run at full size met it: rq:clean_groups expired at the last op's
  // log time, swept on rack1, not yet on rack0.
  const rack0 = new Map([["rq:clean_groups", key("a", LOG_TIME_MS - 1)], ["k", key("v")]]);
  const rack1 = new Map([["k", key("v")]]);
  assert.deepEqual(differingKeys(rack0, rack1, LOG_TIME_MS), []);
  assert.deepEqual(differingKeys(rack1, rack0, LOG_TIME_MS), []);
});

Deno.test("differingKeys() reports a key one rack lacks while the log has not expired it", () => {
  const rack0 = new Map([["lease", key("a", LOG_TIME_MS + 1)]]);
  const rack1 = new Map<string, KeyState>();
  assert.deepEqual(differingKeys(rack0, rack1, LOG_TIME_MS), [
    `lease: ${key("a", LOG_TIME_MS + 1).state} | undefined`,
  ]);
});

Deno.test("differingKeys() reports values, expiries and keys without expiry that differ", () => {
  const rack0 = new Map([["a", key("1")], ["b", key("2", LOG_TIME_MS + 10)], ["c", key("3")]]);
  const rack1 = new Map([["a", key("9")], ["b", key("2", LOG_TIME_MS + 20)]]);
  assert.deepEqual(differingKeys(rack0, rack1, LOG_TIME_MS).map((line) => line.split(":")[0]), [
    "a",
    "b",
    "c",
  ]);
  assert.deepEqual(differingKeys(rack0, rack0, LOG_TIME_MS), []);
});
