/**
 * Length-prefixed binary fields, big-endian: how the peer protocol and the
 * Raft message codec lay out their payloads. Readers refuse anything that runs
 * past the end.
 */

/** Bytes that do not hold the fields they should. */
export class WireFormatError extends Error {
  override name = "WireFormatError";
}

/** Writes payload fields. */
export class PayloadWriter {
  #parts: Uint8Array[] = [];

  u8(n: number): this {
    this.#parts.push(Uint8Array.of(n));
    return this;
  }

  u16(n: number): this {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, n);
    this.#parts.push(b);
    return this;
  }

  u32(n: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n);
    this.#parts.push(b);
    return this;
  }

  f64(n: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, n);
    this.#parts.push(b);
    return this;
  }

  bytes(data: Uint8Array): this {
    this.u32(data.length);
    this.#parts.push(data);
    return this;
  }

  text(s: string): this {
    return this.bytes(new TextEncoder().encode(s));
  }

  finish(): Uint8Array {
    let size = 0;
    for (const p of this.#parts) size += p.length;
    const out = new Uint8Array(size);
    let at = 0;
    for (const p of this.#parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
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

  #need(n: number): void {
    if (this.#at + n > this.#data.length) throw new WireFormatError("payload truncated");
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

  f64(): number {
    this.#need(8);
    const v = this.#view.getFloat64(this.#at);
    this.#at += 8;
    return v;
  }

  bytes(): Uint8Array {
    const n = this.u32();
    this.#need(n);
    const v = this.#data.subarray(this.#at, this.#at + n);
    this.#at += n;
    return v;
  }

  text(): string {
    return new TextDecoder("utf-8", { fatal: true }).decode(this.bytes());
  }

  /** Refuses trailing bytes. */
  end(): void {
    if (this.#at !== this.#data.length) throw new WireFormatError("payload has trailing bytes");
  }
}
