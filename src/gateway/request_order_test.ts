import assert from "node:assert/strict";
import { RequestOrder, SeenPositions } from "./request_order.ts";

Deno.test("reads with no write before them go at once and hold nothing up", () => {
  const order = new RequestOrder();
  assert.equal(order.read().go, true);
  assert.equal(order.read().go, true);
  assert.equal(order.write().go, true, "reads that went at once do not hold a write");
  assert.equal(order.size, 1);
});

Deno.test("a read waits for every write sent before it, and goes when the last one settles", () => {
  const order = new RequestOrder();
  const w1 = order.write();
  const w2 = order.write();
  assert.deepEqual([w1.go, w2.go], [true, true], "writes after writes go at once");
  const r = order.read();
  assert.equal(r.go, false);
  assert.deepEqual(order.settled(w1.ticket), []);
  assert.deepEqual(order.settled(w2.ticket), [r.ticket]);
  assert.equal(order.writesInFlight, 0);
});

Deno.test("a write waits for a read held before it to be answered, so that read does not see it", () => {
  const order = new RequestOrder();
  const w1 = order.write();
  const r = order.read();
  const w2 = order.write();
  assert.equal(w2.go, false);
  assert.deepEqual(order.settled(w1.ticket), [r.ticket], "the read goes; the write still waits");
  assert.deepEqual(order.answered(r.ticket), [w2.ticket]);
  assert.deepEqual(order.settled(w2.ticket), []);
  assert.equal(order.size, 0);
});

Deno.test("a gated read (a strong read's log end) waits for its gate and for earlier writes", () => {
  const order = new RequestOrder();
  const gated = order.read(true);
  assert.equal(gated.go, false);
  const w = order.write();
  assert.equal(w.go, false, "a write after a held read waits");
  assert.deepEqual(order.gateOpened(gated.ticket), [gated.ticket]);
  assert.deepEqual(order.answered(gated.ticket), [w.ticket]);

  const before = order.write();
  const strong = order.read(true);
  assert.deepEqual(
    order.gateOpened(strong.ticket),
    [],
    "its gate is open but a write is before it",
  );
  assert.deepEqual(order.settled(w.ticket), []);
  assert.deepEqual(order.settled(before.ticket), [strong.ticket]);
});

Deno.test("a cancelled read lets the writes behind it go", () => {
  const order = new RequestOrder();
  const gated = order.read(true);
  const w = order.write();
  assert.deepEqual(order.cancel(gated.ticket), [w.ticket]);
  assert.throws(() => order.answered(gated.ticket), /not in flight/);
});

Deno.test("events for requests not in flight are refused loudly", () => {
  const order = new RequestOrder();
  const w = order.write();
  assert.throws(() => order.answered(w.ticket), /not in flight/);
  order.settled(w.ticket);
  assert.throws(() => order.settled(w.ticket), /not in flight/);
  const r = order.read(true);
  assert.throws(() => order.answered(r.ticket), /not in flight/, "held, not released yet");
});

Deno.test("a thousand pipelined writes settle without holding anything", () => {
  const order = new RequestOrder();
  const tickets = Array.from({ length: 1_000 }, () => order.write());
  assert.ok(tickets.every((t) => t.go));
  for (const t of tickets) assert.deepEqual(order.settled(t.ticket), []);
  assert.equal(order.size, 0);
});

Deno.test("SeenPositions: the connection's writes, joined with a watch position and a log end", () => {
  const seen = new SeenPositions();
  assert.equal(seen.need().size, 0);
  assert.deepEqual([...seen.need([undefined, 4])], [[1, 4]]);
  seen.placed(0, 9);
  seen.placed(0, 3);
  assert.deepEqual([...seen.need()], [[0, 10]], "the furthest write counts, as next position");
  assert.deepEqual([...seen.need([12, undefined], new Map([[1, 2]]))], [[0, 12], [1, 2]]);
  assert.deepEqual([...seen.need([0])], [[0, 10]], "a watch at the start adds nothing");
});
