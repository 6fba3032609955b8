import assert from "node:assert/strict";
import { Backoff, backoffSchedule, delayMsMax } from "./backoff.ts";

function take(backoff: Backoff, n: number): (number | undefined)[] {
  return Array.from({ length: n }, () => backoff.next());
}

Deno.test("Backoff follows its delays and then repeats the last one for ever", () => {
  const backoff = new Backoff(backoffSchedule("reconnect", [50, 100, 250]));
  assert.deepEqual(take(backoff, 6), [50, 100, 250, 250, 250, 250]);
  assert.equal(backoff.retries, 6);
  assert.equal(delayMsMax(backoff.schedule), 250);
});

Deno.test("Backoff starts again from the first delay after reset()", () => {
  const backoff = new Backoff(backoffSchedule("reconnect", [50, 100, 250]));
  assert.deepEqual(take(backoff, 2), [50, 100]);
  backoff.reset();
  assert.equal(backoff.retries, 0);
  assert.deepEqual(take(backoff, 2), [50, 100]);
});

Deno.test("Backoff with retriesMax gives up after that many retries, and not before", () => {
  const short = new Backoff(backoffSchedule("read", [50, 200], { retriesMax: 2 }));
  assert.deepEqual(take(short, 3), [50, 200, undefined]);
  assert.equal(short.next(), undefined, "it stays given up");
  assert.equal(short.retries, 2);
  const long = new Backoff(backoffSchedule("report", [500], { retriesMax: 4 }));
  assert.deepEqual(take(long, 5), [500, 500, 500, 500, undefined]);
  long.reset();
  assert.equal(long.next(), 500, "a reset gives the retries back");
});

Deno.test("backoffSchedule() refuses schedules that are empty, shrink or never end badly", () => {
  assert.throws(() => backoffSchedule("x", []), /no delays/);
  assert.throws(() => backoffSchedule("x", [100, 50]), /decrease at "50"/);
  assert.throws(() => backoffSchedule("x", [-1]), /finite, not negative/);
  assert.throws(() => backoffSchedule("x", [Infinity]), /finite, not negative/);
  assert.throws(() => backoffSchedule("x", [1], { retriesMax: 0 }), /retriesMax "0"/);
  assert.throws(() => backoffSchedule("x", [1], { retriesMax: 1.5 }), /retriesMax "1.5"/);
  assert.doesNotThrow(() => backoffSchedule("x", [0, 0, 10]));
});

Deno.test("a schedule cannot be changed after it is made", () => {
  const delays = [1, 2];
  const schedule = backoffSchedule("x", delays);
  delays[0] = 100;
  assert.deepEqual(schedule.delaysMs, [1, 2]);
  assert.throws(() => (schedule.delaysMs as number[]).push(3));
});
