import assert from "node:assert/strict";
import { route } from "../command/mod.ts";
import { Transaction, type TransactionContext, watchForWrite } from "./transaction.ts";

const utf8 = new TextEncoder();
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const argv = (...words: string[]) => words.map((w) => utf8.encode(w));

function context(positions: (number | undefined)[] = [7], db = 0): TransactionContext {
  return {
    db,
    protocol: 2,
    positions: () => positions,
    selectable: (n) => n >= 0 && n < 15,
    nowMs: () => 1_000,
  };
}

/** Sends a transaction command; the reply it gives now, as text. */
function control(t: Transaction, c: TransactionContext, ...words: string[]): string {
  const decision = t.control(words[0]!.toLowerCase(), argv(...words), c);
  assert.equal(decision.kind, "reply", words.join(" "));
  return text((decision as { reply: Uint8Array }).reply);
}

/** Queues a command inside MULTI; the reply, as text. */
function queue(t: Transaction, c: TransactionContext, ...words: string[]): string {
  return text(t.queue(route(argv(...words)), argv(...words), c));
}

Deno.test("MULTI .. EXEC submits the queued commands as one transaction, then the machine is idle", () => {
  const t = new Transaction();
  const c = context();
  assert.equal(t.queuedCount, -1);
  assert.equal(control(t, c, "MULTI"), "+OK\r\n");
  assert.equal(queue(t, c, "SET", "a", "1"), "+QUEUED\r\n");
  assert.equal(queue(t, c, "GET", "a"), "+QUEUED\r\n");
  assert.equal(queue(t, c, "PING"), "+QUEUED\r\n");
  assert.equal(t.queuedCount, 3);
  const exec = t.control("exec", argv("EXEC"), c);
  assert.equal(exec.kind, "submit");
  if (exec.kind !== "submit") return;
  assert.deepEqual(exec.commands.map((q) => [q.command.name, q.reply]), [
    ["set", "constant"],
    ["get", "data"],
    ["ping", "data"],
  ]);
  assert.equal(exec.watch, undefined);
  assert.equal(exec.dbAfter, undefined);
  assert.equal(t.active, false);
  assert.equal(control(t, c, "EXEC"), "-ERR EXEC without MULTI\r\n");
});

Deno.test("a command refused inside MULTI fails the transaction: EXEC answers EXECABORT", () => {
  const t = new Transaction();
  const c = context();
  control(t, c, "MULTI");
  assert.equal(queue(t, c, "SET", "a", "1"), "+QUEUED\r\n");
  assert.match(queue(t, c, "CONFIG", "SET", "maxmemory", "1"), /inside MULTI: it acts on one rack/);
  assert.equal(queue(t, c, "GET", "a"), "+QUEUED\r\n");
  assert.equal(
    control(t, c, "EXEC"),
    "-EXECABORT Transaction discarded because of previous errors.\r\n",
  );
  // Wrong arity and unknown commands too, as Redis rejects them before queueing.
  control(t, c, "MULTI");
  assert.match(queue(t, c, "GET"), /wrong number of arguments/);
  assert.match(control(t, c, "EXEC"), /EXECABORT/);
  control(t, c, "MULTI");
  t.fail();
  assert.match(control(t, c, "EXEC"), /EXECABORT/);
  // SAVE gets Redis's own refusal.
  control(t, c, "MULTI");
  assert.equal(queue(t, c, "SAVE"), "-ERR Command not allowed inside a transaction\r\n");
});

Deno.test("MULTI does not nest and WATCH inside MULTI is refused, both without failing it", () => {
  const t = new Transaction();
  const c = context();
  control(t, c, "MULTI");
  assert.equal(control(t, c, "MULTI"), "-ERR MULTI calls can not be nested\r\n");
  assert.equal(control(t, c, "WATCH", "k"), "-ERR WATCH inside MULTI is not allowed\r\n");
  queue(t, c, "INCR", "n");
  assert.equal(t.control("exec", argv("EXEC"), c).kind, "submit");
});

Deno.test("DISCARD ends the transaction and the watch; empty EXEC answers an empty array", () => {
  const t = new Transaction();
  const c = context();
  control(t, c, "WATCH", "k");
  control(t, c, "MULTI");
  queue(t, c, "SET", "k", "v");
  assert.equal(control(t, c, "DISCARD"), "+OK\r\n");
  assert.equal(t.watch, undefined);
  assert.equal(control(t, c, "DISCARD"), "-ERR DISCARD without MULTI\r\n");
  control(t, c, "MULTI");
  assert.equal(control(t, c, "EXEC"), "*0\r\n");
});

Deno.test("WATCH records the keys and the earliest position; EXEC carries them and ends the watch", () => {
  const t = new Transaction();
  const first = context([10, undefined]);
  control(t, first, "WATCH", "a", "b");
  assert.deepEqual(t.watch?.from, [10, undefined]);
  const later = context([12, 5]);
  control(t, later, "WATCH", "c");
  assert.deepEqual(t.watch?.from, [10, undefined], "the earliest position counts");
  control(t, later, "MULTI");
  queue(t, later, "SET", "a", "1");
  const exec = t.control("exec", argv("EXEC"), later);
  assert.equal(exec.kind, "submit");
  if (exec.kind !== "submit") return;
  assert.deepEqual(exec.watch?.keys.map(text), ["a", "b", "c"]);
  assert.deepEqual(exec.watch?.from, [10, undefined]);
  assert.equal(t.watch, undefined);
  control(t, later, "WATCH", "a");
  assert.equal(control(t, later, "UNWATCH"), "+OK\r\n");
  assert.equal(t.watch, undefined);
});

Deno.test("keys watched in two dbs abort EXEC (nil in the connection's protocol), never run it", () => {
  const t = new Transaction();
  control(t, context([1], 0), "WATCH", "a");
  control(t, context([1], 3), "WATCH", "b");
  const c = { ...context([1], 3), protocol: 3 as const };
  control(t, c, "MULTI");
  queue(t, c, "SET", "a", "1");
  assert.equal(control(t, c, "EXEC"), "_\r\n");
});

Deno.test("SELECT in MULTI moves the connection after EXEC; the metadata db is named as out of range", () => {
  const t = new Transaction();
  const c = context();
  control(t, c, "MULTI");
  queue(t, c, "SELECT", "3");
  queue(t, c, "SET", "a", "1");
  queue(t, c, "SELECT", "15");
  const exec = t.control("exec", argv("EXEC"), c);
  assert.equal(exec.kind, "submit");
  if (exec.kind !== "submit") return;
  assert.equal(exec.dbAfter, 3);
  assert.deepEqual(exec.commands[2]!.argv.map(text), ["SELECT", "-1"]);
});

Deno.test("RESET leaves the transaction and the watch", () => {
  const t = new Transaction();
  const c = context();
  control(t, c, "WATCH", "a");
  control(t, c, "MULTI");
  queue(t, c, "SET", "a", "1");
  t.reset();
  assert.equal(t.active, false);
  assert.equal(t.watch, undefined);
  assert.equal(control(t, c, "EXEC"), "-ERR EXEC without MULTI\r\n");
});

Deno.test("WATCH says which keys it recorded, for their expiries to be read; EXEC carries them once read", () => {
  const t = new Transaction();
  const c = context([3]);
  const first = t.control("watch", argv("WATCH", "a", "b"), c);
  assert.equal(first.kind, "reply");
  assert.deepEqual(
    (first as { watched?: { start: number; keys: Uint8Array[] } }).watched?.keys.map(text),
    ["a", "b"],
  );
  const second = t.control("watch", argv("WATCH", "c"), c) as { watched?: { start: number } };
  assert.equal(second.watched?.start, 2);
  const watch = t.watch!;
  t.setExpiries(watch, 0, [undefined, 5_000]);
  control(t, c, "MULTI");
  queue(t, c, "SET", "a", "1");
  const exec = t.control("exec", argv("EXEC"), c);
  assert.equal(exec.kind, "submit");
  if (exec.kind !== "submit") return;
  assert.deepEqual(watchForWrite(exec.watch!).expiries, undefined, "c's expiry was never read");
  t.setExpiries(watch, 2, [7_000]);
  assert.deepEqual(watchForWrite(exec.watch!).expiries, {
    watchedAtMs: 1_000,
    at: [undefined, 5_000, 7_000],
  });
});
