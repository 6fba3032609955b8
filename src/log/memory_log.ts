/**
 * An {@linkcode OpLog} in memory: the twin of Kafka and the segment log for
 * tests and simulations. It keeps the same contract (tests/log/contract.ts)
 * and adds what a real log does to Pylon on a bad day, on demand: an append
 * refused before it was written, one written whose answer was lost, one lost
 * with its answer. Nothing survives the process; waits run on the given clock.
 */

import { type Clock, realClock } from "../clock.ts";
import {
  type LogBounds,
  LogError,
  type LogReader,
  type LogRecord,
  type OpLog,
  type ReadLimits,
} from "./op_log.ts";

/**
 * What happens to one append: `written` (the normal case), `refused` (surely
 * not written), `answerLost` (written, but the caller hears an error saying it
 * may be), `lost` (not written, and the caller cannot tell).
 */
export type AppendOutcome = "written" | "refused" | "answerLost" | "lost";

/** Options of {@linkcode MemoryOpLog}. */
export interface MemoryOpLogOptions {
  partitions: number;
  /** Names the log (default `memory:1`); two logs with one id are "the same log". */
  id?: string;
  clock?: Clock;
  /** Decides each append's fate (default: always written). */
  appendOutcome?: (partition: number, record: Uint8Array) => AppendOutcome;
}

/** The op log, in memory. */
export class MemoryOpLog implements OpLog {
  readonly id: string;
  readonly partitions: number;
  #records: Uint8Array[][];
  #waiters = new Set<() => void>();
  #clock: Clock;
  #appendOutcome: (partition: number, record: Uint8Array) => AppendOutcome;
  #closed = false;
  #batches = 0;

  constructor(options: MemoryOpLogOptions) {
    if (!Number.isSafeInteger(options.partitions) || options.partitions < 1) {
      throw new RangeError(`partitions "${options.partitions}" must be a positive integer`);
    }
    this.id = options.id ?? "memory:1";
    this.partitions = options.partitions;
    this.#records = Array.from({ length: options.partitions }, () => []);
    this.#clock = options.clock ?? realClock;
    this.#appendOutcome = options.appendOutcome ?? (() => "written");
  }

  get batches(): number {
    return this.#batches;
  }

  /** Every record of `partition`, in order (an independent look at the log). */
  records(partition: number): readonly Uint8Array[] {
    return this.#partition(partition);
  }

  append(partition: number, record: Uint8Array, deadlineMs?: number): Promise<number> {
    if (this.#closed) return Promise.reject(new LogError("The log is closed", false));
    const records = this.#partition(partition);
    if (deadlineMs !== undefined && this.#clock.now() >= deadlineMs) {
      return Promise.reject(
        new LogError("The write's deadline passed before it was written", false),
      );
    }
    const outcome = this.#appendOutcome(partition, record);
    switch (outcome) {
      case "refused":
        return Promise.reject(new LogError("The log refused the append", false));
      case "lost":
        return Promise.reject(new LogError("The log did not answer the append", true));
      case "written":
      case "answerLost": {
        // A copy: the caller may reuse its buffer, as it may with a real log.
        records.push(record.slice());
        this.#batches++;
        this.#wake();
        return outcome === "written"
          ? Promise.resolve(records.length - 1)
          : Promise.reject(new LogError("The log did not answer the append", true));
      }
    }
  }

  reader(partition: number, offset: number): LogReader {
    this.#partition(partition);
    return new MemoryReader(this, { partition, offset });
  }

  bounds(partition: number): Promise<LogBounds> {
    return Promise.resolve({ start: 0, end: this.#partition(partition).length });
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#wake();
    return Promise.resolve();
  }

  get closed(): boolean {
    return this.#closed;
  }

  get clock(): Clock {
    return this.#clock;
  }

  /** Calls `wake` at the next append or close; the returned function forgets it. */
  onChange(wake: () => void): () => void {
    this.#waiters.add(wake);
    return () => this.#waiters.delete(wake);
  }

  #wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  #partition(partition: number): Uint8Array[] {
    const records = this.#records[partition];
    if (records === undefined) {
      throw new RangeError(`partition "${partition}" is not in [0, ${this.partitions})`);
    }
    return records;
  }
}

class MemoryReader implements LogReader {
  #log: MemoryOpLog;
  #partition: number;
  #position: number;
  #closed = false;
  #cancelWait: (() => void) | undefined;

  constructor(log: MemoryOpLog, options: { partition: number; offset: number }) {
    this.#log = log;
    this.#partition = options.partition;
    this.#position = options.offset;
  }

  async next(limits: ReadLimits): Promise<LogRecord[]> {
    const records = this.#log.records(this.#partition);
    if (this.#position < 0 || this.#position > records.length) {
      throw new LogError(
        `Offset "${this.#position}" of partition "${this.#partition}" is outside [0, ${records.length}]`,
        false,
      );
    }
    if (this.#position === records.length && limits.waitMs > 0) await this.#wait(limits.waitMs);
    const out: LogRecord[] = [];
    let bytes = 0;
    while (this.#position < records.length && out.length < limits.recordsMax) {
      const value = records[this.#position]!;
      if (out.length > 0 && bytes + value.length > limits.bytesMax) break;
      out.push({ offset: this.#position, value });
      bytes += value.length;
      this.#position++;
    }
    return out;
  }

  seek(offset: number): void {
    this.#position = offset;
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#cancelWait?.();
    return Promise.resolve();
  }

  /** Until an append, close, or `waitMs` on the log's clock. */
  #wait(waitMs: number): Promise<void> {
    if (this.#closed || this.#log.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        cancelTimer();
        forget();
        this.#cancelWait = undefined;
        resolve();
      };
      const cancelTimer = this.#log.clock.after(waitMs, done);
      const forget = this.#log.onChange(done);
      this.#cancelWait = done;
    });
  }
}
