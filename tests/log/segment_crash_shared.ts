/** What segment_crash_test.ts and its child agree on: the log's shape and the payloads. */

/** Small segments, so kills also land around segment rolls. */
export const CRASH_LOG_OPTIONS = { partitions: 2, segmentBytes: 256 * 1024 };
/** Concurrent appenders in the child. */
export const CRASH_WORKERS = 64;
/**
 * Callers 0 and 1 (one per partition) append records this large, so batches
 * take several pages and a SIGKILL can land inside a write, leaving a torn
 * tail; the others append 40..240 byte records.
 */
const LARGE_RECORD_BYTES = 384 * 1024;

/** The payload of record `id` (`<run>.<caller>.<i>`): the id, then filler derived from it. */
export function crashPayload(id: string): Uint8Array {
  let hash = 2166136261;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 16777619) >>> 0;
  const caller = Number(id.split(".")[1]);
  const head = new TextEncoder().encode(`${id}|`);
  const fillerBytes = (caller < 2 ? LARGE_RECORD_BYTES : 40) + (hash % 200);
  const payload = new Uint8Array(head.length + fillerBytes);
  payload.set(head);
  for (let i = 0; i < fillerBytes; i++) payload[head.length + i] = (hash + i * 7) & 0xff;
  return payload;
}
