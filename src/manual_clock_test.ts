import assert from "node:assert/strict";
import { sleep } from "./clock.ts";
import { ManualClock } from "./manual_clock.ts";

Deno.test("ManualClock fires timers in due order, ties in the order they were set", async () => {
  const clock = new ManualClock();
  const fired: string[] = [];
  clock.after(20, () => fired.push(`b@${clock.now()}`));
  clock.after(10, () => fired.push(`a@${clock.now()}`));
  clock.after(20, () => fired.push(`c@${clock.now()}`));
  const cancel = clock.after(15, () => fired.push("cancelled"));
  cancel();
  await clock.advance(19);
  assert.deepEqual(fired, ["a@10"]);
  assert.equal(clock.now(), 19);
  await clock.advance(1);
  assert.deepEqual(fired, ["a@10", "b@20", "c@20"]);
  assert.equal(clock.timers, 0);
});

Deno.test("ManualClock.every() fires at each multiple until cancelled, even from inside", async () => {
  const clock = new ManualClock();
  const at: number[] = [];
  const cancel = clock.every(100, () => {
    at.push(clock.now());
    if (at.length === 3) cancel();
  });
  assert.equal(clock.timers, 1);
  await clock.advance(1_000);
  assert.deepEqual(at, [100, 200, 300]);
  assert.equal(clock.timers, 0);
  assert.throws(() => clock.every(0, () => {}), /not positive/);
});

Deno.test("ManualClock.advance() lets the work a timer started settle before the next fires", async () => {
  const clock = new ManualClock();
  const order: string[] = [];
  clock.after(5, () => {
    void Promise.resolve().then(() => Promise.resolve()).then(() => order.push("chain of 5"));
  });
  clock.after(5, () => order.push("second timer at 5"));
  await clock.advance(5);
  assert.deepEqual(order, ["chain of 5", "second timer at 5"]);
});

Deno.test("sleep() resolves on the given clock, or at once when aborted", async () => {
  const clock = new ManualClock();
  let woke = false;
  void sleep(clock, 50).then(() => woke = true);
  await clock.advance(49);
  assert.equal(woke, false);
  await clock.advance(1);
  assert.equal(woke, true);
  const abort = new AbortController();
  let aborted = false;
  void sleep(clock, 1_000, abort.signal).then(() => aborted = true);
  abort.abort();
  await Promise.resolve();
  assert.equal(aborted, true);
  assert.equal(clock.timers, 0, "an aborted sleep leaves no timer behind");
});
