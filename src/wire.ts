/**
 * Length-prefixed binary fields, big-endian: how the peer protocol, the Raft
 * message codec and the Raft WAL lay out their payloads. Readers refuse
 * anything that runs past the end.
 */

/** Bytes that do not hold the fields they should. */
export class WireFormatError extends Error {
  override name = "WireFormatError";
}

const TWO_POW_32 = 2 ** 32;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Writes payload fields into one growing buffer. */
export class PayloadWriter {
  #buffer = new Uint8Array(256);
  #view = new DataView(this.#buffer.buffer);
  #length = 0;

  /** Bytes written so far. */
  get length(): number {
    return this.#length;
  }

  u8(n: number): this {
    this.#reserve(1);
    this.#view.setUint8(this.#length, n);
    this.#length += 1;
    return this;
  }

  u16(n: number): this {
    this.#reserve(2);
    this.#view.setUint16(this.#length, n);
    this.#length += 2;
    return this;
  }

  u32(n: number): this {
    this.#reserve(4);
    this.#view.setUint32(this.#length, n);
    this.#length += 4;
    return this;
  }

  /** A non-negative safe integer as two u32 halves. */
  u64(n: number): this {
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new RangeError(`"${n}" is not a non-negative safe integer`);
    }
    return this.u32(Math.floor(n / TWO_POW_32)).u32(n % TWO_POW_32);
  }

  f64(n: number): this {
    this.#reserve(8);
    this.#view.setFloat64(this.#length, n);
    this.#length += 8;
    return this;
  }

  /** Overwrites a byte written earlier (a kind decided after its body). */
  u8At(at: number, n: number): this {
    this.#view.setUint8(at, n);
    return this;
  }

  /** Overwrites a u32 written earlier (a length known once its body is written). */
  u32At(at: number, n: number): this {
    this.#view.setUint32(at, n);
    return this;
  }

  /** Bytes as they are, with no length. */
  raw(data: Uint8Array): this {
    this.#reserve(data.length);
    this.#buffer.set(data, this.#length);
    this.#length += data.length;
    return this;
  }

  bytes(data: Uint8Array): this {
    return this.u32(data.length).raw(data);
  }

  text(s: string): this {
    return this.bytes(encoder.encode(s));
  }

  /** The bytes written (a view of the writer's buffer; write no more after this). */
  finish(): Uint8Array {
    return this.#buffer.subarray(0, this.#length);
  }

  #reserve(n: number): void {
    if (this.#length + n <= this.#buffer.length) return;
    let size = this.#buffer.length * 2;
    while (size < this.#length + n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = grown;
    this.#view = new DataView(grown.buffer);
  }
}

/** Reads payload fields, refusing anything that runs past the end. */
export class PayloadReader {
  #data: Uint8Array;
  #view: DataView;
  #at = 0;

  constructor(data: Uint8Array) {
    this.#data = data;
    this.#view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  /** Whether every byte has been read. */
  get done(): boolean {
    return this.#at === this.#data.length;
  }

  /** Bytes not read yet. */
  get left(): number {
    return this.#data.length - this.#at;
  }

  #need(n: number): void {
    if (this.#at + n > this.#data.length) {
      throw new WireFormatError(
        `payload truncated: ${n} bytes needed at "${this.#at}", ${this.left} left`,
      );
    }
  }

  u8(): number {
    this.#need(1);
    return this.#data[this.#at++]!;
  }

  u16(): number {
    this.#need(2);
    const v = this.#view.getUint16(this.#at);
    this.#at += 2;
    return v;
  }

  u32(): number {
    this.#need(4);
    const v = this.#view.getUint32(this.#at);
    this.#at += 4;
    return v;
  }

  u64(): number {
    const high = this.u32();
    const value = high * TWO_POW_32 + this.u32();
    if (!Number.isSafeInteger(value)) {
      throw new WireFormatError(`u64 "${value}" is not a safe integer`);
    }
    return value;
  }

  f64(): number {
    this.#need(8);
    const v = this.#view.getFloat64(this.#at);
    this.#at += 8;
    return v;
  }

  /** The next `n` bytes (a view), with no length before them. */
  take(n: number): Uint8Array {
    this.#need(n);
    const v = this.#data.subarray(this.#at, this.#at + n);
    this.#at += n;
    return v;
  }

  bytes(): Uint8Array {
    return this.take(this.u32());
  }

  text(): string {
    return decoder.decode(this.bytes());
  }

  /** Refuses trailing bytes. */
  end(): void {
    if (this.#at !== this.#data.length) throw new WireFormatError("payload has trailing bytes");
  }
}
