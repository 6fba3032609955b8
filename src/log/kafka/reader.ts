/**
 * A {@linkcode LogReader} of one Kafka partition on Pylon's own fetch client.
 * A pump fetches ahead into a bounded buffer (long polls: the broker answers
 * as soon as a record arrives); `next()` takes from it. A failed fetch is
 * retried with backoff, a fresh leader lookup each time, so a broker restart
 * costs the reader one reconnection; only an offset outside the log is an
 * error for the caller. A `seek()` discards what was fetched from before it.
 */

import { getLogger } from "@logtape/logtape";
import type { HostPort, KafkaSecurity } from "../../config.ts";
import { ignored } from "../../observe/ignored.ts";
import {
  type LogBounds,
  LogError,
  type LogReader,
  type LogRecord,
  type ReadLimits,
} from "../op_log.ts";
import { OffsetOutOfRange, PartitionFetcher } from "./fetcher.ts";
import { Backoff, backoffSchedule } from "../../backoff.ts";

const log = getLogger(["pylon", "log", "kafka"]);

/** Records and bytes the pump holds ahead of the reader before it stops fetching. */
const READ_AHEAD_RECORDS = 10_000;
const READ_AHEAD_BYTES = 16 * 1024 * 1024;
/** Bytes one fetch asks for (a larger single batch still comes whole). */
const FETCH_BYTES = 1024 * 1024;
/** How long the broker may hold a fetch that finds nothing new. */
const FETCH_WAIT_MS = 500;
/** Delays between failed fetches (each looks the partition's leader up again). */
const FETCH_RETRY = backoffSchedule("Kafka fetch", [50, 100, 200, 500, 1_000]);

const EMPTY = new Uint8Array(0);

/** Reads one partition from a position. */
export class KafkaPartitionReader implements LogReader {
  #fetcher: PartitionFetcher;
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

  constructor(
    brokers: HostPort[],
    options: {
      topic: string;
      partition: number;
      offset: number;
      clientId: string;
      bounds: () => Promise<LogBounds>;
      security?: KafkaSecurity;
    },
  ) {
    this.#fetcher = new PartitionFetcher(brokers, {
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
    if (out.length > 0) this.#pump();
    return out;
  }

  seek(offset: number): void {
    this.#generation++;
    this.#position = offset;
    this.#fetchAt = offset;
    this.#buffer = [];
    this.#bufferedBytes = 0;
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

  #full(): boolean {
    return this.#buffer.length >= READ_AHEAD_RECORDS || this.#bufferedBytes >= READ_AHEAD_BYTES;
  }

  #pump(): void {
    if (this.#pumping !== undefined || this.#closed || this.#full()) return;
    this.#pumping = this.#fetchAhead().finally(() => {
      this.#pumping = undefined;
    });
  }

  async #fetchAhead(): Promise<void> {
    const backoff = new Backoff(FETCH_RETRY);
    while (!this.#closed && !this.#full() && this.#failure === undefined) {
      const generation = this.#generation;
      const at = this.#fetchAt;
      let result;
      try {
        result = await this.#fetcher.fetch(at, FETCH_BYTES, FETCH_WAIT_MS);
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
      for (const record of result.records) {
        // Offsets are dense (no compaction, no transactions): anything else is not ours to take.
        if (record.offset !== this.#fetchAt) continue;
        const value = record.value ?? EMPTY;
        this.#buffer.push({ offset: record.offset, value });
        this.#bufferedBytes += value.length;
        this.#fetchAt++;
      }
      if (result.records.length > 0) this.#wake();
    }
  }
}
