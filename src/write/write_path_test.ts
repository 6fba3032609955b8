/** The write path on the in-memory log, with no applier: every write stays in flight. */

import assert from "node:assert/strict";
import { PendingWrites } from "./pending_writes.ts";
import { findCommand } from "../command/mod.ts";
import { MemoryOpLog } from "../log/memory_log.ts";
import { decodeOp } from "../log/op.ts";
import { WritePath, type WriteRequest } from "./write_path.ts";
import { budgetSteps } from "../determinism/script_budget.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

function setRequest(key: string): WriteRequest {
  return {
    commands: [{
      argv: [bytes("SET"), bytes(key), bytes("v")],
      command: findCommand("set")!,
      reply: "data",
    }],
    transaction: false,
    db: 0,
    protocol: 2,
  };
}

Deno.test("past writes-in-flight-max a write is refused before it is logged", async () => {
  const log = new MemoryOpLog({ partitions: 1 });
  const pending = new PendingWrites();
  const path = new WritePath(log, pending, {
    nodeId: "n1",
    rack: "east",
    metaDb: 15,
    ackLog: new Set(),
    writeTimeoutMs: 60_000,
    writesInFlightMax: 3,
  });
  const replies: string[] = [];
  for (let i = 0; i < 5; i++) void path.submit(setRequest(`k${i}`), (r) => replies.push(text(r)));
  await log.bounds(0);
  assert.equal(pending.size, 3);
  assert.deepEqual(replies.length, 2, "only the refused writes are answered (no applier here)");
  for (const reply of replies) {
    assert.match(reply, /^-ERR Pylon has 3 writes awaiting their replies, its limit .*not logged/);
  }
  assert.deepEqual(
    log.records(0).map((r) => text(decodeOp(r).commands[0]![1]!)),
    ["k0", "k1", "k2"],
    "the log holds exactly the writes that were not refused",
  );
  // A reply frees a place.
  const first = [...pending.placedWrites()][0]!;
  pending.deliver(first.id, bytes("+OK\r\n"));
  void path.submit(setRequest("k5"), (r) => replies.push(text(r)));
  await log.bounds(0);
  assert.equal(log.records(0).length, 4);
  path.expire(Number.POSITIVE_INFINITY);
  await log.close();
});

Deno.test("an op that runs a script carries the node's script budget in steps; others carry none", async () => {
  const log = new MemoryOpLog({ partitions: 1 });
  const pending = new PendingWrites();
  const path = new WritePath(log, pending, {
    nodeId: "n1",
    rack: "east",
    metaDb: 15,
    ackLog: new Set(),
    writeTimeoutMs: 60_000,
    writesInFlightMax: 10,
    scriptTimeMaxMs: 300,
  });
  const evalRequest: WriteRequest = {
    commands: [{
      argv: [bytes("EVAL"), bytes("return 1"), bytes("0")],
      command: findCommand("eval")!,
      reply: "data",
    }],
    transaction: false,
    db: 0,
    protocol: 2,
  };
  void path.submit(evalRequest, () => {});
  void path.submit(setRequest("k"), () => {});
  path.configure({ writeTimeoutMs: 60_000, writesInFlightMax: 10, scriptTimeMaxMs: 50 });
  void path.submit(evalRequest, () => {});
  await log.bounds(0);
  assert.deepEqual(
    log.records(0).map((r) => decodeOp(r).scriptBudgetSteps),
    [budgetSteps(300), undefined, budgetSteps(50)],
  );
  path.expire(Number.POSITIVE_INFINITY);
  await log.close();
});
