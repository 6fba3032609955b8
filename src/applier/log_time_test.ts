import assert from "node:assert/strict";
import type { Op } from "../log/op.ts";
import { logTimes, parseLogTime } from "./log_time.ts";

const at = (acceptedAtMs: number) => ({ acceptedAtMs } as Op);

Deno.test("an op's log time is the largest accept time up to it: it never goes back", () => {
  assert.deepEqual(logTimes(100, [at(90), at(120), undefined, at(110), at(130)]), {
    times: [100, 120, 120, 120, 130],
    after: 130,
  });
  assert.deepEqual(logTimes(0, []), { times: [], after: 0 });
});

Deno.test("a stored log time is read back, and an absent or damaged one counts as 0", () => {
  assert.equal(parseLogTime(new TextEncoder().encode("1733500000123")), 1733500000123);
  assert.equal(parseLogTime(undefined), 0);
  assert.equal(parseLogTime(new TextEncoder().encode("x")), 0);
});
