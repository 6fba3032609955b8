import assert from "node:assert/strict";
import { creditToGrant } from "./credit.ts";

const WINDOW = 1_000;
const STEP = 100;
const grant = (granted: number, received: number, unconsumed: number, needed = 0) =>
  creditToGrant({ granted, received, unconsumed, needed }, WINDOW, STEP);

Deno.test("creditToGrant() keeps what may come plus what waits within one window", () => {
  assert.equal(grant(1_000, 0, 0), 0, "the first window is still outstanding");
  assert.equal(grant(1_000, 500, 500), 0, "all received waits to be loaded");
  assert.equal(grant(1_000, 500, 0), 500, "loaded: the window opens again");
  assert.equal(grant(1_000, 950, 900), 0, "less than a step: not yet");
  assert.equal(grant(1_000, 1_000, 950), 50, "nothing outstanding: even less than a step");
});

Deno.test("creditToGrant() lets one item longer than the window arrive whole", () => {
  // 3,000 bytes of one key are needed; 1,000 arrived and wait for the rest.
  assert.equal(grant(1_000, 1_000, 1_000, 3_000), 2_100);
  assert.equal(grant(3_100, 3_100, 3_000, 3_000), 100);
});

Deno.test("creditToGrant() never lets the bytes held pass the bound", () => {
  for (let received = 0; received <= 5_000; received += 37) {
    for (const unconsumed of [0, 100, 999]) {
      const granted = received + 1_000 - unconsumed;
      const more = grant(Math.max(granted, received), received, unconsumed);
      assert.ok(Math.max(granted, received) + more - received + unconsumed <= WINDOW + STEP);
    }
  }
});
