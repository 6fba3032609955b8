import assert from "node:assert/strict";
import { Inflights, Progress } from "./progress.ts";

Deno.test("Inflights is a bounded window freed by acknowledgements", () => {
  const inflights = new Inflights(3);
  inflights.add(2);
  inflights.add(5);
  inflights.add(9);
  assert.equal(inflights.full(), true);
  assert.throws(() => inflights.add(10), /full/);
  inflights.freeLE(5);
  assert.equal(inflights.count, 1);
  inflights.add(12);
  inflights.add(13);
  inflights.freeFirstOne();
  assert.equal(inflights.count, 2);
  inflights.freeLE(100);
  assert.equal(inflights.count, 0);
});

Deno.test("Inflights refuses indexes that do not go up", () => {
  const inflights = new Inflights(4);
  inflights.add(5);
  assert.throws(() => inflights.add(5), /not above/);
});

Deno.test("Progress in probe state sends one append at a time", () => {
  const progress = new Progress(10, { inflightMax: 4, isLearner: false });
  assert.equal(progress.isPaused(), false);
  progress.probeSent = true;
  assert.equal(progress.isPaused(), true);
  assert.equal(progress.maybeUpdate(9), true, "an acknowledgement moves match");
  assert.equal(progress.isPaused(), false);
  assert.equal(progress.next, 10);
});

Deno.test("Progress.maybeDecrTo() ignores stale rejections and follows the hint", () => {
  const progress = new Progress(10, { inflightMax: 4, isLearner: false });
  assert.equal(progress.maybeDecrTo(5, 3), false, "not the probe that is out");
  assert.equal(progress.maybeDecrTo(9, 3), true);
  assert.equal(progress.next, 4);
  progress.match = 6;
  progress.next = 9;
  assert.equal(progress.maybeDecrTo(8, 2), true);
  assert.equal(progress.next, 7, "never below match + 1");
});

Deno.test("Progress in replicate state streams up to its inflight bound", () => {
  const progress = new Progress(1, { inflightMax: 2, isLearner: false });
  progress.maybeUpdate(4);
  progress.becomeReplicate();
  assert.equal(progress.next, 5);
  progress.optimisticUpdate(6);
  progress.inflights.add(6);
  progress.optimisticUpdate(8);
  progress.inflights.add(8);
  assert.equal(progress.isPaused(), true);
  assert.equal(progress.maybeDecrTo(3, 0), false, "at or below match is stale");
  assert.equal(progress.maybeDecrTo(6, 0), true);
  assert.equal(progress.next, 5, "a rejection restarts from match + 1");
});

Deno.test("Progress after a snapshot probes from past the snapshot", () => {
  const progress = new Progress(3, { inflightMax: 2, isLearner: false });
  progress.becomeSnapshot(20);
  assert.equal(progress.isPaused(), true);
  progress.becomeProbe();
  assert.equal(progress.next, 21);
  assert.equal(progress.pendingSnapshot, 0);
});
