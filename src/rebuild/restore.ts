/**
 * The commands that put a snapshot's keys into a Redis: `RESTORE` with each
 * key's DUMP payload (built from the RDB's bytes: type, value, RDB version,
 * CRC-64) and its stored expiry as an absolute time (`ABSTTL`: expiries are
 * stored shifted, src/determinism/expiry.ts, and stay exactly as they are),
 * and `FUNCTION RESTORE` for function libraries. Each command is encoded in
 * one buffer with the payload written once.
 */

import { crc64, writeCrc64 } from "./crc64.ts";

const ascii = new TextEncoder();

/** Writes RESP bulk headers and bodies into one preallocated buffer. */
class Out {
  buf: Uint8Array;
  at = 0;

  constructor(size: number) {
    this.buf = new Uint8Array(size);
  }

  text(s: string): void {
    this.at += ascii.encodeInto(s, this.buf.subarray(this.at)).written;
  }

  bulk(bytes: Uint8Array): void {
    this.text(`$${bytes.length}\r\n`);
    this.buf.set(bytes, this.at);
    this.at += bytes.length;
    this.text("\r\n");
  }

  /** `$<n>\r\n` + the payload `head`, `body`, the RDB version and its CRC + `\r\n`. */
  payload(head: Uint8Array, body: Uint8Array, version: number): void {
    const length = head.length + body.length + 10;
    this.text(`$${length}\r\n`);
    const start = this.at;
    this.buf.set(head, this.at);
    this.at += head.length;
    this.buf.set(body, this.at);
    this.at += body.length;
    this.buf[this.at++] = version & 0xff;
    this.buf[this.at++] = (version >> 8) & 0xff;
    writeCrc64(crc64(this.buf, undefined, start, this.at), this.buf, this.at);
    this.at += 8;
    this.text("\r\n");
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
  const args = expireMs === undefined ? 5 : 6;
  out.text(`*${args}\r\n$7\r\nRESTORE\r\n`);
  out.bulk(key);
  out.text(`$${ttl.length}\r\n${ttl}\r\n`);
  out.payload(new Uint8Array([type]), body, version);
  if (expireMs !== undefined) out.text("$6\r\nABSTTL\r\n");
  out.text("$7\r\nREPLACE\r\n");
  return out.done();
}

/** `FUNCTION RESTORE <payload> REPLACE` for one library (its opcode and code as serialized). */
export function functionRestoreCommand(serialized: Uint8Array, version: number): Uint8Array {
  const out = new Out(64 + serialized.length + 4 * BULK_OVERHEAD);
  out.text("*4\r\n$8\r\nFUNCTION\r\n$7\r\nRESTORE\r\n");
  out.payload(new Uint8Array(0), serialized, version);
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
  writeCrc64(crc64(out, undefined, 0, body.length + 3), out, body.length + 3);
  return out;
}
