import assert from "node:assert/strict";
import { ManualClock } from "../manual_clock.ts";
import type { CommandRunner } from "../redis/command_runner.ts";
import { ApplyStops } from "./stops.ts";

const connection: CommandRunner = { run: () => Promise.resolve([]), closed: false, close() {} };

Deno.test("a stop runs when the applier stands at its position, with the log time there", async () => {
  const stops = new ApplyStops(new ManualClock());
  const result = stops.add(0, 10, {
    current: 4,
    timeoutMs: 1_000,
    work: (_, time) => Promise.resolve(`at ${time}`),
  });
  assert.equal(stops.next(0, 4), 10);
  assert.equal(stops.next(1, 4), Infinity, "another partition has none");
  await stops.runAt(0, 10, 555, connection);
  assert.deepEqual(await result, { kind: "done", value: "at 555" });
  assert.equal(stops.next(0, 10), Infinity, "a stop runs once");
  assert.equal(stops.size, 0);
});

Deno.test("a stop the applier went past answers where it is; one never reached times out", async () => {
  const clock = new ManualClock();
  const stops = new ApplyStops(clock);
  const work = () => Promise.resolve(1);
  assert.deepEqual(await stops.add(0, 3, { current: 8, timeoutMs: 10, work }), {
    kind: "passed",
    position: 8,
  });
  const crossed = stops.add(0, 12, { current: 10, timeoutMs: 10, work });
  stops.crossed(0, 10, 20); // a batch already on its way
  assert.deepEqual(await crossed, { kind: "passed", position: 20 });
  const late = stops.add(0, 30, { current: 20, timeoutMs: 10, work });
  await clock.advance(10);
  assert.deepEqual(await late, { kind: "timeout" });
  const failing = stops.add(0, 40, {
    current: 40,
    timeoutMs: 10,
    work: () => Promise.reject(new Error("NOSCRIPT")),
  });
  await stops.runAt(0, 40, 0, connection);
  assert.deepEqual(await failing, { kind: "failed", error: "NOSCRIPT" });
  const cleared = stops.add(0, 50, { current: 40, timeoutMs: 10, work });
  stops.clear();
  assert.deepEqual(await cleared, { kind: "timeout" });
});
