/**
 * Redis Cluster's hash slots: CRC16 (XMODEM) of the key, or of its hash tag
 * (the bytes between the first `{` and the first `}` after it, when not
 * empty), modulo 16384. Pylon places ops in partitions by slot, so users
 * group keys with the `{tags}` they know from Redis Cluster.
 */

/** The number of hash slots, as in Redis Cluster. */
export const SLOTS = 16384;

/** CRC16/XMODEM (polynomial 0x1021, initial value 0) by byte, as Redis's crc16.c tabulates it. */
const CRC16_TABLE: Uint16Array = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    table[byte] = crc & 0xffff;
  }
  return table;
})();

/** CRC16/XMODEM of the bytes (`"123456789"` gives 0x31C3). */
export function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (let i = 0; i < bytes.length; i++) {
    crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >>> 8) ^ bytes[i]!) & 0xff]!;
  }
  return crc;
}

/** The part of a key that is hashed: its hash tag if it has a non-empty one, else the whole key. */
export function hashTag(key: Uint8Array): Uint8Array {
  const open = key.indexOf(0x7b);
  if (open < 0) return key;
  const close = key.indexOf(0x7d, open + 1);
  if (close < 0 || close === open + 1) return key;
  return key.subarray(open + 1, close);
}

/** The Redis Cluster hash slot of a key (0..16383), as `CLUSTER KEYSLOT` gives it. */
export function keyHashSlot(key: Uint8Array): number {
  return crc16(hashTag(key)) & (SLOTS - 1);
}
