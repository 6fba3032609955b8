/**
 * RESP values as tagged objects. Used off the hot path (local replies, the
 * command table, Sentinel and control traffic); forwarded replies are framed as
 * raw bytes and never decoded into these.
 */

/** One RESP2 or RESP3 value. `null` payloads are RESP2's null bulk (`$-1`) and null array (`*-1`). */
export type RespValue =
  | { type: "simple"; value: string }
  | { type: "error"; value: string }
  | { type: "integer"; value: bigint }
  | { type: "bulk"; value: Uint8Array | null }
  | { type: "array"; value: RespValue[] | null }
  | { type: "null" }
  | { type: "boolean"; value: boolean }
  | { type: "double"; value: number }
  | { type: "bignum"; value: bigint }
  | { type: "blob_error"; value: Uint8Array }
  | { type: "verbatim"; format: string; value: Uint8Array }
  | { type: "map"; value: [RespValue, RespValue][] }
  | { type: "set"; value: RespValue[] }
  | { type: "attribute"; value: [RespValue, RespValue][] }
  | { type: "push"; value: RespValue[] };

/** The protocol a connection speaks: RESP2, or RESP3 after `HELLO 3`. */
export type Protocol = 2 | 3;

const encoder = new TextEncoder();

/** `+text` */
export function simple(value: string): RespValue {
  return { type: "simple", value };
}

/** `-text`; the first word is the error code (`ERR`, `WRONGTYPE`, ...). */
export function error(value: string): RespValue {
  return { type: "error", value };
}

/** `:n` */
export function integer(value: number | bigint): RespValue {
  return { type: "integer", value: BigInt(value) };
}

/** `$len` bulk string from text or bytes; `null` is the null bulk. */
export function bulk(value: string | Uint8Array | null): RespValue {
  return { type: "bulk", value: typeof value === "string" ? encoder.encode(value) : value };
}

/** `*n` of values; `null` is the null array. */
export function array(value: RespValue[] | null): RespValue {
  return { type: "array", value };
}

/** RESP3 map (`%`), sent to RESP2 clients as a flat array. */
export function map(entries: [RespValue, RespValue][]): RespValue {
  return { type: "map", value: entries };
}

/** RESP3 set (`~`), sent to RESP2 clients as an array. */
export function set(values: RespValue[]): RespValue {
  return { type: "set", value: values };
}

/** RESP3 null (`_`), sent to RESP2 clients as the null bulk. */
export function nil(): RespValue {
  return { type: "null" };
}
