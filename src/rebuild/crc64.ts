/**
 * Redis's CRC-64 (Jones: polynomial 0xad93d23594c935a9, reflected in and out, no final
 * xor), the checksum that ends an RDB stream and every DUMP payload: a
 * rebuild checks the one of the stream it receives, and computes the one of
 * each key's payload it hands to `RESTORE`. Table-driven, eight bytes per
 * step ("slicing by 8"), with the 64-bit value kept as two 32-bit halves.
 */

const POLY_LO = 0xac4bc9b5;
const POLY_HI = 0x95ac9329;
const TABLES = 8;

/** `TLO[t * 256 + n]` / `THI[...]`: the low and high halves of table t's entry n. */
const TLO = new Int32Array(TABLES * 256);
const THI = new Int32Array(TABLES * 256);

for (let n = 0; n < 256; n++) {
  let lo = n;
  let hi = 0;
  for (let bit = 0; bit < 8; bit++) {
    const odd = lo & 1;
    lo = (lo >>> 1) | ((hi & 1) << 31);
    hi = hi >>> 1;
    if (odd) {
      lo ^= POLY_LO;
      hi ^= POLY_HI;
    }
  }
  TLO[n] = lo;
  THI[n] = hi;
}
for (let t = 1; t < TABLES; t++) {
  for (let n = 0; n < 256; n++) {
    const lo = TLO[(t - 1) * 256 + n]!;
    const hi = THI[(t - 1) * 256 + n]!;
    const index = lo & 0xff;
    TLO[t * 256 + n] = ((lo >>> 8) | (hi << 24)) ^ TLO[index]!;
    THI[t * 256 + n] = (hi >>> 8) ^ THI[index]!;
  }
}

/** A CRC-64 as its two 32-bit halves (unsigned). */
export interface Crc64 {
  lo: number;
  hi: number;
}

/** The CRC of nothing. (Not frozen: a frozen object here makes V8 deoptimize crc64 for good.) */
export const CRC64_ZERO: Readonly<Crc64> = { lo: 0, hi: 0 };

/**
 * The CRC-64 of `bytes[start..end)` continuing from `previous` (the CRC of
 * what came before), so a stream that arrives in pieces is checksummed as it
 * comes.
 */
export function crc64(
  bytes: Uint8Array,
  previous: Readonly<Crc64> = CRC64_ZERO,
  start = 0,
  end = bytes.length,
): Crc64 {
  let lo = previous.lo | 0;
  let hi = previous.hi | 0;
  let i = start;
  const end8 = end - ((end - start) & 7);
  while (i < end8) {
    lo ^= bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    hi ^= bytes[i + 4]! | (bytes[i + 5]! << 8) | (bytes[i + 6]! << 16) | (bytes[i + 7]! << 24);
    const a = 1792 + (lo & 0xff); // table 7
    const b = 1536 + ((lo >>> 8) & 0xff);
    const c = 1280 + ((lo >>> 16) & 0xff);
    const d = 1024 + (lo >>> 24);
    const e = 768 + (hi & 0xff);
    const f = 512 + ((hi >>> 8) & 0xff);
    const g = 256 + ((hi >>> 16) & 0xff);
    const h = hi >>> 24; // table 0
    lo = TLO[a]! ^ TLO[b]! ^ TLO[c]! ^ TLO[d]! ^ TLO[e]! ^ TLO[f]! ^ TLO[g]! ^ TLO[h]!;
    hi = THI[a]! ^ THI[b]! ^ THI[c]! ^ THI[d]! ^ THI[e]! ^ THI[f]! ^ THI[g]! ^ THI[h]!;
    i += 8;
  }
  while (i < end) {
    const index = (lo ^ bytes[i]!) & 0xff;
    lo = ((lo >>> 8) | (hi << 24)) ^ TLO[index]!;
    hi = (hi >>> 8) ^ THI[index]!;
    i++;
  }
  return { lo: lo >>> 0, hi: hi >>> 0 };
}

/** Writes `crc` little-endian (as Redis stores it) at `out[at..at+8)`. */
export function writeCrc64(crc: Readonly<Crc64>, out: Uint8Array, at: number): void {
  const view = new DataView(out.buffer, out.byteOffset + at, 8);
  view.setUint32(0, crc.lo, true);
  view.setUint32(4, crc.hi, true);
}

/** Reads a little-endian CRC-64 stored at `bytes[at..at+8)`. */
export function readCrc64(bytes: Uint8Array, at: number): Crc64 {
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, 8);
  return { lo: view.getUint32(0, true), hi: view.getUint32(4, true) };
}

/** The CRC as 16 hex digits, for messages. */
export function crc64Hex(crc: Readonly<Crc64>): string {
  return crc.hi.toString(16).padStart(8, "0") + crc.lo.toString(16).padStart(8, "0");
}
