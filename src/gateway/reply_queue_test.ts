import assert from "node:assert/strict";
import { ReplyQueue } from "./reply_queue.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (parts: Uint8Array[]) => parts.map((p) => new TextDecoder().decode(p));

Deno.test("ReplyQueue hands replies out in request order whatever order they fill in", () => {
  const queue = new ReplyQueue();
  const a = queue.reserve();
  const b = queue.reserve();
  queue.push(bytes("c"));
  const d = queue.reserve();
  assert.equal(queue.pending, 4);

  b.reply = bytes("b");
  assert.deepEqual(queue.takeReady(), [], "b waits behind a");
  a.reply = bytes("a");
  assert.deepEqual(text(queue.takeReady()), ["a", "b", "c"]);
  assert.equal(queue.pending, 1);
  d.reply = bytes("d");
  assert.deepEqual(text(queue.takeReady()), ["d"]);
  assert.equal(queue.pending, 0);
});

Deno.test("ReplyQueue keeps order across many slots and compactions", () => {
  const queue = new ReplyQueue();
  const out: string[] = [];
  const open = [];
  for (let i = 0; i < 2_000; i++) {
    open.push({ slot: queue.reserve(), i });
    if (i % 3 === 2) {
      // Fill the newest first, then the older ones.
      for (const { slot, i: n } of open.reverse()) slot.reply = bytes(String(n));
      open.length = 0;
      out.push(...text(queue.takeReady()));
    }
  }
  for (const { slot, i } of open) slot.reply = bytes(String(i));
  out.push(...text(queue.takeReady()));
  assert.deepEqual(out, Array.from({ length: 2_000 }, (_, i) => String(i)));
});
