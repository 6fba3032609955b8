import assert from "node:assert/strict";
import {
  checkHistory,
  counterModel,
  type Operation,
  type RegisterInput,
  registerModel,
  setModel,
} from "./checker.ts";

const op = <I, O>(client: number, input: I, output: O | undefined, call: number, ret: number) =>
  ({
    client,
    input,
    output,
    call,
    ret: output === undefined ? Infinity : ret,
  }) as Operation<I, O>;
const w = (v: string): RegisterInput => ({ kind: "write", value: v });
const r: RegisterInput = { kind: "read" };

Deno.test("register: concurrent writes and reads that a single order explains", () => {
  const history = [
    op(0, w("a"), "OK", 0, 10),
    op(1, w("b"), "OK", 5, 15),
    op(2, r, "b", 12, 20), // b after a: a, then b
    op(3, r, "b", 21, 25),
  ];
  assert.ok(checkHistory(registerModel, history.map(asRegister)).linearizable);
  // A read overlapping both writes may see either.
  assert.ok(
    checkHistory(
      registerModel,
      [
        op(0, w("a"), "OK", 0, 10),
        op(1, w("b"), "OK", 0, 10),
        op(2, r, "a", 1, 9),
        op(3, r, "b", 2, 8),
      ].map(asRegister),
    ).linearizable,
  );
});

Deno.test("register: a stale read after a completed write is caught", () => {
  const verdict = checkHistory(
    registerModel,
    [
      op(0, w("a"), "OK", 0, 10),
      op(1, w("b"), "OK", 20, 30),
      op(2, r, "a", 40, 50), // b completed before this read began
    ].map(asRegister),
  );
  assert.equal(verdict.linearizable, false);
  assert.ok(verdict.stuckAt !== undefined);
});

Deno.test("register: reads going back in time are caught; unknown writes may or may not happen", () => {
  assert.equal(
    checkHistory(
      registerModel,
      [
        op(0, w("a"), "OK", 0, 100),
        op(1, r, "a", 10, 20),
        op(2, r, null, 30, 40), // saw a, then nothing: not linearizable
      ].map(asRegister),
    ).linearizable,
    false,
  );
  // A write that timed out: a later read may see it or not.
  for (const seen of ["x", null]) {
    assert.ok(
      checkHistory(
        registerModel,
        [
          op(0, w("x"), undefined, 0, 0),
          op(1, r, seen, 50, 60),
          op(2, r, "x", 70, 80),
        ].map(asRegister),
      ).linearizable,
      String(seen),
    );
  }
  // ... but it cannot be seen, then unseen.
  assert.equal(
    checkHistory(
      registerModel,
      [
        op(0, w("x"), undefined, 0, 0),
        op(1, r, "x", 50, 60),
        op(2, r, null, 70, 80),
      ].map(asRegister),
    ).linearizable,
    false,
  );
});

Deno.test("counter: INCR replies must be a sequence; a lost increment or a stale read is caught", () => {
  const incr = { kind: "incr" } as const;
  const read = { kind: "read" } as const;
  assert.ok(
    checkHistory(counterModel, [
      op(0, incr, 1, 0, 10),
      op(1, incr, 2, 5, 15),
      op(2, read, 2, 16, 20),
      op(3, incr, undefined, 21, 0),
      op(4, read, 3, 40, 41),
    ]).linearizable,
  );
  assert.equal(
    checkHistory(counterModel, [op(0, incr, 1, 0, 10), op(1, incr, 1, 20, 30)]).linearizable,
    false,
    "two INCRs answered 1",
  );
  assert.equal(
    checkHistory(counterModel, [op(0, incr, 1, 0, 10), op(1, read, 0, 20, 30)]).linearizable,
    false,
    "stale read",
  );
});

Deno.test("set: members appear once added, reads agree with one order", () => {
  const add = (member: string) => ({ kind: "add", member }) as const;
  const read = { kind: "read" } as const;
  assert.ok(
    checkHistory(setModel, [
      op(0, add("a"), 1, 0, 10),
      op(1, add("b"), 1, 5, 15),
      op(2, read, ["a"], 6, 9),
      op(3, read, ["b", "a"], 16, 20),
      op(4, add("a"), 0, 21, 22),
    ]).linearizable,
  );
  assert.equal(
    checkHistory(setModel, [op(0, add("a"), 1, 0, 10), op(1, read, [], 20, 30)]).linearizable,
    false,
  );
  assert.equal(
    checkHistory(setModel, [op(0, add("a"), 1, 0, 10), op(1, add("a"), 1, 20, 30)]).linearizable,
    false,
    "added twice as new",
  );
});

Deno.test("a few hundred concurrent operations check quickly", () => {
  const history: Operation<RegisterInput, string | null>[] = [];
  let value: string | null = null;
  for (let i = 0; i < 400; i++) {
    // Five clients overlapping, each op placed at its midpoint in a sequential run.
    const t = i * 10;
    if (i % 3 === 0) {
      value = `v${i}`;
      history.push(asRegister(op(i % 5, w(value), "OK", t - 15, t + 15)));
    } else history.push(asRegister(op(i % 5, r, value, t - 15, t + 15)));
  }
  const started = performance.now();
  const verdict = checkHistory(registerModel, history);
  assert.ok(verdict.linearizable);
  assert.ok(performance.now() - started < 10_000);
});

function asRegister(o: Operation<unknown, unknown>): Operation<RegisterInput, string | null> {
  return o as Operation<RegisterInput, string | null>;
}
