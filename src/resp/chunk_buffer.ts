/**
 * Incoming bytes for a resumable decoder. Chunks are queued without copying and
 * joined only when a decoder needs bytes that span them, so a 100 MB bulk
 * arriving in thousands of chunks is copied once, not once per chunk.
 */

const EMPTY = new Uint8Array(0);

/** A byte queue with one contiguous window (`buf` from `pos`) that decoders scan. */
export class ChunkBuffer {
  /** The contiguous window; valid bytes are `buf[pos..]`. */
  buf: Uint8Array = EMPTY;
  pos = 0;
  #queued: Uint8Array[] = [];
  #queuedBytes = 0;
  /** Changes whenever `buf` is replaced, so a decoder knows whether an earlier offset still holds. */
  generation = 0;

  /** Appends a chunk (kept by reference: the caller must not reuse it). */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.pos === this.buf.length && this.#queued.length === 0) {
      this.buf = chunk;
      this.pos = 0;
      this.generation++;
      return;
    }
    this.#queued.push(chunk);
    this.#queuedBytes += chunk.length;
  }

  /** Bytes not yet consumed, in the window and the queue. */
  get available(): number {
    return this.buf.length - this.pos + this.#queuedBytes;
  }

  /** Bytes in the window. */
  get windowBytes(): number {
    return this.buf.length - this.pos;
  }

  /** Whether chunks are queued behind the window. */
  get hasQueued(): boolean {
    return this.#queued.length > 0;
  }

  /** Makes at least `n` bytes contiguous in the window; false when fewer have arrived. */
  ensure(n: number): boolean {
    if (this.buf.length - this.pos >= n) return true;
    if (this.available < n) return false;
    this.joinAll();
    return true;
  }

  /** Joins every queued chunk into the window. */
  joinAll(): void {
    if (this.#queued.length === 0) return;
    const joined = new Uint8Array(this.available);
    joined.set(this.buf.subarray(this.pos), 0);
    let offset = this.buf.length - this.pos;
    for (const chunk of this.#queued) {
      joined.set(chunk, offset);
      offset += chunk.length;
    }
    this.buf = joined;
    this.pos = 0;
    this.#queued = [];
    this.#queuedBytes = 0;
    this.generation++;
  }

  /** Index of the next `\r\n` at or after `from` in the window, or -1. */
  findCrlf(from: number): number {
    return findCrlf(this.buf, from);
  }

  /** Drops consumed bytes so the window does not pin a large buffer. */
  compact(): void {
    if (this.pos === this.buf.length && this.#queued.length === 0) {
      this.buf = EMPTY;
      this.pos = 0;
      this.generation++;
    }
  }
}

/** Index of the next `\r\n` at or after `from`, or -1. */
export function findCrlf(buf: Uint8Array, from: number): number {
  let i = from;
  while (true) {
    i = buf.indexOf(13, i);
    if (i < 0 || i + 1 >= buf.length) return -1;
    if (buf[i + 1] === 10) return i;
    i++;
  }
}

/**
 * Parses a decimal integer in `buf[start..end)` strictly as Redis's string2ll
 * does (optional '-', digits, no '+', no spaces, no leading zeros except "0").
 * Returns undefined if malformed or outside the safe integer range.
 */
export function parseDecimal(buf: Uint8Array, start: number, end: number): number | undefined {
  if (start >= end) return undefined;
  let i = start;
  let negative = false;
  if (buf[i] === 45) {
    negative = true;
    i++;
    if (i === end) return undefined;
  }
  if (buf[i] === 48 && end - i > 1) return undefined;
  let value = 0;
  for (; i < end; i++) {
    const digit = buf[i]! - 48;
    if (digit < 0 || digit > 9) return undefined;
    value = value * 10 + digit;
    if (value > Number.MAX_SAFE_INTEGER) return undefined;
  }
  if (negative && value === 0) return undefined;
  return negative ? -value : value;
}
