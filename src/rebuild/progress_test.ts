import assert from "node:assert/strict";
import { TransferProgress } from "./progress.ts";

Deno.test("TransferProgress measures rates over the recent past and the time left", () => {
  const progress = new TransferProgress();
  assert.deepEqual(progress.figures(0, { bytes: 1_000, keys: 10 }), {
    bytesPerSecond: 0,
    keysPerSecond: 0,
    secondsLeft: undefined,
  });
  progress.sample(0, 0, 0);
  progress.sample(1_000, 100, 1);
  progress.sample(2_000, 200, 2);
  const known = progress.figures(2_000, { bytes: 1_000, keys: 10 });
  assert.equal(known.bytesPerSecond, 100);
  assert.equal(known.keysPerSecond, 1);
  assert.equal(known.secondsLeft, 8, "from the bytes when their total is known");
  assert.equal(
    progress.figures(2_000, { bytes: undefined, keys: 12 }).secondsLeft,
    10,
    "else keys",
  );
  assert.equal(
    progress.figures(2_000, { bytes: undefined, keys: undefined }).secondsLeft,
    undefined,
  );
});

Deno.test("TransferProgress forgets samples older than its window", () => {
  const progress = new TransferProgress();
  progress.sample(0, 0, 0);
  progress.sample(1_000, 1_000_000, 0); // a burst long ago
  progress.sample(20_000, 1_000_100, 0);
  progress.sample(21_000, 1_000_200, 0);
  assert.equal(progress.figures(21_000, { bytes: undefined, keys: undefined }).bytesPerSecond, 100);
});
