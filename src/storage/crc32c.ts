/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum the
 * segment log stores with every record. Table-driven, eight bytes per step
 * ("slicing by 8"), so checksumming is not the bottleneck of a scan.
 */

const POLYNOMIAL_REFLECTED = 0x82f63b78;
const TABLE_COUNT = 8;

function buildTables(): Uint32Array[] {
  const tables = Array.from({ length: TABLE_COUNT }, () => new Uint32Array(256));
  const first = tables[0]!;
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let bit = 0; bit < 8; bit++) c = c & 1 ? (c >>> 1) ^ POLYNOMIAL_REFLECTED : c >>> 1;
    first[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = first[n]!;
    for (let t = 1; t < TABLE_COUNT; t++) {
      c = first[c & 0xff]! ^ (c >>> 8);
      tables[t]![n] = c >>> 0;
    }
  }
  return tables;
}

const [T0, T1, T2, T3, T4, T5, T6, T7] = buildTables() as [
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
];

/**
 * The CRC-32C of `bytes` (from `start` to `end`, without a subarray); pass
 * the CRC of what came before as `previous` to checksum data that arrives in
 * pieces.
 */
export function crc32c(bytes: Uint8Array, previous = 0, start = 0, end = bytes.length): number {
  let crc = ~previous >>> 0;
  let i = start;
  const end8 = end - ((end - start) % 8);
  while (i < end8) {
    const lo = (crc ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) |
      (bytes[i + 3]! << 24))) >>> 0;
    crc = T7[lo & 0xff]! ^ T6[(lo >>> 8) & 0xff]! ^ T5[(lo >>> 16) & 0xff]! ^
      T4[lo >>> 24]! ^ T3[bytes[i + 4]!]! ^ T2[bytes[i + 5]!]! ^ T1[bytes[i + 6]!]! ^
      T0[bytes[i + 7]!]!;
    i += 8;
  }
  while (i < end) {
    crc = T0[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
    i++;
  }
  return ~crc >>> 0;
}
