/**
 * Group commit for one partition: appends that arrive while a write is in
 * flight wait and then share the next write, so throughput grows with load
 * while an idle log still writes at once. Writes are strictly sequential,
 * which keeps offsets in arrival order. Batches are bounded in records and
 * bytes; `lingerMs` optionally holds a small batch back to let it grow.
 */

import { LogError } from "./op_log.ts";
import { type Clock, realClock } from "../clock.ts";

/** Bounds of one batch. */
export interface GroupCommitOptions {
  batchRecordsMax: number;
  batchBytesMax: number;
  /** Extra wait for more records when nothing is in flight; 0 writes at once. */
  lingerMs: number;
  /** The clock of the appends' deadlines and of the linger (default: the real clock). */
  clock?: Clock;
}

/** Writes a batch durably and resolves with the offset of its first record. */
export type WriteBatch = (records: Uint8Array[]) => Promise<number>;

interface Waiting {
  record: Uint8Array;
  /** Not written once this passes while it waits (on the options' clock). */
  deadlineMs: number;
  resolve: (offset: number) => void;
  reject: (error: Error) => void;
}

/** Batches appends to one partition into sequential writes. */
export class GroupCommit {
  readonly options: GroupCommitOptions;
  #write: WriteBatch;
  #clock: Clock;
  #queue: Waiting[] = [];
  #queuedBytes = 0;
  #writing = false;
  #lingering = false;
  /** The queue has lingered once: the next kick writes it, full or not. */
  #lingered = false;
  #closed = false;
  #idle: (() => void)[] = [];
  /** Batches written, for tests and metrics. */
  batches = 0;

  constructor(write: WriteBatch, options: GroupCommitOptions) {
    this.#write = write;
    this.options = options;
    this.#clock = options.clock ?? realClock;
  }

  /** Records waiting for a write. */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Queues `record`; resolves with its offset once its batch is durable. If
   * it is still queued at `deadlineMs`, it is refused without being written.
   */
  append(record: Uint8Array, deadlineMs = Infinity): Promise<number> {
    if (this.#closed) return Promise.reject(new LogError("the log is closed", false));
    return new Promise((resolve, reject) => {
      this.#queue.push({ record, deadlineMs, resolve, reject });
      this.#queuedBytes += record.length;
      this.#kick();
    });
  }

  /** Refuses new appends and resolves once queued ones are written. */
  close(): Promise<void> {
    this.#closed = true;
    if (!this.#writing && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Refuses the queued records whose deadline passed while they waited (a write was slow). */
  #dropExpired(): void {
    const now = this.#clock.now();
    if (!this.#queue.some((w) => w.deadlineMs <= now)) return;
    const kept: Waiting[] = [];
    for (const waiting of this.#queue) {
      if (waiting.deadlineMs > now) kept.push(waiting);
      else {
        this.#queuedBytes -= waiting.record.length;
        waiting.reject(
          new LogError("the log was not ready to take it before the write's deadline", false),
        );
      }
    }
    this.#queue = kept;
  }

  #kick(): void {
    if (this.#writing || this.#lingering || this.#queue.length === 0) return;
    const full = this.#queue.length >= this.options.batchRecordsMax ||
      this.#queuedBytes >= this.options.batchBytesMax;
    if (this.options.lingerMs > 0 && !full && !this.#closed && !this.#lingered) {
      this.#lingering = true;
      this.#clock.after(this.options.lingerMs, () => {
        this.#lingering = false;
        this.#lingered = true;
        this.#kick();
      });
      return;
    }
    this.#lingered = false;
    void this.#flush();
  }

  async #flush(): Promise<void> {
    this.#writing = true;
    this.#dropExpired();
    if (this.#queue.length === 0) {
      this.#writing = false;
      for (const resolve of this.#idle.splice(0)) resolve();
      return;
    }
    let count = 0;
    let bytes = 0;
    const limit = Math.min(this.#queue.length, this.options.batchRecordsMax);
    for (; count < limit; count++) {
      const size = this.#queue[count]!.record.length;
      // Always take one, even past the byte bound, so a huge record cannot stall the queue.
      if (count > 0 && bytes + size > this.options.batchBytesMax) break;
      bytes += size;
    }
    const batch = this.#queue.splice(0, count);
    this.#queuedBytes -= bytes;
    try {
      const first = await this.#write(batch.map((w) => w.record));
      this.batches++;
      batch.forEach((w, i) => w.resolve(first + i));
    } catch (error) {
      const failure = error instanceof LogError
        ? error
        : new LogError(error instanceof Error ? error.message : String(error), true);
      for (const w of batch) w.reject(failure);
    } finally {
      this.#writing = false;
      if (this.#queue.length > 0) this.#kick();
      else for (const resolve of this.#idle.splice(0)) resolve();
    }
  }
}
