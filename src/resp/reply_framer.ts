/**
 * Finds where each reply ends in a stream of RESP2/RESP3 bytes without
 * decoding it, so forwarded replies pass through as the exact bytes Redis
 * sent. One counter of values still owed replaces a stack: an aggregate of n
 * elements owes n values in its own place (a map 2n; an attribute 2n plus the
 * value it annotates). Resumable at any byte boundary; a reply inside one chunk
 * comes back as a view, not a copy.
 */

import { findCrlf, parseDecimal } from "./chunk_buffer.ts";
import { DEFAULT_LIMITS, ProtocolError, type RespLimits } from "./protocol_error.ts";

const EMPTY = new Uint8Array(0);

/** Streaming splitter of a reply stream into whole replies. */
export class ReplyFramer {
  readonly limits: RespLimits;
  #buf: Uint8Array = EMPTY;
  /** Where the current reply starts in `#buf`. */
  #start = 0;
  /** How far the current reply has been scanned. */
  #scan = 0;
  /** Values the current reply still owes; 0 between replies. */
  #owed = 0;
  /** Payload bytes (with CRLF) of a bulk still to skip. */
  #skip = 0;
  #queued: Uint8Array[] = [];
  #queuedBytes = 0;

  constructor(limits: Partial<RespLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** Feeds received bytes (kept by reference). */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.#start === this.#buf.length && this.#queuedBytes === 0) {
      this.#buf = chunk;
      this.#start = 0;
      this.#scan = 0;
      return;
    }
    this.#queued.push(chunk);
    this.#queuedBytes += chunk.length;
  }

  /** Whether a reply has started but not finished. */
  get midReply(): boolean {
    return this.#buf.length - this.#start + this.#queuedBytes > 0;
  }

  #join(): void {
    const keep = this.#buf.length - this.#start;
    if (keep === 0 && this.#queued.length === 1) {
      this.#buf = this.#queued[0]!;
      this.#scan -= this.#start;
      this.#start = 0;
      this.#queued = [];
      this.#queuedBytes = 0;
      return;
    }
    const joined = new Uint8Array(keep + this.#queuedBytes);
    joined.set(this.#buf.subarray(this.#start), 0);
    let offset = keep;
    for (const chunk of this.#queued) {
      joined.set(chunk, offset);
      offset += chunk.length;
    }
    this.#scan -= this.#start;
    this.#start = 0;
    this.#buf = joined;
    this.#queued = [];
    this.#queuedBytes = 0;
    if (joined.length > this.limits.bufferedBytesMax + this.limits.inlineBytesMax) {
      throw new ProtocolError(
        `Protocol error: reply larger than ${this.limits.bufferedBytesMax} bytes`,
      );
    }
  }

  /** The bytes of the next whole reply, or undefined until more arrive. Throws {@linkcode ProtocolError}. */
  next(): Uint8Array | undefined {
    while (true) {
      if (this.#owed === 0) {
        if (this.#start === this.#buf.length) {
          if (this.#queuedBytes === 0) {
            this.#buf = EMPTY;
            this.#start = 0;
            this.#scan = 0;
            return undefined;
          }
          this.#join();
        }
        this.#owed = 1;
        this.#scan = this.#start;
      }

      if (this.#skip > 0) {
        const inWindow = this.#buf.length - this.#scan;
        if (inWindow < this.#skip) {
          if (inWindow + this.#queuedBytes < this.#skip) return undefined;
          this.#join();
        }
        this.#scan += this.#skip;
        this.#skip = 0;
        this.#owed--;
      } else {
        const buf = this.#buf;
        let crlf = findCrlf(buf, this.#scan + 1);
        if (crlf < 0 && this.#queuedBytes > 0) {
          this.#join();
          crlf = findCrlf(this.#buf, this.#scan + 1);
        }
        if (crlf < 0) {
          if (this.#buf.length - this.#scan > this.limits.inlineBytesMax) {
            throw new ProtocolError("Protocol error: too big header line");
          }
          return undefined;
        }
        this.#header(this.#buf, crlf);
      }

      if (this.#owed === 0) {
        const reply = this.#buf.subarray(this.#start, this.#scan);
        this.#start = this.#scan;
        return reply;
      }
    }
  }

  /** Accounts for the header line at `#scan` ending at `crlf`. */
  #header(buf: Uint8Array, crlf: number): void {
    const type = buf[this.#scan]!;
    const lineStart = this.#scan + 1;
    this.#scan = crlf + 2;
    switch (type) {
      case 43: // + simple
      case 45: // - error
      case 58: // : integer
      case 95: // _ null
      case 35: // # boolean
      case 44: // , double
      case 40: // ( big number
        this.#owed--;
        return;
      case 36: // $ bulk
      case 33: // ! blob error
      case 61: { // = verbatim
        const length = parseDecimal(buf, lineStart, crlf);
        if (
          length === undefined || length < -1 || length > this.limits.bulkBytesMax ||
          (length === -1 && type !== 36)
        ) {
          throw new ProtocolError("Protocol error: invalid bulk length");
        }
        if (length === -1) this.#owed--;
        else this.#skip = length + 2;
        return;
      }
      case 42: // * array
      case 126: // ~ set
      case 62: // > push
      case 37: // % map
      case 124: { // | attribute
        const count = parseDecimal(buf, lineStart, crlf);
        if (
          count === undefined || count < -1 || count > this.limits.arrayElementsMax ||
          (count === -1 && type !== 42)
        ) {
          throw new ProtocolError("Protocol error: invalid multibulk length");
        }
        if (count === -1) this.#owed--;
        else if (type === 37) this.#owed += 2 * count - 1;
        else if (type === 124) this.#owed += 2 * count;
        else this.#owed += count - 1;
        return;
      }
      default:
        throw new ProtocolError(
          `Protocol error: unknown reply type '${String.fromCharCode(type)}'`,
        );
    }
  }
}
