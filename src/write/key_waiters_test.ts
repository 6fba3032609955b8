import assert from "node:assert/strict";
import { KeyWaiters, type LogPosition, TOUCHES_MAX, type Waiter } from "./key_waiters.ts";

const key = (text: string) => new TextEncoder().encode(text);
const settle = async () => {
  for (let i = 0; i < 3; i++) await Promise.resolve();
};

/** A table and waiters that record their wakes. */
function table() {
  const waiters = new KeyWaiters(() => 0);
  const woken: string[] = [];
  const add = (name: string, keys: string[], after: number, kind: "take" | "read" = "take") =>
    waiters.add({
      db: 0,
      keys: keys.map(key),
      kind,
      wake: (at: LogPosition | undefined) => woken.push(`${name}@${at?.offset ?? "poll"}`),
    }, { partition: 0, offset: after });
  const readied = (offset: number, ...keys: string[]) =>
    waiters.readied([{ partition: 0, offset, keys: keys.map((k) => ({ db: 0, key: key(k) })) }]);
  return { waiters, woken, add, readied };
}

Deno.test("a push wakes one taker per key, in the order they came; a try that took passes the turn on", async () => {
  const { waiters, woken, add, readied } = table();
  const a = add("a", ["q"], 1);
  const b = add("b", ["q"], 2);
  add("c", ["q"], 3);
  readied(10, "q");
  await settle();
  assert.deepEqual(woken, ["a@10"], "one try, the first waiter's");
  readied(11, "q");
  await settle();
  assert.deepEqual(woken, ["a@10"], "its turn is held while its try is in flight");
  waiters.remove(a, true);
  await settle();
  assert.deepEqual(woken, ["a@10", "b@poll"], "it took: the next one tries");
  waiters.foundNothing(b, { partition: 0, offset: 12 });
  await settle();
  assert.deepEqual(woken, ["a@10", "b@poll"], "nothing at 12, after the last push: the turn ends");
  assert.equal(waiters.size, 2);
});

Deno.test("a try that found nothing before a later push tries again", async () => {
  const { waiters, woken, add, readied } = table();
  const a = add("a", ["q"], 1);
  readied(10, "q");
  await settle();
  readied(12, "q");
  waiters.foundNothing(a, { partition: 0, offset: 11 });
  await settle();
  assert.deepEqual(woken, ["a@10", "a@poll"], "pushed at 12, after its try at 11");
});

Deno.test("a client that starts waiting after a push its first try crossed tries again at once", async () => {
  const { woken, add, readied } = table();
  readied(5, "q");
  add("late", ["q"], 4);
  add("other", ["r"], 4);
  await settle();
  assert.deepEqual(woken, ["late@poll"]);
});

Deno.test("pushes to keys no one waits on are remembered; forgotten ones count as readied", async () => {
  const { woken, add, readied } = table();
  for (let i = 0; i <= TOUCHES_MAX; i++) readied(100 + i, `k${i}`);
  // k0 was forgotten at offset 100: a try before it tries again, one after it does not.
  add("before", ["k0"], 99);
  add("after", ["zzz"], 100 + TOUCHES_MAX);
  await settle();
  assert.deepEqual(woken, ["before@poll"]);
});

Deno.test("readers read again on every touch; they never hold a taker's turn", async () => {
  const { waiters, woken, add, readied } = table();
  const r1 = add("r1", ["s"], 1, "read");
  add("r2", ["s"], 1, "read");
  add("t", ["s"], 1);
  readied(7, "s");
  await settle();
  assert.deepEqual(woken.sort(), ["r1@7", "r2@7", "t@7"]);
  waiters.foundNothing(r1, { partition: 0, offset: 7 });
  readied(8, "s");
  await settle();
  assert.deepEqual(woken.filter((w) => w.startsWith("r1")), ["r1@7", "r1@8"]);
});

Deno.test("a waiter on two keys: woken by either; leaving hands its turn on; SWAPDB wakes every key", async () => {
  const { waiters, woken, add, readied } = table();
  const both: Waiter = add("both", ["a", "b"], 1);
  add("onlyB", ["b"], 1);
  readied(3, "b");
  await settle();
  assert.deepEqual(woken, ["both@3"]);
  waiters.remove(both);
  await settle();
  assert.deepEqual(woken, ["both@3", "onlyB@poll"], "its turn on b passes on");
  assert.equal(waiters.keys, 1);
  waiters.readied([{ partition: 0, offset: 9, keys: "all" }]);
  await settle();
  assert.deepEqual(woken.length, 2, "onlyB still holds the turn");
});

Deno.test("a removed waiter is not woken, and poll() tries every key without a try in flight", async () => {
  const { waiters, woken, add } = table();
  const a = add("a", ["q"], 1);
  add("b", ["r"], 1);
  waiters.remove(a);
  waiters.poll();
  await settle();
  assert.deepEqual(woken, ["b@poll"]);
  assert.equal(waiters.size, 1);
});
