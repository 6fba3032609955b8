/**
 * `FUNCTION DUMP` payloads, read and written as Redis 7 does: for each
 * library the opcode `RDB_OPCODE_FUNCTION2` (245) and its code as an RDB
 * string (a length and the bytes, or LZF-compressed), then the RDB version
 * (2 bytes, little-endian) and a CRC64 (Jones, reflected; 8 bytes,
 * little-endian) of everything before it. Pylon keeps libraries wrapped in
 * Redis and shows clients their own code, so it rewrites payloads both ways.
 */

/** `RDB_OPCODE_FUNCTION2`: a library as its code. */
export const RDB_OPCODE_FUNCTION2 = 245;

const MASK64 = (1n << 64n) - 1n;
/** The Jones polynomial 0xad93d23594c935a9, bit-reflected. */
const POLY = 0x95ac9329ac4bc9b5n;

const CRC_TABLE: bigint[] = (() => {
  const table: bigint[] = [];
  for (let n = 0; n < 256; n++) {
    let crc = BigInt(n);
    for (let k = 0; k < 8; k++) crc = crc & 1n ? (crc >> 1n) ^ POLY : crc >> 1n;
    table.push(crc);
  }
  return table;
})();

/** Redis's crc64 (`crc64(0, ...)`), as in its `DUMP` and `FUNCTION DUMP` footers. */
export function crc64(bytes: Uint8Array): bigint {
  let crc = 0n;
  for (const byte of bytes) {
    crc = (CRC_TABLE[Number((crc ^ BigInt(byte)) & 0xffn)]! ^ (crc >> 8n)) & MASK64;
  }
  return crc;
}

/** LZF decompression (liblzf's `lzf_decompress`), to `length` bytes; undefined if malformed. */
export function lzfDecompress(input: Uint8Array, length: number): Uint8Array | undefined {
  const out = new Uint8Array(length);
  let ip = 0;
  let op = 0;
  while (ip < input.length) {
    const ctrl = input[ip++]!;
    if (ctrl < 32) {
      const run = ctrl + 1;
      if (op + run > length || ip + run > input.length) return undefined;
      out.set(input.subarray(ip, ip + run), op);
      ip += run;
      op += run;
    } else {
      let run = ctrl >> 5;
      if (run === 7) {
        if (ip >= input.length) return undefined;
        run += input[ip++]!;
      }
      if (ip >= input.length) return undefined;
      const ref = op - ((ctrl & 0x1f) << 8) - 1 - input[ip++]!;
      run += 2;
      if (ref < 0 || op + run > length) return undefined;
      for (let i = 0; i < run; i++) out[op++] = out[ref + i]!;
    }
  }
  return op === length ? out : undefined;
}

/** An RDB length's encoding (`rdbSaveLen`). */
export function encodeLength(length: number): Uint8Array {
  if (length < 1 << 6) return Uint8Array.of(length);
  if (length < 1 << 14) return Uint8Array.of(0x40 | (length >> 8), length & 0xff);
  const out = new Uint8Array(5);
  out[0] = 0x80;
  new DataView(out.buffer).setUint32(1, length);
  return out;
}

/** A reader over one payload; each read answers undefined when the bytes do not hold it. */
class Reader {
  at = 0;
  constructor(readonly bytes: Uint8Array) {}

  /** `rdbLoadLen`: the length, or the special encoding (`encoded`) in its low 6 bits. */
  length(): { value: number; encoded: boolean } | undefined {
    const first = this.bytes[this.at++];
    if (first === undefined) return undefined;
    const type = first >> 6;
    if (type === 3) return { value: first & 0x3f, encoded: true };
    if (type === 0) return { value: first & 0x3f, encoded: false };
    if (type === 1) {
      const second = this.bytes[this.at++];
      return second === undefined
        ? undefined
        : { value: ((first & 0x3f) << 8) | second, encoded: false };
    }
    const view = new DataView(this.bytes.buffer, this.bytes.byteOffset);
    if (first === 0x80 && this.at + 4 <= this.bytes.length) {
      const value = view.getUint32(this.at);
      this.at += 4;
      return { value, encoded: false };
    }
    if (first === 0x81 && this.at + 8 <= this.bytes.length) {
      const value = Number(view.getBigUint64(this.at));
      this.at += 8;
      return Number.isSafeInteger(value) ? { value, encoded: false } : undefined;
    }
    return undefined;
  }

  take(count: number): Uint8Array | undefined {
    if (this.at + count > this.bytes.length) return undefined;
    const out = this.bytes.subarray(this.at, this.at + count);
    this.at += count;
    return out;
  }

  /** `rdbGenericLoadStringObject`: raw, an integer encoding, or LZF. */
  string(): Uint8Array | undefined {
    const length = this.length();
    if (length === undefined) return undefined;
    if (!length.encoded) return this.take(length.value);
    const view = (count: number) => {
      const bytes = this.take(count);
      return bytes === undefined ? undefined : new DataView(bytes.buffer, bytes.byteOffset, count);
    };
    switch (length.value) {
      case 0: {
        const v = view(1);
        return v === undefined ? undefined : new TextEncoder().encode(String(v.getInt8(0)));
      }
      case 1: {
        const v = view(2);
        return v === undefined ? undefined : new TextEncoder().encode(String(v.getInt16(0, true)));
      }
      case 2: {
        const v = view(4);
        return v === undefined ? undefined : new TextEncoder().encode(String(v.getInt32(0, true)));
      }
      case 3: {
        const compressed = this.length();
        const plain = this.length();
        if (compressed === undefined || plain === undefined) return undefined;
        const bytes = this.take(compressed.value);
        return bytes === undefined ? undefined : lzfDecompress(bytes, plain.value);
      }
      default:
        return undefined;
    }
  }
}

/** Whether a payload's footer CRC64 matches its bytes (as Redis's `verifyDumpPayload` checks). */
export function checksumHolds(payload: Uint8Array): boolean {
  if (payload.length < 10) return false;
  const crc = new DataView(payload.buffer, payload.byteOffset + payload.length - 8, 8)
    .getBigUint64(0, true);
  return crc64(payload.subarray(0, payload.length - 8)) === crc;
}

/** A payload's libraries' code and its RDB version. */
export interface FunctionPayload {
  libraries: Uint8Array[];
  rdbVersion: number;
}

/**
 * The libraries of a `FUNCTION DUMP` payload; undefined when its footer (RDB
 * version, CRC64) does not hold, or it holds something other than
 * `RDB_OPCODE_FUNCTION2` libraries.
 */
export function readFunctionPayload(payload: Uint8Array): FunctionPayload | undefined {
  if (payload.length < 10) return undefined;
  const body = payload.subarray(0, payload.length - 10);
  const footer = new DataView(payload.buffer, payload.byteOffset + payload.length - 10, 10);
  const rdbVersion = footer.getUint16(0, true);
  if (!checksumHolds(payload)) return undefined;
  const reader = new Reader(body);
  const libraries: Uint8Array[] = [];
  while (reader.at < body.length) {
    if (body[reader.at++] !== RDB_OPCODE_FUNCTION2) return undefined;
    const code = reader.string();
    if (code === undefined) return undefined;
    libraries.push(code);
  }
  return { libraries, rdbVersion };
}

/** A `FUNCTION DUMP` payload of these libraries (code stored uncompressed), with its footer. */
export function writeFunctionPayload(payload: FunctionPayload): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const code of payload.libraries) {
    parts.push(Uint8Array.of(RDB_OPCODE_FUNCTION2), encodeLength(code.length), code);
  }
  const bodyLength = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(bodyLength + 10);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  const footer = new DataView(out.buffer, bodyLength, 10);
  footer.setUint16(0, payload.rdbVersion, true);
  footer.setBigUint64(2, crc64(out.subarray(0, bodyLength + 2)), true);
  return out;
}

/**
 * Whether `FUNCTION RESTORE payload ..` holds a payload Redis would take
 * (its checksum holds) but whose libraries Pylon cannot read, so it could
 * not load them behind its determinism prologue.
 */
export function unreadableRestore(argv: readonly Uint8Array[]): boolean {
  const payload = argv[2];
  if (payload === undefined) return false;
  return readFunctionPayload(payload) === undefined && checksumHolds(payload);
}
