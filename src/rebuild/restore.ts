/**
 * The commands that put a snapshot's keys into a Redis: `RESTORE` with each
 * key's DUMP payload (built from the RDB's bytes: type, value, RDB version,
 * CRC-64) and its stored expiry as an absolute time (`ABSTTL`: expiries are
 * stored shifted, src/determinism/expiry.ts, and stay exactly as they are),
 * and `FUNCTION RESTORE` for function libraries. Each command is encoded in
 * one buffer with the payload written once.
 */

import { crc64, CRC64_ZERO, writeCrc64 } from "./crc64.ts";

/** Writes RESP bulk headers and bodies into one preallocated buffer. */
class Out {
  buf: Uint8Array;
  at = 0;

  constructor(size: number) {
    this.buf = new Uint8Array(size);
  }

  /** ASCII text (headers, numbers, option names): one byte per character. */
  text(s: string): void {
    const buf = this.buf;
    let at = this.at;
    for (let i = 0; i < s.length; i++) buf[at++] = s.charCodeAt(i);
    this.at = at;
  }

  /** `$<n>\r\n`. */
  header(n: number): void {
    this.buf[this.at++] = 36;
    this.text(String(n));
    this.crlf();
  }

  crlf(): void {
    this.buf[this.at++] = 13;
    this.buf[this.at++] = 10;
  }

  bulk(bytes: Uint8Array): void {
    this.header(bytes.length);
    this.buf.set(bytes, this.at);
    this.at += bytes.length;
    this.crlf();
  }

  /**
   * A DUMP payload as one bulk: the type byte (`type`, or none when
   * negative), `body`, the RDB version (2 bytes) and the CRC-64 of all that.
   */
  payload(type: number, body: Uint8Array, version: number): void {
    const head = type < 0 ? 0 : 1;
    this.header(head + body.length + 10);
    const buf = this.buf;
    const start = this.at;
    if (head === 1) buf[this.at++] = type;
    buf.set(body, this.at);
    this.at += body.length;
    buf[this.at++] = version & 0xff;
    buf[this.at++] = (version >> 8) & 0xff;
    const crc = crc64(buf, CRC64_ZERO, start, this.at);
    for (const [word, at] of [[crc.lo, this.at], [crc.hi, this.at + 4]] as const) {
      buf[at] = word & 0xff;
      buf[at + 1] = (word >>> 8) & 0xff;
      buf[at + 2] = (word >>> 16) & 0xff;
      buf[at + 3] = word >>> 24;
    }
    this.at += 8;
    this.crlf();
  }

  done(): Uint8Array {
    return this.buf.subarray(0, this.at);
  }
}

/** Room for a bulk's header and its CRLFs. */
const BULK_OVERHEAD = 24;

/**
 * `RESTORE key <expiry> <payload> [ABSTTL] REPLACE`: the value of RDB type
 * `type` serialized as `body`, with `expireMs` its stored expiry (ms since
 * the epoch) or undefined for none.
 */
export function restoreCommand(
  key: Uint8Array,
  expireMs: number | undefined,
  type: number,
  body: Uint8Array,
  version: number,
): Uint8Array {
  const ttl = String(expireMs ?? 0);
  const out = new Out(
    64 + key.length + body.length + 6 * BULK_OVERHEAD + ttl.length + 11,
  );
  out.text(expireMs === undefined ? "*5\r\n$7\r\nRESTORE\r\n" : "*6\r\n$7\r\nRESTORE\r\n");
  out.bulk(key);
  out.header(ttl.length);
  out.text(ttl);
  out.crlf();
  out.payload(type, body, version);
  if (expireMs !== undefined) out.text("$6\r\nABSTTL\r\n");
  out.text("$7\r\nREPLACE\r\n");
  return out.done();
}

/** `FUNCTION RESTORE <payload> REPLACE` for one library (its opcode and code as serialized). */
export function functionRestoreCommand(serialized: Uint8Array, version: number): Uint8Array {
  const out = new Out(64 + serialized.length + 4 * BULK_OVERHEAD);
  out.text("*4\r\n$8\r\nFUNCTION\r\n$7\r\nRESTORE\r\n");
  out.payload(-1, serialized, version);
  out.text("$7\r\nREPLACE\r\n");
  return out.done();
}

/** The DUMP payload of a value (as `DUMP` answers it). */
export function dumpPayload(type: number, body: Uint8Array, version: number): Uint8Array {
  const out = new Uint8Array(body.length + 11);
  out[0] = type;
  out.set(body, 1);
  out[body.length + 1] = version & 0xff;
  out[body.length + 2] = (version >> 8) & 0xff;
  writeCrc64(crc64(out, CRC64_ZERO, 0, body.length + 3), out, body.length + 3);
  return out;
}
