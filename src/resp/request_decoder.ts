/**
 * Decodes client requests: RESP multibulk (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`)
 * or inline (`GET k\r\n`). Resumable at any byte boundary: an incomplete
 * request keeps the arguments decoded so far. Arguments are views into the
 * received chunks, not copies.
 */

import { ChunkBuffer, parseDecimal } from "./chunk_buffer.ts";
import { splitInline } from "./inline.ts";
import { DEFAULT_LIMITS, ProtocolError, type RespLimits } from "./protocol_error.ts";

/** One decoded request: the command name and its arguments, as bytes. */
export type Argv = Uint8Array[];

/** Streaming decoder of one connection's requests. */
export class RequestDecoder {
  readonly limits: RespLimits;
  #in = new ChunkBuffer();
  /** Arguments still expected by the current multibulk request; -1 when between requests. */
  #argc = -1;
  #args: Argv = [];
  /** Length of the bulk being read; -1 when its `$` header is next. */
  #bulkLen = -1;
  /** Bytes held by the current incomplete request. */
  #requestBytes = 0;
  /** Where the current multibulk request starts in the window, and the join count then. */
  #rawStart = 0;
  #rawGeneration = -1;
  #raw: Uint8Array | undefined;

  constructor(limits: Partial<RespLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** Feeds received bytes (kept by reference). */
  push(chunk: Uint8Array): void {
    this.#in.push(chunk);
  }

  /** Bytes received but not yet returned as requests. */
  get bufferedBytes(): number {
    return this.#in.available;
  }

  /** Whether a request has started but not finished (e.g. at disconnect). */
  get midRequest(): boolean {
    return this.#argc >= 0 || this.#in.available > 0;
  }

  /**
   * The exact bytes of the request {@linkcode next} last returned, when they
   * arrived as one view (the common case), so a forwarded request need not be
   * re-encoded; undefined for inline requests and requests that spanned chunks.
   */
  get raw(): Uint8Array | undefined {
    return this.#raw;
  }

  /**
   * The next complete request, or undefined until more bytes arrive. Empty
   * requests (`*0`, blank lines) are skipped as Redis does. Throws
   * {@linkcode ProtocolError} on malformed input; the decoder is then unusable.
   */
  next(): Argv | undefined {
    const input = this.#in;
    this.#raw = undefined;
    while (true) {
      if (this.#argc < 0) {
        if (input.available === 0) {
          input.compact();
          return undefined;
        }
        if (input.windowBytes === 0) input.joinAll();
        if (input.buf[input.pos] === 42) {
          this.#rawStart = input.pos;
          this.#rawGeneration = input.generation;
          const count = this.#header("multibulk");
          if (count === undefined) return undefined;
          if (count <= 0) continue;
          this.#argc = count;
          this.#args = [];
          this.#requestBytes = 0;
        } else {
          const inline = this.#inline();
          if (inline === undefined) return undefined;
          if (inline.length > 0) return inline;
          continue;
        }
      }

      while (this.#args.length < this.#argc) {
        if (this.#bulkLen < 0) {
          if (input.available === 0) return undefined;
          if (input.windowBytes === 0) input.joinAll();
          const marker = input.buf[input.pos]!;
          if (marker !== 36) {
            throw new ProtocolError(
              `Protocol error: expected '$', got '${String.fromCharCode(marker)}'`,
            );
          }
          const length = this.#header("bulk");
          if (length === undefined) return undefined;
          this.#bulkLen = length;
          this.#account(length);
        }
        const need = this.#bulkLen + 2;
        if (!input.ensure(need)) return undefined;
        // Like Redis, the two bytes after the payload are skipped, not checked.
        this.#args.push(input.buf.subarray(input.pos, input.pos + this.#bulkLen));
        input.pos += need;
        this.#bulkLen = -1;
      }

      const args = this.#args;
      if (input.generation === this.#rawGeneration) {
        this.#raw = input.buf.subarray(this.#rawStart, input.pos);
      }
      this.#argc = -1;
      this.#args = [];
      this.#requestBytes = 0;
      return args;
    }
  }

  #account(bytes: number): void {
    this.#requestBytes += bytes;
    if (this.#requestBytes > this.limits.bufferedBytesMax) {
      throw new ProtocolError(
        `Protocol error: request larger than ${this.limits.bufferedBytesMax} bytes (query buffer limit)`,
      );
    }
  }

  /** Parses a `*n` or `$n` header line; undefined when its line ending has not arrived. */
  #header(kind: "multibulk" | "bulk"): number | undefined {
    const input = this.#in;
    let crlf = input.findCrlf(input.pos);
    if (crlf < 0 && input.hasQueued) {
      input.joinAll();
      crlf = input.findCrlf(input.pos);
    }
    if (crlf < 0) {
      if (input.windowBytes > this.limits.inlineBytesMax) {
        throw new ProtocolError(
          `Protocol error: too big ${kind === "bulk" ? "bulk" : "mbulk"} count string`,
        );
      }
      return undefined;
    }
    const value = parseDecimal(input.buf, input.pos + 1, crlf);
    if (kind === "multibulk") {
      if (value === undefined || value > this.limits.arrayElementsMax) {
        throw new ProtocolError("Protocol error: invalid multibulk length");
      }
    } else if (value === undefined || value < 0 || value > this.limits.bulkBytesMax) {
      throw new ProtocolError("Protocol error: invalid bulk length");
    }
    input.pos = crlf + 2;
    return value;
  }

  /** Parses one inline line; undefined when its newline has not arrived. */
  #inline(): Argv | undefined {
    const input = this.#in;
    let newline = input.buf.indexOf(10, input.pos);
    if (newline < 0 && input.hasQueued) {
      input.joinAll();
      newline = input.buf.indexOf(10, input.pos);
    }
    if (newline < 0) {
      if (input.windowBytes > this.limits.inlineBytesMax) {
        throw new ProtocolError("Protocol error: too big inline request");
      }
      return undefined;
    }
    let end = newline;
    if (end > input.pos && input.buf[end - 1] === 13) end--;
    const args = splitInline(input.buf.subarray(input.pos, end));
    if (args === undefined) throw new ProtocolError("Protocol error: unbalanced quotes in request");
    input.pos = newline + 1;
    return args;
  }
}
