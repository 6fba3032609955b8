import assert from "node:assert/strict";
import { type FoundRedis, judgeStart, type StartFacts, trimmed } from "./judge.ts";

function judge(facts: Partial<StartFacts> & { found?: FoundRedis }) {
  return judgeStart({
    partition: 0,
    found: { kind: "marked" },
    stored: undefined,
    bounds: { start: 0, end: 100 },
    logTrimmed: false,
    ...facts,
  });
}

Deno.test("a Redis holding every op before its position applies from it", () => {
  assert.deepEqual(judge({ stored: 40 }), { kind: "apply", from: 40 });
  assert.deepEqual(judge({ stored: 40, bounds: { start: 40, end: 100 } }), {
    kind: "apply",
    from: 40,
  });
});

Deno.test("an empty Redis is replayed from offset 0 while the log still starts there", () => {
  for (const kind of ["claimed", "empty", "marked"] as const) {
    assert.deepEqual(judge({ found: { kind } }), { kind: "apply", from: 0 });
  }
});

Deno.test("an empty Redis whose log no longer starts at 0 is never applied from a later op", () => {
  const v = judge({ found: { kind: "claimed" }, bounds: { start: 5_940, end: 6_301 } });
  assert.equal(v.kind, "rebuild");
  if (v.kind === "rebuild") assert.match(v.reason, /no longer holds that partition's first 5940/);
});

Deno.test("a Redis behind retention needs a rebuild, not a stop", () => {
  const v = judge({ stored: 10, bounds: { start: 20, end: 100 } });
  assert.equal(v.kind, "rebuild");
  if (v.kind === "rebuild") assert.match(v.reason, /applied up to 10 .* starts at 20.*retention/);
});

Deno.test("data without a marker: refused while the log is whole, rebuilt once it is not", () => {
  const found: FoundRedis = { kind: "unmarked", reason: "holds data but no Pylon marker" };
  assert.deepEqual(judge({ found }), { kind: "refuse", reason: "holds data but no Pylon marker" });
  assert.equal(judge({ found, logTrimmed: true }).kind, "rebuild");
});

Deno.test("a Redis a rebuild did not finish loading is rebuilt, whatever its positions say", () => {
  const v = judge({ found: { kind: "unfinished", rebuild: '{"from":"a/a1"}' }, stored: 90 });
  assert.equal(v.kind, "rebuild");
  if (v.kind === "rebuild") assert.match(v.reason, /did not finish loading .*a\/a1/);
});

Deno.test("trimmed() says whether any partition lost its start", () => {
  assert.equal(trimmed([{ start: 0, end: 9 }, { start: 0, end: 0 }]), false);
  assert.equal(trimmed([{ start: 0, end: 9 }, { start: 3, end: 9 }]), true);
});
