/**
 * `WATCH`, world-wide: whether a watched transaction was overtaken, decided
 * from the log alone so that every rack decides alike.
 *
 * A watched op carries the keys, their db and the partition's position the
 * client's rack had applied when they were watched (`watch.from`). It is
 * overtaken when an op at or after that position and before its own offset
 * wrote one of the keys in that db, or flushed or swapped the db, unless that
 * op was itself an overtaken (aborted) transaction, which changed nothing.
 *
 * The verdict never depends on what the log's retention left when a rack
 * applies the op: a rack that finds records of the watch's span deleted (it
 * applies the op at the very edge of retention) does not guess, it pauses
 * ({@linkcode WatchRecordsGone}), as for any rack condition. So that this stays
 * rare, the accepting node does not log a watch it could not check itself
 * ({@linkcode checkWatchAtAccept}: older than {@linkcode WATCH_SCAN_OPS_MAX} ops, or
 * reaching before the log's start): that EXEC is answered nil, never logged.
 */

import { commandKeysIfKnown, dbArguments, findCommand } from "../command/mod.ts";
import { decodeOp, type Op, type OpWatch } from "../log/op.ts";
import type { OpLog } from "../log/op_log.ts";

/** The most ops between a WATCH and its EXEC that are checked; past it the EXEC aborts. */
export const WATCH_SCAN_OPS_MAX = 100_000;
/** Verdicts on watched transactions kept for the ones after them. */
const VERDICTS_KEPT = 10_000;
/** Bounds of one read of the log while scanning. */
const SCAN_RECORDS_MAX = 512;
const SCAN_BYTES_MAX = 4 * 1024 * 1024;
const SCAN_WAIT_MS = 1_000;

const UTF8 = new TextDecoder();

/** The records a watch verdict needs are gone from the log: the rack cannot decide it alike. */
export class WatchRecordsGone extends Error {
  override name = "WatchRecordsGone";
}

/** Whether `op` wrote one of `keys` in `db`, or flushed or swapped that db. */
export function touchesWatched(op: Op, db: number, keys: ReadonlySet<string>): boolean {
  const text = UTF8;
  let current = op.db;
  for (const argv of op.commands) {
    const name = text.decode(argv[0]).toLowerCase();
    if (name === "select") {
      current = Number(text.decode(argv[1]));
      continue;
    }
    if (name === "flushall") return true;
    if (name === "flushdb" && current === db) return true;
    const command = findCommand(name);
    if (command === undefined) continue;
    const dbs = dbArguments(command, argv);
    if (name === "swapdb" && dbs.includes(db)) return true;
    if (current !== db && !dbs.includes(db)) continue;
    const positions = commandKeysIfKnown(command, argv);
    // Keys that cannot be found: aborting the watcher is never wrong.
    if (positions === undefined) return true;
    for (const position of positions) {
      if (keys.has(text.decode(argv[position]))) return true;
    }
  }
  return false;
}

/**
 * One partition's verdicts on watched transactions: each is a fact of the
 * log, decided once by reading it and kept a while (a later watch scanning
 * over an earlier watched transaction asks for its verdict again).
 */
export class WatchVerdicts {
  #log: OpLog;
  #partition: number;
  /** Whether the watched transaction at an offset was overtaken (aborted). */
  #verdicts = new Map<number, boolean>();

  constructor(log: OpLog, partition: number) {
    this.#log = log;
    this.#partition = partition;
  }

  /**
   * Whether an op in the log at or after the watch's position and before
   * `offset` (this op's own) touched a watched key: decided from the log
   * alone, so every rack decides alike. A watch older than
   * {@linkcode WATCH_SCAN_OPS_MAX} ops is overtaken by definition.
   */
  async overtaken(op: Op, offset: number): Promise<boolean> {
    const known = this.#verdicts.get(offset);
    if (known !== undefined) return known;
    const verdict = await this.#decide(op, offset);
    this.#verdicts.set(offset, verdict);
    // Verdicts are facts of the log; only recent ones can be asked for again.
    if (this.#verdicts.size > VERDICTS_KEPT) {
      for (const at of this.#verdicts.keys()) {
        if (this.#verdicts.size <= VERDICTS_KEPT / 2) break;
        this.#verdicts.delete(at);
      }
    }
    return verdict;
  }

  async #decide(op: Op, offset: number): Promise<boolean> {
    const watch = op.watch!;
    if (offset - Math.max(0, watch.from) > WATCH_SCAN_OPS_MAX) return true;
    const from = Math.max(0, watch.from);
    if (from >= offset) return false;
    const bounds = await this.#log.bounds(this.#partition);
    if (from < bounds.start) {
      throw new WatchRecordsGone(
        `the log's retention deleted offsets ${from} to ${bounds.start - 1} of partition ` +
          `${this.#partition} before this rack applied the watched transaction at ${offset}: ` +
          `its verdict cannot be read from the log here (keep the log longer than racks lag)`,
      );
    }
    return await this.scan(watch, from, offset);
  }

  /**
   * Whether an op at an offset in [`from`, `to`) touched a watched key of
   * `watch` (an aborted watched transaction touched nothing).
   */
  async scan(watch: OpWatch, from: number, to: number): Promise<boolean> {
    const keys = new Set(watch.keys.map((k) => UTF8.decode(k)));
    const reader = this.#log.reader(this.#partition, from);
    try {
      let at = from;
      while (at < to) {
        const records = await reader.next({
          recordsMax: Math.min(SCAN_RECORDS_MAX, to - at),
          bytesMax: SCAN_BYTES_MAX,
          waitMs: SCAN_WAIT_MS,
        });
        if (records.length === 0) throw new Error(`the log did not return offset ${at}`);
        for (const record of records) {
          if (record.offset >= to) return false;
          at = record.offset + 1;
          let earlier: Op;
          try {
            earlier = decodeOp(record.value);
          } catch {
            continue; // skipped by every rack alike
          }
          if (!touchesWatched(earlier, watch.db, keys)) continue;
          // A watched transaction that was itself aborted changed nothing.
          if (earlier.watch !== undefined && await this.overtaken(earlier, record.offset)) {
            continue;
          }
          return true;
        }
      }
      return false;
    } finally {
      await reader.close();
    }
  }
}

/** What the accepting node found of a watch before logging its transaction. */
export type AcceptedWatch = "aborted" | "logged";

/**
 * The accepting node's check of a watch, before its transaction is logged:
 * one it could not check from the log now (older than
 * {@linkcode WATCH_SCAN_OPS_MAX} ops, or reaching before the log's start) is
 * aborted, never logged — aborting is never wrong (the client retries), and
 * no rack then has to decide it from what its retention left.
 */
export async function checkWatchAtAccept(
  log: OpLog,
  partition: number,
  watch: OpWatch,
): Promise<AcceptedWatch> {
  const from = Math.max(0, watch.from);
  const bounds = await log.bounds(partition);
  return from < bounds.start || bounds.end - from > WATCH_SCAN_OPS_MAX ? "aborted" : "logged";
}

/**
 * Whether one of a transaction's watched keys expired after it was watched
 * and no later than the transaction's log time `timeMs`: Redis 7 aborts
 * EXEC then. Decided from the expiries the op carries (read when the keys
 * were watched), not from what a rack still holds, so every rack decides
 * alike; a change of a key's expiry in between is an op that touched it.
 */
export function expiredSinceWatch(op: Op, timeMs: number): boolean {
  const expiries = op.watch?.expiries;
  if (expiries === undefined) return false;
  return expiries.at.some((at) => at !== undefined && at > expiries.watchedAtMs && at <= timeMs);
}
