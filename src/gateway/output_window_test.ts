import assert from "node:assert/strict";
import { INITIAL_WINDOW, OutputWindow } from "./output_window.ts";

const MiB = 1024 * 1024;

Deno.test("the window starts small, then fits a quarter of the output limit at the recent reply size", () => {
  const window = new OutputWindow({ pendingRequestsMax: 1024, outputBytesMax: 64 * MiB });
  assert.equal(window.window(), INITIAL_WINDOW);
  for (let i = 0; i < 200; i++) window.written(10);
  assert.equal(window.window(), 1024, "small replies pipeline up to the maximum");
  for (let i = 0; i < 200; i++) window.written(MiB);
  assert.equal(window.window(), 16, "1 MiB replies: 16 under a 64 MiB limit");
});

Deno.test("a client over its output limit is over it, but one reply larger than the limit is delivered", () => {
  const window = new OutputWindow({ pendingRequestsMax: 1024, outputBytesMax: 10 * MiB });
  window.written(100 * MiB);
  assert.equal(window.overLimit(100 * MiB), false, "the large reply alone");
  assert.equal(window.overLimit(111 * MiB), true, "and more than the limit around it");
  window.drained();
  assert.equal(window.overLimit(11 * MiB), true);
});

Deno.test("reading pauses at the window or a quarter of the output, and resumes below half of both", () => {
  const window = new OutputWindow({ pendingRequestsMax: 1024, outputBytesMax: 8 * MiB });
  assert.equal(window.shouldPause(INITIAL_WINDOW, 0), true);
  assert.equal(window.shouldPause(INITIAL_WINDOW - 1, 0), false);
  assert.equal(window.shouldPause(0, 2 * MiB + 1), true);
  assert.equal(window.mayResume(INITIAL_WINDOW / 2, 0), false);
  assert.equal(window.mayResume(INITIAL_WINDOW / 2 - 1, MiB), true);
  assert.equal(window.mayResume(0, MiB + 1), false);
});
