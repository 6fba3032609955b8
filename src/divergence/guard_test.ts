import assert from "node:assert/strict";
import { ManualClock } from "../manual_clock.ts";
import { DivergenceGuard, type VerdictStore } from "./guard.ts";

/** A store in memory that can be made to fail. */
function memoryStore(): VerdictStore & { value: string | undefined; down: boolean } {
  const store = {
    value: undefined as string | undefined,
    down: false,
    read: () => store.down ? Promise.reject(new Error("down")) : Promise.resolve(store.value),
    write: (text: string) => {
      if (store.down) return Promise.reject(new Error("down"));
      store.value = text;
      return Promise.resolve();
    },
  };
  return store;
}

Deno.test("a halt is kept in the rack's Redis and holds across a restart of the node", async () => {
  const store = memoryStore();
  const guard = new DivergenceGuard(store, new ManualClock());
  await guard.start();
  assert.equal(guard.reason(), undefined);
  guard.halt("op 1 differs");
  assert.equal(guard.reason(), "op 1 differs");
  await guard.poll();
  assert.equal(store.value, "op 1 differs");
  guard.halt("a second verdict does not replace the first");
  assert.equal(guard.reason(), "op 1 differs");
  guard.stop();

  const again = new DivergenceGuard(store, new ManualClock());
  await again.start();
  assert.equal(again.reason(), "op 1 differs", "another node of the rack, or this one restarted");
  again.stop();
});

Deno.test("a halt written while Redis was down is written later; removing it clears the halt", async () => {
  const store = memoryStore();
  const clock = new ManualClock();
  const guard = new DivergenceGuard(store, clock);
  await guard.start();
  store.down = true;
  guard.halt("key k differs");
  await clock.advance(1_000);
  assert.equal(store.value, undefined);
  assert.equal(guard.reason(), "key k differs", "not cleared by a verdict not yet written");
  store.down = false;
  await clock.advance(1_000);
  assert.equal(store.value, "key k differs");
  await clock.advance(1_000);
  assert.equal(guard.reason(), "key k differs");
  store.value = undefined; // the operator emptied the rack's Redis
  await clock.advance(1_000);
  assert.equal(guard.reason(), undefined);
  guard.stop();
});
