/**
 * What the checker knows of a rack: every key of db 0 as its Redis stores it
 * (type, a digest of the value, the stored expiry, the value itself for the
 * kinds the checks read), and how to read that in log terms.
 *
 * A rack's Redis never expires a key by its own clock: every expiry is
 * stored shifted by {@linkcode EXPIRY_SHIFT_MS} (src/determinism/expiry.ts).
 * A stored expiry at or above the shift is the logical expiry plus the shift;
 * one in [0, shift) is a key the log has expired and Redis is removing. So a
 * key is alive in log terms at time T iff it has no expiry, or its stored
 * expiry minus the shift is after T. Racks may differ on keys that are not
 * alive (not swept yet), never on one that is.
 */

import { EXPIRY_SHIFT_MS } from "../../src/determinism/expiry.ts";
import type { RespValue } from "../../src/resp/value.ts";

export { EXPIRY_SHIFT_MS };

/** One pending entry of a consumer group: who has it, since when, how often delivered. */
export interface PendingRecord {
  id: string;
  /** The consumer that holds it (in a consumer's own list: its name). */
  consumer: string;
  deliveryMs: number;
  deliveries: number;
}

/** One consumer of a group (its `seen-time`, the applying rack's own clock, left out). */
export interface ConsumerRecord {
  name: string;
  pelCount: number;
  pending: PendingRecord[];
}

/** One consumer group of a stream. */
export interface GroupRecord {
  name: string;
  lastDeliveredId: string;
  /** `entries-read` and `lag` as Redis shows them (nil when Redis cannot tell). */
  entriesRead: string;
  lag: string;
  pelCount: number;
  pending: PendingRecord[];
  consumers: ConsumerRecord[];
}

/** A stream as `XINFO STREAM key FULL COUNT 0` shows it. */
export interface StreamRecord {
  length: number;
  lastGeneratedId: string;
  maxDeletedId: string;
  entriesAdded: number;
  recordedFirstId: string;
  /** Each entry: its id and its fields and values, in order. */
  entries: [string, string[]][];
  groups: GroupRecord[];
}

/** One key as a rack's Redis stores it. */
export interface KeyRecord {
  /** TYPE's answer. */
  type: string;
  /** DEBUG DIGEST-VALUE's answer (the value only: not the expiry, not a stream's groups). */
  digest: string;
  /** PEXPIRETIME's answer as stored: -1 none, else shifted (see the module's header). */
  storedExpiryMs: number;
  /** A string's value. */
  value?: string;
  /** A set's members. */
  members?: string[];
  /** A list's elements, head first. */
  items?: string[];
  /** A stream's entries and groups. */
  stream?: StreamRecord;
}

/** A rack's data, read from its Redis master directly: every key of db 0. */
export interface RackData {
  rack: string;
  keys: Map<string, KeyRecord>;
}

/** Where a key stands in log terms at a time. */
export type Liveness =
  /** No expiry, or one after the time. */
  | "alive"
  /** Its logical expiry has been reached: no rack may hold it as alive; some may not have swept it. */
  | "expired"
  /** Stored expiry in [0, shift): the log expired it and Redis is removing it. */
  | "removing";

/** The key's expiry in log terms: undefined for none, null while Redis is removing it. */
export function logicalExpiryMs(record: KeyRecord): number | undefined | null {
  if (record.storedExpiryMs < 0) return undefined;
  if (record.storedExpiryMs < EXPIRY_SHIFT_MS) return null;
  return record.storedExpiryMs - EXPIRY_SHIFT_MS;
}

/** Where `record` stands at log time `atMs`. */
export function liveness(record: KeyRecord, atMs: number): Liveness {
  const expiry = logicalExpiryMs(record);
  if (expiry === undefined) return "alive";
  if (expiry === null) return "removing";
  return expiry > atMs ? "alive" : "expired";
}

/** The keys of a rack alive in log terms at `atMs`. */
export function aliveKeys(rack: RackData, atMs: number): Map<string, KeyRecord> {
  const alive = new Map<string, KeyRecord>();
  for (const [key, record] of rack.keys) {
    if (liveness(record, atMs) === "alive") alive.set(key, record);
  }
  return alive;
}

const utf8 = new TextDecoder();

function text(value: RespValue | undefined): string {
  if (value === undefined) return "";
  switch (value.type) {
    case "bulk":
      return value.value === null ? "nil" : utf8.decode(value.value);
    case "simple":
      return value.value;
    case "integer":
    case "bignum":
      return String(value.value);
    case "double":
      return String(value.value);
    case "null":
      return "nil";
    default:
      return JSON.stringify(value);
  }
}

function list(value: RespValue | undefined): RespValue[] {
  if (value === undefined) return [];
  if (value.type === "array") return value.value ?? [];
  if (value.type === "set" || value.type === "push") return value.value;
  if (value.type === "map") return value.value.flat();
  return [];
}

/** A RESP2 flat map (`[name, value, name, value, ...]`) as a lookup. */
function fields(value: RespValue | undefined): Map<string, RespValue> {
  const items = list(value);
  const found = new Map<string, RespValue>();
  for (let i = 0; i + 1 < items.length; i += 2) found.set(text(items[i]), items[i + 1]!);
  return found;
}

/** Parses `XINFO STREAM key FULL COUNT 0` (Redis 7.0, RESP2 or RESP3). */
export function parseStreamFull(reply: RespValue): StreamRecord {
  const top = fields(reply);
  const number = (v: RespValue | undefined) => Number(text(v));
  return {
    length: number(top.get("length")),
    lastGeneratedId: text(top.get("last-generated-id")),
    maxDeletedId: text(top.get("max-deleted-entry-id")),
    entriesAdded: number(top.get("entries-added")),
    recordedFirstId: text(top.get("recorded-first-entry-id")),
    entries: list(top.get("entries")).map((entry) => {
      const [id, values] = list(entry);
      return [text(id), list(values).map(text)];
    }),
    groups: list(top.get("groups")).map((g) => {
      const group = fields(g);
      return {
        name: text(group.get("name")),
        lastDeliveredId: text(group.get("last-delivered-id")),
        entriesRead: text(group.get("entries-read")),
        lag: text(group.get("lag")),
        pelCount: number(group.get("pel-count")),
        pending: list(group.get("pending")).map((p) => {
          const [id, consumer, deliveryMs, deliveries] = list(p);
          return {
            id: text(id),
            consumer: text(consumer),
            deliveryMs: number(deliveryMs),
            deliveries: number(deliveries),
          };
        }),
        consumers: list(group.get("consumers")).map((c) => {
          const consumer = fields(c);
          const name = text(consumer.get("name"));
          return {
            name,
            pelCount: number(consumer.get("pel-count")),
            pending: list(consumer.get("pending")).map((p) => {
              const [id, deliveryMs, deliveries] = list(p);
              return {
                id: text(id),
                consumer: name,
                deliveryMs: number(deliveryMs),
                deliveries: number(deliveries),
              };
            }),
          };
        }),
      };
    }),
  };
}

/**
 * How two streams differ, or undefined: the first difference in their entries
 * and ids, and the first in their consumer groups (both, so a difference in
 * delivery times shows beside one in entries).
 */
export function streamDifference(a: StreamRecord, b: StreamRecord): string | undefined {
  const found = [entriesDifference(a, b), groupsDifference(a, b)].filter((d) => d !== undefined);
  return found.length === 0 ? undefined : found.join("; ");
}

function entriesDifference(a: StreamRecord, b: StreamRecord): string | undefined {
  for (let i = 0; i < Math.max(a.entries.length, b.entries.length); i++) {
    const x = JSON.stringify(a.entries[i] ?? null);
    const y = JSON.stringify(b.entries[i] ?? null);
    if (x !== y) return `entry ${i}: ${x} vs ${y}`;
  }
  for (
    const field of [
      "lastGeneratedId",
      "length",
      "maxDeletedId",
      "entriesAdded",
      "recordedFirstId",
    ] as const
  ) {
    if (a[field] !== b[field]) return `${field} ${a[field]} vs ${b[field]}`;
  }
  return undefined;
}

function groupsDifference(a: StreamRecord, b: StreamRecord): string | undefined {
  const names = [...new Set([...a.groups, ...b.groups].map((g) => g.name))].sort();
  for (const name of names) {
    const x = a.groups.find((g) => g.name === name);
    const y = b.groups.find((g) => g.name === name);
    if (x === undefined || y === undefined) {
      return `group ${name} only on one (${x === undefined ? "second" : "first"})`;
    }
    // Not `entries-read` and `lag`: Redis's own estimates, which it may drop (nil) on a rack
    // whose Redis restarted or failed over; no write's outcome depends on them.
    for (const field of ["lastDeliveredId", "pelCount"] as const) {
      if (x[field] !== y[field]) return `group ${name} ${field} ${x[field]} vs ${y[field]}`;
    }
    const pending = pendingDifference(x.pending, y.pending);
    if (pending !== undefined) return `group ${name} ${pending}`;
    const consumers = [...new Set([...x.consumers, ...y.consumers].map((c) => c.name))].sort();
    for (const consumer of consumers) {
      const p = x.consumers.find((c) => c.name === consumer);
      const q = y.consumers.find((c) => c.name === consumer);
      if (p === undefined || q === undefined) {
        return `group ${name} consumer ${consumer} only on one`;
      }
      if (p.pelCount !== q.pelCount) {
        return `group ${name} consumer ${consumer} pel-count ${p.pelCount} vs ${q.pelCount}`;
      }
      const mine = pendingDifference(p.pending, q.pending);
      if (mine !== undefined) return `group ${name} consumer ${consumer} ${mine}`;
    }
  }
  return undefined;
}

function pendingDifference(a: PendingRecord[], b: PendingRecord[]): string | undefined {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined || y === undefined) {
      return `pending ${(x ?? y)!.id} only on one`;
    }
    if (x.id !== y.id || x.consumer !== y.consumer) {
      return `pending ${x.id} (${x.consumer}) vs ${y.id} (${y.consumer})`;
    }
    if (x.deliveries !== y.deliveries) {
      return `pending ${x.id} delivered ${x.deliveries} vs ${y.deliveries} times`;
    }
    if (x.deliveryMs !== y.deliveryMs) {
      return `pending ${x.id} delivery time ${x.deliveryMs} vs ${y.deliveryMs}`;
    }
  }
  return undefined;
}
