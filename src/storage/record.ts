/**
 * The durable record frame shared by the segment log and the Raft WAL:
 * `length (u32 BE) | crc (u32 BE) | payload`, where `crc` is the CRC-32C of the
 * four length bytes followed by the payload. Covering the length means a zeroed
 * header (length 0, crc 0) never passes for an empty record.
 */

import { crc32c } from "./crc32c.ts";

/** Bytes of `length` and `crc` before each payload. */
export const RECORD_HEADER_BYTES = 8;

/** The payload length stated by the record header at `position`. */
export function recordLength(bytes: Uint8Array, position: number): number {
  return ((bytes[position]! << 24) | (bytes[position + 1]! << 16) | (bytes[position + 2]! << 8) |
    bytes[position + 3]!) >>> 0;
}

/** Whether the whole record at `position` (header and payload present) carries its own checksum. */
export function checksumMatches(bytes: Uint8Array, position: number): boolean {
  return recordCrc(bytes, position, recordLength(bytes, position)) ===
    recordLength(bytes, position + 4);
}

/**
 * Fills in the header of a record built in place: `record` is eight bytes of
 * room followed by the payload.
 */
export function sealRecord(record: Uint8Array): Uint8Array {
  sealAt(record, 0, record.length - RECORD_HEADER_BYTES);
  return record;
}

/** Writes the header of the record of `length` payload bytes at `position`. */
function sealAt(bytes: Uint8Array, position: number, length: number): void {
  writeU32(bytes, position, length);
  writeU32(bytes, position + 4, recordCrc(bytes, position, length));
}

function writeU32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 24;
  bytes[at + 1] = (value >>> 16) & 0xff;
  bytes[at + 2] = (value >>> 8) & 0xff;
  bytes[at + 3] = value & 0xff;
}

/** Frames `payloads` as consecutive records in one buffer (one write, one fsync). */
export function encodeRecords(payloads: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const payload of payloads) total += RECORD_HEADER_BYTES + payload.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const payload of payloads) {
    out.set(payload, at + RECORD_HEADER_BYTES);
    sealAt(out, at, payload.length);
    at += RECORD_HEADER_BYTES + payload.length;
  }
  return out;
}

/**
 * Why the bytes at `position` do not hold a whole record (torn header, a length
 * outside `[lengthMin, lengthMax]`, torn payload, checksum mismatch), or null
 * if they do.
 */
export function recordProblem(
  bytes: Uint8Array,
  position: number,
  bounds: { lengthMin: number; lengthMax: number },
): string | null {
  const left = bytes.length - position;
  if (left < RECORD_HEADER_BYTES) return tornHeader(left);
  const length = recordLength(bytes, position);
  if (length < bounds.lengthMin || length > bounds.lengthMax) {
    return `record length "${length}" is outside [${bounds.lengthMin}, ${bounds.lengthMax}]`;
  }
  if (length > left - RECORD_HEADER_BYTES) return tornPayload(length, left - RECORD_HEADER_BYTES);
  if (!checksumMatches(bytes, position)) return "checksum mismatch";
  return null;
}

/** How a header cut short is reported. */
export function tornHeader(bytesLeft: number): string {
  return `torn record header (${bytesLeft} bytes left)`;
}

/** How a payload cut short is reported. */
export function tornPayload(length: number, bytesLeft: number): string {
  return `torn record (length "${length}", ${bytesLeft} bytes left)`;
}

function recordCrc(bytes: Uint8Array, position: number, length: number): number {
  const payloadStart = position + RECORD_HEADER_BYTES;
  return crc32c(
    bytes,
    crc32c(bytes, 0, position, position + 4),
    payloadStart,
    payloadStart + length,
  );
}
