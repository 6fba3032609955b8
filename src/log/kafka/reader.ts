/**
 * A {@linkcode LogReader} of one Kafka partition on Pylon's own fetch client.
 * A pump fetches ahead into a bounded buffer (long polls: the broker answers
 * as soon as a record arrives); `next()` takes from it. The buffer never holds
 * more than `bufferedRecordsMax` records, nor more than `bufferedBytesMax`
 * bytes unless it is one record larger than that (taken alone, so a huge
 * record cannot stall the reader): the pump pauses at the bound, asks a fetch
 * for no more than the room left, and leaves what a fetch brought past the
 * bound to be fetched again. It starts again once the reader has taken half
 * the buffer (and there is room for the record that did not fit), not after
 * every take, so a reader that keeps up fetches in large steps. A failed fetch is
 * retried with backoff, a fresh leader lookup each time, so a broker restart
 * costs the reader one reconnection; only an offset outside the log is an
 * error for the caller. A `seek()` discards what was fetched from before it.
 */

import { getLogger } from "@logtape/logtape";
import type { HostPort } from "../../net/address.ts";
import type { KafkaSecurity } from "../../config/types.ts";
import { ignored } from "../../observe/ignored.ts";
import { fatal } from "../../observe/fatal.ts";
import {
  type LogBounds,
  LogError,
  type LogReader,
  type LogRecord,
  type ReadLimits,
} from "../op_log.ts";
import { type FetchResult, OffsetOutOfRange, PartitionFetcher } from "./fetcher.ts";
import { Backoff, backoffSchedule } from "../../backoff.ts";

const log = getLogger(["pylon", "log", "kafka"]);

/** Records the pump holds ahead of the reader, at most (default of `bufferedRecordsMax`). */
export const BUFFERED_RECORDS_MAX = 10_000;
/** Bytes the pump holds ahead of the reader, at most (default of `bufferedBytesMax`). */
export const BUFFERED_BYTES_MAX = 16 * 1024 * 1024;
/** Bytes one fetch asks for at most (a larger single batch still comes whole). */
const FETCH_BYTES_MAX = 1024 * 1024;
/** How long the broker may hold a fetch that finds nothing new. */
const FETCH_WAIT_MS = 500;
/** Delays between failed fetches (each looks the partition's leader up again). */
const FETCH_RETRY = backoffSchedule("Kafka fetch", [50, 100, 200, 500, 1_000]);

const EMPTY = new Uint8Array(0);

/** What the reader needs of a fetch client: {@linkcode PartitionFetcher}, or a twin in tests. */
export interface PartitionFetch {
  readonly partition: number;
  fetch(offset: number, bytesMax: number, waitMs: number): Promise<FetchResult>;
  close(): void;
}

/** Options of {@linkcode KafkaPartitionReader}. */
export interface KafkaPartitionReaderOptions {
  topic: string;
  partition: number;
  offset: number;
  clientId: string;
  bounds: () => Promise<LogBounds>;
  security?: KafkaSecurity;
  /** Records held ahead of the reader, at most (default {@linkcode BUFFERED_RECORDS_MAX}). */
  bufferedRecordsMax?: number;
  /** Bytes held ahead of the reader, at most (default {@linkcode BUFFERED_BYTES_MAX}). */
  bufferedBytesMax?: number;
  /** The fetch client (default: Pylon's own, to `brokers`; tests pass a twin). */
  fetcher?: PartitionFetch;
}

/** Reads one partition from a position. */
export class KafkaPartitionReader implements LogReader {
  #fetcher: PartitionFetch;
  readonly bufferedRecordsMax: number;
  readonly bufferedBytesMax: number;
  /** Bytes per record in the last fetch, to size the next one to the room left. */
  #recordBytes = FETCH_BYTES_MAX;
  /** The size of the record the last fetch could not fit: the pump waits for room for it. */
  #blockedBytes = 0;
  #bounds: () => Promise<LogBounds>;
  /** The offset `next()` returns next. */
  #position: number;
  /** The offset the pump fetches next (the position plus what is buffered). */
  #fetchAt: number;
  #buffer: LogRecord[] = [];
  #bufferedBytes = 0;
  /** Bumped by every seek: a fetch begun before it is thrown away. */
  #generation = 0;
  #failure: Error | undefined;
  #checked = false;
  #closed = false;
  #pumping: Promise<void> | undefined;
  #waiters: (() => void)[] = [];

  constructor(brokers: HostPort[], options: KafkaPartitionReaderOptions) {
    this.bufferedRecordsMax = options.bufferedRecordsMax ?? BUFFERED_RECORDS_MAX;
    this.bufferedBytesMax = options.bufferedBytesMax ?? BUFFERED_BYTES_MAX;
    for (
      const [name, value] of Object.entries({
        bufferedRecordsMax: this.bufferedRecordsMax,
        bufferedBytesMax: this.bufferedBytesMax,
      })
    ) {
      if (!Number.isInteger(value) || value < 1) {
        throw new RangeError(`${name} "${value}" must be a whole number, 1 or more`);
      }
    }
    this.#fetcher = options.fetcher ?? new PartitionFetcher(brokers, {
      topic: options.topic,
      partition: options.partition,
      clientId: options.clientId,
      security: options.security ?? {},
    });
    this.#bounds = options.bounds;
    this.#position = options.offset;
    this.#fetchAt = options.offset;
  }

  async next(limits: ReadLimits): Promise<LogRecord[]> {
    if (!this.#checked) {
      const { start, end } = await this.#bounds();
      if (this.#position < start || this.#position > end) {
        throw new LogError(
          `Offset ${this.#position} of partition ${this.#fetcher.partition} is outside the log ` +
            `(${start} to ${end})`,
          false,
        );
      }
      this.#checked = true;
    }
    this.#pump();
    if (this.#buffer.length === 0 && this.#failure === undefined && !this.#closed) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, limits.waitMs);
      });
      clearTimeout(timer);
    }
    if (this.#buffer.length === 0 && this.#failure !== undefined) throw this.#failure;
    const out: LogRecord[] = [];
    let bytes = 0;
    while (out.length < limits.recordsMax && this.#buffer.length > 0) {
      const record = this.#buffer[0]!;
      if (out.length > 0 && bytes + record.value.length > limits.bytesMax) break;
      out.push(this.#buffer.shift()!);
      bytes += record.value.length;
    }
    this.#bufferedBytes -= bytes;
    this.#position += out.length;
    this.#checkBounds();
    if (out.length > 0) this.#pump();
    return out;
  }

  seek(offset: number): void {
    this.#generation++;
    this.#position = offset;
    this.#fetchAt = offset;
    this.#buffer = [];
    this.#bufferedBytes = 0;
    this.#blockedBytes = 0;
    this.#failure = undefined;
    this.#checked = false;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#fetcher.close();
    this.#wake();
    await this.#pumping;
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Records buffered now (at most `bufferedRecordsMax`). */
  get bufferedRecords(): number {
    return this.#buffer.length;
  }

  /** Bytes buffered now (at most `bufferedBytesMax`, or one record larger than that). */
  get bufferedBytes(): number {
    return this.#bufferedBytes;
  }

  /** Whether the pump may start: the buffer is empty, or half read with room for what waits. */
  #refill(): boolean {
    if (this.#buffer.length === 0) return true;
    return this.#buffer.length <= this.bufferedRecordsMax / 2 &&
      this.#bufferedBytes <= this.bufferedBytesMax / 2 &&
      this.#bufferedBytes + this.#blockedBytes <= this.bufferedBytesMax;
  }

  #full(): boolean {
    return this.#buffer.length >= this.bufferedRecordsMax ||
      this.#bufferedBytes >= this.bufferedBytesMax;
  }

  /** Whether `value` fits in the buffer now (into an empty one, anything does). */
  #fits(value: Uint8Array): boolean {
    if (this.#buffer.length === 0) return true;
    return this.#buffer.length < this.bufferedRecordsMax &&
      this.#bufferedBytes + value.length <= this.bufferedBytesMax;
  }

  /** The buffer's bounds hold: a breach is a bug, and stops the node loudly. */
  #checkBounds(): void {
    const records = this.#buffer.length;
    const bytes = this.#bufferedBytes;
    const where = `Kafka reader of partition ${this.#fetcher.partition}`;
    if (records > this.bufferedRecordsMax) {
      fatal(
        where,
        `it holds ${records} records, past bufferedRecordsMax ${this.bufferedRecordsMax}`,
      );
    }
    if (bytes > this.bufferedBytesMax && records > 1) {
      fatal(
        where,
        `it holds ${bytes} bytes in ${records} records, past bufferedBytesMax ${this.bufferedBytesMax}`,
      );
    }
    if (bytes < 0 || (records === 0 && bytes !== 0)) {
      fatal(where, `it counts ${bytes} bytes in ${records} records`);
    }
  }

  /** Bytes to ask the next fetch for: no more than the room left, by records and by bytes. */
  #fetchBytes(): number {
    const roomBytes = this.bufferedBytesMax - this.#bufferedBytes;
    const roomRecords = this.bufferedRecordsMax - this.#buffer.length;
    return Math.max(1, Math.min(FETCH_BYTES_MAX, roomBytes, roomRecords * this.#recordBytes));
  }

  #pump(): void {
    if (this.#pumping !== undefined || this.#closed || !this.#refill()) return;
    this.#pumping = this.#fetchAhead().finally(() => {
      this.#pumping = undefined;
      // The reader may have taken enough while the last fetch was out: go on if so.
      if (this.#failure === undefined) this.#pump();
    });
  }

  async #fetchAhead(): Promise<void> {
    const backoff = new Backoff(FETCH_RETRY);
    while (!this.#closed && !this.#full() && this.#failure === undefined) {
      const generation = this.#generation;
      const at = this.#fetchAt;
      let result;
      try {
        result = await this.#fetcher.fetch(at, this.#fetchBytes(), FETCH_WAIT_MS);
        backoff.reset();
      } catch (error) {
        if (this.#closed) return;
        if (generation !== this.#generation) continue;
        if (error instanceof OffsetOutOfRange) {
          this.#failure = new LogError(error.message, false);
          this.#wake();
          return;
        }
        ignored("kafka_fetch", error);
        log.debug("fetch from offset {at} failed: {error}", { at, error: String(error) });
        const delay = backoff.next()!;
        await new Promise((resolve) => setTimeout(resolve, delay));
        continue;
      }
      if (generation !== this.#generation) continue;
      const first = result.records[0];
      if (first !== undefined && first.offset > this.#fetchAt) {
        this.#failure = new LogError(
          `partition ${this.#fetcher.partition} has no record at offset ${this.#fetchAt} ` +
            `(the next is ${first.offset}): Pylon's log has dense offsets`,
          false,
        );
        this.#wake();
        return;
      }
      if (result.records.length > 0) {
        let fetchedBytes = 0;
        for (const record of result.records) fetchedBytes += record.value?.length ?? 0;
        this.#recordBytes = Math.max(1, Math.ceil(fetchedBytes / result.records.length));
      }
      let pastBound = false;
      this.#blockedBytes = 0;
      for (const record of result.records) {
        // Offsets are dense (no compaction, no transactions): anything else is not ours to take.
        if (record.offset !== this.#fetchAt) continue;
        const value = record.value ?? EMPTY;
        if (!this.#fits(value)) {
          pastBound = true;
          this.#blockedBytes = value.length;
          break;
        }
        this.#buffer.push({ offset: record.offset, value });
        this.#bufferedBytes += value.length;
        this.#fetchAt++;
      }
      this.#checkBounds();
      if (result.records.length > 0) this.#wake();
      // At the bound: pause until the reader has taken enough (see #refill); what did not fit is
      // fetched again then.
      if (pastBound) return;
    }
  }
}
