/**
 * Kafka record batches (magic 2), as a fetch returns them: each batch's
 * CRC-32C is checked, control batches are skipped, gzip is inflated (Pylon's
 * producer never compresses; another producer might), and each record's value
 * comes out with its offset. A fetch may end in the middle of a batch: that
 * tail is left for the next fetch.
 */

import { gunzipSync } from "node:zlib";
import { crc32c } from "../../storage/crc32c.ts";
import { KafkaReader, KafkaWireError } from "./wire.ts";

/** One record's offset and value. */
export interface FetchedRecord {
  offset: number;
  value: Uint8Array | null;
}

/** Bytes of a batch header up to and including its length field. */
const LOG_OVERHEAD = 12;
/** Offset of the CRC field, and of the attributes it covers, from the batch start. */
const CRC_AT = 17;
const ATTRIBUTES_AT = 21;

const COMPRESSION_MASK = 0x07;
const CONTROL_FLAG = 0x20;
const GZIP = 1;

/** Decodes the whole batches in `data`; records below `from` are dropped. */
export function decodeBatches(data: Uint8Array, from: number): FetchedRecord[] {
  const out: FetchedRecord[] = [];
  let at = 0;
  while (data.length - at >= LOG_OVERHEAD) {
    const view = new DataView(data.buffer, data.byteOffset + at, data.length - at);
    const baseOffset = Number(view.getBigInt64(0));
    const length = view.getInt32(8);
    if (data.length - at < LOG_OVERHEAD + length) break; // a partial batch at the end
    const batch = data.subarray(at, at + LOG_OVERHEAD + length);
    at += LOG_OVERHEAD + length;
    const magic = batch[16];
    if (magic !== 2) throw new KafkaWireError(`record batch of magic ${magic} (only 2 is read)`);
    const bv = new DataView(batch.buffer, batch.byteOffset, batch.length);
    const crc = bv.getUint32(CRC_AT);
    if (crc32c(batch.subarray(ATTRIBUTES_AT)) !== crc) {
      throw new KafkaWireError(`record batch at offset ${baseOffset} fails its CRC`);
    }
    const attributes = bv.getInt16(ATTRIBUTES_AT);
    if ((attributes & CONTROL_FLAG) !== 0) continue;
    const count = bv.getInt32(57);
    let records = batch.subarray(61);
    const compression = attributes & COMPRESSION_MASK;
    if (compression === GZIP) records = new Uint8Array(gunzipSync(records));
    else if (compression !== 0) {
      throw new KafkaWireError(
        `record batch at offset ${baseOffset} uses compression ${compression} (Pylon reads none or gzip)`,
      );
    }
    const r = new KafkaReader(records);
    for (let i = 0; i < count; i++) {
      const size = r.varint();
      const end = r.at + size;
      r.int8(); // attributes
      r.varint(); // timestamp delta
      const offset = baseOffset + r.varint();
      const keyLength = r.varint();
      if (keyLength > 0) r.take(keyLength);
      const valueLength = r.varint();
      const value = valueLength < 0 ? null : r.take(valueLength);
      r.at = end; // headers: not used
      if (offset >= from) out.push({ offset, value });
    }
  }
  return out;
}
