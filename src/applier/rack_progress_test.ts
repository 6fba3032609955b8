import assert from "node:assert/strict";
import { RackProgress } from "./rack_progress.ts";

Deno.test("reached() keeps its deadline while a read waits on a Redis that does not answer", async () => {
  const never = new Promise<number | undefined>(() => {});
  const progress = new RackProgress(1, () => never);
  const started = performance.now();
  assert.equal(await progress.reached(new Map([[0, 5]]), 100), false);
  const waited = performance.now() - started;
  assert.ok(waited >= 90 && waited < 2_000, `waited ${Math.round(waited)} ms`);
});

Deno.test("reached() answers true once a read shows the position", async () => {
  const progress = new RackProgress(1, () => Promise.resolve(7));
  assert.equal(await progress.reached(new Map([[0, 5]]), 1_000), true);
});
