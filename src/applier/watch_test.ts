import assert from "node:assert/strict";
import {
  checkWatchAtAccept,
  touchesWatched,
  WATCH_SCAN_OPS_MAX,
  WatchRecordsGone,
  WatchVerdicts,
} from "./watch.ts";
import { encodeOp, type Op, type OpWatch } from "../log/op.ts";
import { MemoryOpLog } from "../log/memory_log.ts";
import type { LogBounds, OpLog } from "../log/op_log.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

const op = (db: number, ...commands: string[][]): Op => ({
  id: "01HZX3Y5V8Q2W4E6R8T0Y2U4I6",
  origin: "n",
  rack: "r",
  db,
  protocol: 2,
  transaction: commands.length > 1,
  acceptedAtMs: 0,
  commands: commands.map((argv) => argv.map(bytes)),
});
const keys = new Set(["k"]);

Deno.test("which logged ops touch a watched key", () => {
  assert.ok(touchesWatched(op(0, ["SET", "k", "1"]), 0, keys));
  assert.ok(!touchesWatched(op(0, ["SET", "other", "1"]), 0, keys));
  assert.ok(!touchesWatched(op(1, ["SET", "k", "1"]), 0, keys), "another db");
  assert.ok(touchesWatched(op(0, ["MSET", "a", "1", "k", "2"]), 0, keys));
  assert.ok(touchesWatched(op(1, ["SELECT", "0"], ["DEL", "k"]), 0, keys), "SELECT inside MULTI");
  assert.ok(touchesWatched(op(5, ["FLUSHALL"]), 0, keys));
  assert.ok(touchesWatched(op(0, ["FLUSHDB"]), 0, keys));
  assert.ok(!touchesWatched(op(1, ["FLUSHDB"]), 0, keys));
  assert.ok(touchesWatched(op(3, ["SWAPDB", "0", "3"]), 0, keys));
  assert.ok(touchesWatched(op(1, ["MOVE", "k", "0"]), 0, keys), "moved into the watched db");
});

/** A transaction on db 0 that watched `k` when its rack had applied up to `from`. */
const watched = (from: number, write = "w"): Op => ({
  ...op(0, ["SET", "k", write]),
  transaction: true,
  watch: { db: 0, from, keys: [bytes("k")] } satisfies OpWatch,
});

async function logOf(...ops: Op[]): Promise<MemoryOpLog> {
  const log = new MemoryOpLog({ partitions: 1 });
  for (const each of ops) await log.append(0, encodeOp(each));
  return log;
}

Deno.test("a watch is overtaken by a write of its key at or after its position, not before", async () => {
  const early = watched(1);
  const late = watched(1);
  const log = await logOf(
    op(0, ["SET", "k", "before the watch"]), // 0
    op(0, ["SET", "other", "1"]), // 1
    early, // 2
    op(0, ["SET", "k", "after the watch"]), // 3
    late, // 4
  );
  const verdicts = new WatchVerdicts(log, 0);
  assert.equal(await verdicts.overtaken(early, 2), false, "only offset 1 (another key) is scanned");
  assert.equal(await verdicts.overtaken(late, 4), true, "offset 3 wrote k");
  await log.close();
});

Deno.test("an overtaken watched transaction in between changed nothing and overtakes no one", async () => {
  const aborted = watched(0, "aborted");
  const after = watched(1);
  const log = await logOf(op(0, ["SET", "k", "1"]), aborted, after);
  const verdicts = new WatchVerdicts(log, 0);
  assert.equal(await verdicts.overtaken(after, 2), false, "offset 1 wrote k but was aborted");
  assert.equal(await verdicts.overtaken(aborted, 1), true, "the verdict it was judged by");
  await log.close();
});

Deno.test("a watch too old to scan is overtaken; one reaching before the log's start pauses the rack, and is not logged at all", async () => {
  const empty = new MemoryOpLog({ partitions: 1 });
  const verdicts = new WatchVerdicts(empty, 0);
  assert.equal(await verdicts.overtaken(watched(0), WATCH_SCAN_OPS_MAX + 1), true);
  assert.equal(await verdicts.overtaken(watched(7), 7), false, "nothing between: not read");
  const trimmed: OpLog = Object.assign(Object.create(empty), {
    bounds: (): Promise<LogBounds> => Promise.resolve({ start: 5, end: 9 }),
  });
  // What retention left decides nothing: the rack that cannot read the span does not guess.
  await assert.rejects(new WatchVerdicts(trimmed, 0).overtaken(watched(2), 8), WatchRecordsGone);
  assert.equal(await checkWatchAtAccept(trimmed, 0, watched(2).watch!), "aborted");
  assert.equal(await checkWatchAtAccept(trimmed, 0, watched(5).watch!), "logged");
  const long: OpLog = Object.assign(Object.create(empty), {
    bounds: (): Promise<LogBounds> => Promise.resolve({ start: 0, end: WATCH_SCAN_OPS_MAX + 10 }),
  });
  assert.equal(await checkWatchAtAccept(long, 0, watched(5).watch!), "aborted");
  await empty.close();
});
