/**
 * Kafka's wire primitives, big-endian: fixed-size integers, int16-length
 * strings, int32-length bytes, arrays with an int32 count, and the zigzag
 * varints of record batches. Used by Pylon's own fetch client (the reader of
 * the log); offsets are JavaScript numbers (safe up to 2^53).
 */

/** Bytes that are not the Kafka message they should be. */
export class KafkaWireError extends Error {
  override name = "KafkaWireError";
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Builds a request body. */
export class KafkaWriter {
  #buf = new Uint8Array(256);
  #view = new DataView(this.#buf.buffer);
  #at = 0;

  #room(n: number): void {
    if (this.#at + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#at + n));
    next.set(this.#buf.subarray(0, this.#at));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  int8(n: number): this {
    this.#room(1);
    this.#view.setInt8(this.#at, n);
    this.#at += 1;
    return this;
  }

  int16(n: number): this {
    this.#room(2);
    this.#view.setInt16(this.#at, n);
    this.#at += 2;
    return this;
  }

  int32(n: number): this {
    this.#room(4);
    this.#view.setInt32(this.#at, n);
    this.#at += 4;
    return this;
  }

  int64(n: number): this {
    this.#room(8);
    this.#view.setBigInt64(this.#at, BigInt(n));
    this.#at += 8;
    return this;
  }

  /** An int16-length string; null is length -1. */
  string(s: string | null): this {
    if (s === null) return this.int16(-1);
    const bytes = encoder.encode(s);
    this.int16(bytes.length);
    return this.raw(bytes);
  }

  raw(bytes: Uint8Array): this {
    this.#room(bytes.length);
    this.#buf.set(bytes, this.#at);
    this.#at += bytes.length;
    return this;
  }

  /** An int32 count, then each item. */
  array<T>(items: readonly T[], each: (w: this, item: T) => void): this {
    this.int32(items.length);
    for (const item of items) each(this, item);
    return this;
  }

  finish(): Uint8Array {
    return this.#buf.slice(0, this.#at);
  }
}

/** Reads a response body, refusing anything that runs past its end. */
export class KafkaReader {
  readonly data: Uint8Array;
  #view: DataView;
  at = 0;

  constructor(data: Uint8Array) {
    this.data = data;
    this.#view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  get remaining(): number {
    return this.data.length - this.at;
  }

  #need(n: number): void {
    if (this.at + n > this.data.length) throw new KafkaWireError("message truncated");
  }

  int8(): number {
    this.#need(1);
    return this.#view.getInt8(this.at++);
  }

  int16(): number {
    this.#need(2);
    const v = this.#view.getInt16(this.at);
    this.at += 2;
    return v;
  }

  int32(): number {
    this.#need(4);
    const v = this.#view.getInt32(this.at);
    this.at += 4;
    return v;
  }

  uint32(): number {
    this.#need(4);
    const v = this.#view.getUint32(this.at);
    this.at += 4;
    return v;
  }

  int64(): number {
    this.#need(8);
    const v = Number(this.#view.getBigInt64(this.at));
    this.at += 8;
    return v;
  }

  string(): string | null {
    const n = this.int16();
    if (n < 0) return null;
    this.#need(n);
    const s = decoder.decode(this.data.subarray(this.at, this.at + n));
    this.at += n;
    return s;
  }

  /** int32-length bytes (a view, not a copy); null is length -1. */
  bytes(): Uint8Array | null {
    const n = this.int32();
    if (n < 0) return null;
    return this.take(n);
  }

  take(n: number): Uint8Array {
    this.#need(n);
    const v = this.data.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }

  /** An int32 count, then each item; a count of -1 (null) is empty. */
  array<T>(each: (r: this) => T): T[] {
    const n = this.int32();
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(each(this));
    return out;
  }

  /** A zigzag varint (record fields), exact up to 2^53. */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      this.#need(1);
      const byte = this.data[this.at++]!;
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
      scale *= 128;
    }
    throw new KafkaWireError("varint longer than 10 bytes");
  }
}
