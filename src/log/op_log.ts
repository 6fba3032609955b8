/**
 * The world's op log as the rest of Pylon sees it: partitions of records in
 * one total order each. Two implementations keep this contract: Kafka
 * (src/log/kafka_log.ts) for a world, and embedded segment files
 * (src/log/segment_log.ts) for one rack on one machine.
 */

/** One record read back from the log. */
export interface LogRecord {
  /** Position in its partition; offsets only grow. */
  offset: number;
  value: Uint8Array;
}

/** Where the log put an op: a connection's later reads wait until their rack applied it. */
export interface Placement {
  partition: number;
  offset: number;
}

/** The first offset still held and the offset the next append will get. */
export interface LogBounds {
  start: number;
  end: number;
}

/** Limits of one {@linkcode LogReader.next} call. */
export interface ReadLimits {
  recordsMax: number;
  bytesMax: number;
  /** How long to wait for a first record before returning none. */
  waitMs: number;
}

/** Reads one partition in order from a position. */
export interface LogReader {
  /**
   * Records from the reader's position, in order: at least one unless
   * `waitMs` passes first, at most `recordsMax` (and about `bytesMax`, but
   * always at least one). Advances the position past what it returns.
   */
  next(limits: ReadLimits): Promise<LogRecord[]>;
  /** Moves the position; the next `next()` starts there. */
  seek(offset: number): void;
  close(): Promise<void>;
}

/** Appends and reads of an op log. */
export interface OpLog {
  /**
   * Names this log among all logs (`kafka:<cluster id>/<topic>`,
   * `local:<ULID>`): a rack's Redis and a node's data folder record it, so
   * neither is ever applied from, or to, another log by mistake.
   */
  readonly id: string;
  readonly partitions: number;
  /** Writes (group commits) so far, over all partitions: appends ÷ batches is the batch size. */
  readonly batches: number;
  /**
   * Appends `record` to `partition` and resolves with its offset once the log
   * holds it durably (Kafka: acknowledged by all in-sync replicas; embedded:
   * fsynced). Concurrent appends share one write (group commit). Rejects with
   * {@linkcode LogError} otherwise. A record still waiting for its write at
   * `deadlineMs` (on the log's clock: `performance.now()`'s, or the one a
   * simulation gave both the log and its writers) is not written: it is
   * refused as surely not appended.
   */
  append(partition: number, record: Uint8Array, deadlineMs?: number): Promise<number>;
  /** A reader of `partition` starting at `offset`. */
  reader(partition: number, offset: number): LogReader;
  bounds(partition: number): Promise<LogBounds>;
  close(): Promise<void>;
}

/**
 * An append that was not acknowledged. `maybeAppended` is true when the
 * record may still be in the log (a timeout after sending), false when it
 * surely is not (refused before sending).
 */
export class LogError extends Error {
  override name = "LogError";
  readonly maybeAppended: boolean;

  constructor(message: string, maybeAppended: boolean) {
    super(message);
    this.maybeAppended = maybeAppended;
  }
}
