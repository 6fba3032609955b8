/**
 * Encodes RESP for clients and for Redis. RESP3-only types are sent to RESP2
 * connections the way Redis downgrades them: maps as flat arrays, sets and
 * pushes as arrays, null as the null bulk, booleans as 1/0, doubles and big
 * numbers as bulk strings, attributes dropped.
 */

import type { Protocol, RespValue } from "./value.ts";

const utf8 = new TextEncoder();

/** A growable byte buffer that RESP is written into. */
class Writer {
  buf: Uint8Array;
  length = 0;

  constructor(capacity = 64) {
    this.buf = new Uint8Array(capacity);
  }

  reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let capacity = this.buf.length * 2;
    while (capacity < this.length + n) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.buf.subarray(0, this.length));
    this.buf = grown;
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.length++] = b;
  }

  bytes(data: Uint8Array): void {
    this.reserve(data.length);
    this.buf.set(data, this.length);
    this.length += data.length;
  }

  /** ASCII text (header digits, type markers): one byte per char. */
  ascii(text: string): void {
    this.reserve(text.length);
    for (let i = 0; i < text.length; i++) this.buf[this.length++] = text.charCodeAt(i);
  }

  crlf(): void {
    this.reserve(2);
    this.buf[this.length++] = 13;
    this.buf[this.length++] = 10;
  }

  /** `<type><n>\r\n` */
  header(type: number, n: number | bigint): void {
    this.byte(type);
    this.ascii(String(n));
    this.crlf();
  }

  line(type: number, text: string): void {
    this.byte(type);
    this.bytes(utf8.encode(text.replaceAll(/[\r\n]/g, " ")));
    this.crlf();
  }

  bulk(type: number, data: Uint8Array): void {
    this.header(type, data.length);
    this.bytes(data);
    this.crlf();
  }

  result(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

function formatDouble(value: number): string {
  if (value === Infinity) return "inf";
  if (value === -Infinity) return "-inf";
  if (Number.isNaN(value)) return "nan";
  return String(value);
}

function write(out: Writer, value: RespValue, protocol: Protocol): void {
  switch (value.type) {
    case "simple":
      out.line(43, value.value);
      return;
    case "error":
      out.line(45, value.value);
      return;
    case "integer":
      out.header(58, value.value);
      return;
    case "bulk":
      if (value.value === null) out.ascii(protocol === 3 ? "_\r\n" : "$-1\r\n");
      else out.bulk(36, value.value);
      return;
    case "array":
      if (value.value === null) {
        out.ascii(protocol === 3 ? "_\r\n" : "*-1\r\n");
        return;
      }
      out.header(42, value.value.length);
      for (const item of value.value) write(out, item, protocol);
      return;
    case "null":
      out.ascii(protocol === 3 ? "_\r\n" : "$-1\r\n");
      return;
    case "boolean":
      out.ascii(
        protocol === 3 ? (value.value ? "#t\r\n" : "#f\r\n") : (value.value ? ":1\r\n" : ":0\r\n"),
      );
      return;
    case "double":
      if (protocol === 3) out.line(44, formatDouble(value.value));
      else out.bulk(36, utf8.encode(formatDouble(value.value)));
      return;
    case "bignum":
      if (protocol === 3) out.header(40, value.value);
      else out.bulk(36, utf8.encode(String(value.value)));
      return;
    case "blob_error":
      if (protocol === 3) out.bulk(33, value.value);
      else out.line(45, new TextDecoder().decode(value.value));
      return;
    case "verbatim":
      if (protocol === 3) {
        const format = utf8.encode(`${value.format.padEnd(3, " ").slice(0, 3)}:`);
        out.header(61, format.length + value.value.length);
        out.bytes(format);
        out.bytes(value.value);
        out.crlf();
      } else {
        out.bulk(36, value.value);
      }
      return;
    case "map":
      out.header(
        protocol === 3 ? 37 : 42,
        protocol === 3 ? value.value.length : value.value.length * 2,
      );
      for (const [k, v] of value.value) {
        write(out, k, protocol);
        write(out, v, protocol);
      }
      return;
    case "set":
    case "push":
      out.header(protocol === 3 ? (value.type === "set" ? 126 : 62) : 42, value.value.length);
      for (const item of value.value) write(out, item, protocol);
      return;
    case "attribute":
      if (protocol === 2) return;
      out.header(124, value.value.length);
      for (const [k, v] of value.value) {
        write(out, k, protocol);
        write(out, v, protocol);
      }
      return;
  }
}

/** The bytes of `value` for a connection speaking `protocol`. */
export function encode(value: RespValue, protocol: Protocol): Uint8Array {
  const out = new Writer();
  write(out, value, protocol);
  return out.result();
}

/** A request as Redis expects it: an array of bulk strings. */
export function encodeCommand(argv: readonly (Uint8Array | string)[]): Uint8Array {
  let size = 1 + decimalLength(argv.length) + 2;
  const parts: Uint8Array[] = new Array(argv.length);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const bytes = typeof arg === "string" ? utf8.encode(arg) : arg;
    parts[i] = bytes;
    size += 1 + decimalLength(bytes.length) + 2 + bytes.length + 2;
  }
  const out = new Uint8Array(size);
  let at = writeHeader(out, 0, 42, argv.length);
  for (const bytes of parts) {
    at = writeHeader(out, at, 36, bytes.length);
    out.set(bytes, at);
    at += bytes.length;
    out[at++] = 13;
    out[at++] = 10;
  }
  return out;
}

function decimalLength(n: number): number {
  let digits = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    digits++;
  }
  return digits;
}

function writeHeader(out: Uint8Array, at: number, type: number, n: number): number {
  out[at++] = type;
  const digits = decimalLength(n);
  for (let i = digits - 1; i >= 0; i--) {
    out[at + i] = 48 + (n % 10);
    n = Math.floor(n / 10);
  }
  at += digits;
  out[at++] = 13;
  out[at++] = 10;
  return at;
}

/** `+OK\r\n` and other replies sent often enough to keep ready-made. */
export const REPLY = {
  ok: utf8.encode("+OK\r\n"),
  pong: utf8.encode("+PONG\r\n"),
  queued: utf8.encode("+QUEUED\r\n"),
  nullBulk: utf8.encode("$-1\r\n"),
  null3: utf8.encode("_\r\n"),
} as const;

/** `-<message>\r\n` for an error message (line breaks become spaces). */
export function encodeError(message: string): Uint8Array {
  return utf8.encode(`-${message.replaceAll(/[\r\n]/g, " ")}\r\n`);
}
