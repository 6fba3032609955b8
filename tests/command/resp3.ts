/**
 * Helpers for comparing Pylon's replies with a real Redis's: a RESP3 (or
 * RESP2) connection, and normalisation of the
 * parts of Redis's replies whose order comes from its hash tables.
 */

import { RedisClient } from "../../src/redis/client.ts";
import type { RespValue } from "../../src/resp/value.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Connects to Redis and switches the connection to `protocol`. */
export async function connect(port: number, protocol: 2 | 3 = 3): Promise<RedisClient> {
  const client = await RedisClient.connect({ host: "127.0.0.1", port });
  const hello = await client.call("HELLO", String(protocol));
  if (hello.type === "error") throw new Error(`HELLO ${protocol} failed: ${hello.value}`);
  return client;
}

/** Request arguments as bytes. */
export function argv(...args: (string | Uint8Array)[]): Uint8Array[] {
  return args.map((arg) => typeof arg === "string" ? encoder.encode(arg) : arg);
}

/** The text of a bulk or simple string (for sorting and messages). */
export function text(value: RespValue): string {
  if (value.type === "bulk") return value.value === null ? "<null>" : decoder.decode(value.value);
  if (value.type === "simple" || value.type === "error") return value.value;
  return JSON.stringify(value, (_k, v) => typeof v === "bigint" ? String(v) : v);
}

function byName(a: RespValue, b: RespValue): number {
  return text(a).localeCompare(text(b));
}

/** Sorts a COMMAND INFO entry's subcommands (Redis lists them in hash-table order). */
export function sortInfo(entry: RespValue): RespValue {
  if (entry.type !== "array" || entry.value === null || entry.value.length !== 10) return entry;
  const subs = entry.value[9]!;
  if (subs.type !== "array" || subs.value === null) return entry;
  const sorted = subs.value.map(sortInfo).sort((a, b) =>
    a.type === "array" && b.type === "array" ? byName(a.value![0]!, b.value![0]!) : 0
  );
  return { type: "array", value: [...entry.value.slice(0, 9), { type: "array", value: sorted }] };
}

/** Sorts the entries of a COMMAND DOCS map and of every nested `subcommands` map by name. */
export function sortDocs(docs: RespValue): RespValue {
  if (docs.type !== "map") return docs;
  return {
    type: "map",
    value: docs.value
      .map(([name, value]): [RespValue, RespValue] => [name, sortDocFields(value)])
      .sort(([a], [b]) => byName(a, b)),
  };
}

function sortDocFields(fields: RespValue): RespValue {
  if (fields.type !== "map") return fields;
  return {
    type: "map",
    value: fields.value.map(([key, value]): [RespValue, RespValue] =>
      text(key) === "subcommands" ? [key, sortDocs(value)] : [key, value]
    ),
  };
}

/** A RESP3 value as a RESP2 client sees it (maps flattened, sets as arrays, null as null bulk). */
export function toResp2(value: RespValue): RespValue {
  switch (value.type) {
    case "map":
    case "attribute":
      return { type: "array", value: value.value.flatMap(([k, v]) => [toResp2(k), toResp2(v)]) };
    case "set":
    case "push":
      return { type: "array", value: value.value.map(toResp2) };
    case "array":
      return value.value === null ? value : { type: "array", value: value.value.map(toResp2) };
    case "null":
      return { type: "bulk", value: null };
    default:
      return value;
  }
}

/** The elements of an array or set reply (throws for anything else). */
export function items(value: RespValue): RespValue[] {
  if (value.type === "array" && value.value !== null) return value.value;
  if (value.type === "set") return value.value;
  throw new Error(`Expected an array, got ${text(value)}`);
}
