/**
 * The newest durable records of a partition, kept in memory as they were
 * appended: a reader at the end of the log (the applier, nearly always) takes
 * them from here instead of reading back, checking and copying what was just
 * written, and gets the very arrays the writer appended.
 */

import type { LogRecord } from "./op_log.ts";

/** A bounded window of the partition's last records, ending at its end. */
export class RecentRecords {
  readonly bytesMax: number;
  #records: Uint8Array[] = [];
  #head = 0;
  #bytes = 0;
  /** Offset of `#records[#head]`. */
  #base: number;

  /** An empty window at `end` (the partition's end when opened). */
  constructor(end: number, bytesMax: number) {
    this.#base = end;
    this.bytesMax = bytesMax;
  }

  /** The first offset held; equal to the end when none is. */
  get base(): number {
    return this.#base;
  }

  /** Adds records just made durable (their offsets follow the last one held). */
  push(records: readonly Uint8Array[]): void {
    for (const record of records) {
      this.#records.push(record);
      this.#bytes += record.length;
    }
    while (this.#bytes > this.bytesMax && this.#head < this.#records.length) {
      this.#bytes -= this.#records[this.#head]!.length;
      this.#head++;
      this.#base++;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#records.length) {
      this.#records = this.#records.slice(this.#head);
      this.#head = 0;
    }
  }

  /**
   * Records from `offset` (at or past `base`, below the end): at least one,
   * then while within `recordsMax` and `bytesMax`.
   */
  take(offset: number, recordsMax: number, bytesMax: number): LogRecord[] {
    const out: LogRecord[] = [];
    let bytes = 0;
    for (let i = this.#head + offset - this.#base; i < this.#records.length; i++) {
      const value = this.#records[i]!;
      if (out.length === recordsMax || (out.length > 0 && bytes + value.length > bytesMax)) break;
      out.push({ offset: offset + out.length, value });
      bytes += value.length;
    }
    return out;
  }
}
