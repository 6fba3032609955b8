/**
 * What a Redis master sends on a replication connection, from the replies
 * to the handshake (`AUTH`, `REPLCONF ...`) to the end of the RDB payload
 * that answers `SYNC`: while it prepares the snapshot it sends bare newlines
 * to keep the link alive, then either `$<length>\r\n` and that many bytes
 * (an RDB written to disk first) or `$EOF:<40-byte mark>\r\n`, the bytes,
 * and the mark again (diskless, streamed as the fork writes it). Pure and
 * resumable at any byte boundary; the payload's bytes are passed on as they
 * arrive (the mark held back), never collected.
 */

import { ChunkBuffer } from "../resp/chunk_buffer.ts";

/** The length of the end mark of a diskless payload. */
const MARK_BYTES = 40;

/** Longest handshake reply or payload header line accepted. */
const LINE_BYTES_MAX = 1024;

/** What the bytes said, in order. */
export type SyncEvent =
  /** A reply to one handshake command (`+OK`, or an error `-...`), as text. */
  | { kind: "reply"; text: string }
  /** A newline the master sends while it prepares the snapshot. */
  | { kind: "keepalive" }
  /** The payload begins; its length when the master said it (disk-based), else undefined. */
  | { kind: "start"; bytesTotal: number | undefined }
  /** Bytes of the RDB payload, in order (views of the input). */
  | { kind: "data"; bytes: Uint8Array }
  /** The payload ended. */
  | { kind: "end" };

/** The master answered `SYNC` with something other than a payload. */
export class SyncError extends Error {
  override name = "SyncError";
}

const latin1 = new TextDecoder("latin1");

/** Reads a replication connection's bytes into {@linkcode SyncEvent}s. */
export class SyncStream {
  #in = new ChunkBuffer();
  #replies: number;
  #state: "replies" | "preamble" | "sized" | "marked" | "ended" = "replies";
  /** Bytes of a sized payload still to come. */
  #left = 0;
  #mark: Uint8Array | undefined;
  /** The last bytes of a marked payload, held back until more arrive (they may be the mark). */
  #tail = new Uint8Array(0);

  /** `replies`: how many handshake replies come before the answer to `SYNC`. */
  constructor(replies: number) {
    this.#replies = replies;
    if (replies === 0) this.#state = "preamble";
  }

  /** Whether the payload has ended. */
  get ended(): boolean {
    return this.#state === "ended";
  }

  /** Takes bytes from the connection; returns what they completed. Throws {@linkcode SyncError}. */
  push(chunk: Uint8Array): SyncEvent[] {
    if (this.#state === "ended") return [];
    this.#in.push(chunk);
    const events: SyncEvent[] = [];
    while (this.#step(events));
    return events;
  }

  /** One step; false when it needs more bytes (or the payload ended). */
  #step(events: SyncEvent[]): boolean {
    const input = this.#in;
    switch (this.#state) {
      case "replies": {
        const line = this.#line();
        if (line === undefined) return false;
        events.push({ kind: "reply", text: line });
        if (--this.#replies === 0) this.#state = "preamble";
        return true;
      }
      case "preamble": {
        if (!input.ensure(1)) return false;
        const first = input.buf[input.pos]!;
        if (first === 10) {
          input.pos++;
          input.compact();
          events.push({ kind: "keepalive" });
          return true;
        }
        const line = this.#line();
        if (line === undefined) return false;
        if (line.startsWith("-")) throw new SyncError(`Redis refused SYNC: ${line.slice(1)}`);
        if (line.startsWith("$EOF:")) {
          const mark = line.slice(5);
          if (mark.length !== MARK_BYTES) {
            throw new SyncError(`a payload mark of ${mark.length} bytes`);
          }
          this.#mark = new TextEncoder().encode(mark);
          this.#state = "marked";
          events.push({ kind: "start", bytesTotal: undefined });
          return true;
        }
        const length = /^\$(\d+)$/.exec(line);
        if (length === null) throw new SyncError(`Redis answered SYNC with '${line.slice(0, 80)}'`);
        this.#left = Number(length[1]);
        this.#state = "sized";
        events.push({ kind: "start", bytesTotal: this.#left });
        if (this.#left === 0) {
          this.#state = "ended";
          events.push({ kind: "end" });
          return false;
        }
        return true;
      }
      case "sized": {
        const bytes = this.#take(this.#left);
        if (bytes === undefined) return false;
        this.#left -= bytes.length;
        events.push({ kind: "data", bytes });
        if (this.#left === 0) {
          this.#state = "ended";
          events.push({ kind: "end" });
          return false;
        }
        return true;
      }
      case "marked": {
        const bytes = this.#take(Infinity);
        if (bytes === undefined) return false;
        // Everything but the last MARK_BYTES of what arrived so far is payload.
        if (bytes.length >= MARK_BYTES) {
          if (this.#tail.length > 0) events.push({ kind: "data", bytes: this.#tail });
          const cut = bytes.length - MARK_BYTES;
          if (cut > 0) events.push({ kind: "data", bytes: bytes.subarray(0, cut) });
          this.#tail = bytes.slice(cut);
        } else {
          const joined = concat(this.#tail, bytes);
          const cut = Math.max(0, joined.length - MARK_BYTES);
          if (cut > 0) events.push({ kind: "data", bytes: joined.subarray(0, cut) });
          this.#tail = joined.slice(cut);
        }
        if (this.#tail.length === MARK_BYTES && equal(this.#tail, this.#mark!)) {
          this.#state = "ended";
          events.push({ kind: "end" });
          return false;
        }
        return true;
      }
      case "ended":
        return false;
    }
  }

  /** The next `\r\n`-ended line without its ending, or undefined. */
  #line(): string | undefined {
    const input = this.#in;
    input.joinAll();
    const at = input.findCrlf(input.pos);
    if (at < 0) {
      if (input.available > LINE_BYTES_MAX) {
        throw new SyncError(`a line of over ${LINE_BYTES_MAX} bytes where a reply belongs`);
      }
      return undefined;
    }
    const line = latin1.decode(input.buf.subarray(input.pos, at));
    input.pos = at + 2;
    input.compact();
    return line;
  }

  /** Up to `max` bytes that have arrived (the window first), or undefined when none. */
  #take(max: number): Uint8Array | undefined {
    const input = this.#in;
    if (input.available === 0) return undefined;
    if (input.windowBytes === 0) input.joinAll();
    const n = Math.min(max, input.windowBytes);
    const bytes = input.buf.subarray(input.pos, input.pos + n);
    input.pos += n;
    input.compact();
    return bytes;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
