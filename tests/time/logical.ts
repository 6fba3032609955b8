/**
 * A rack's data as the log defines it, read from its Redis directly: every key
 * with its value's digest and its expiry as the client set it, leaving out
 * keys the log has expired (a rack may not have swept them yet; they are gone
 * for every op). Racks are compared this way, key by key.
 */

import { Redis } from "ioredis";

/** How far expiries are shifted in the rack's Redis (src/determinism/expiry.ts). */
const SHIFT_MS = 10_000_000_000_000;

/** One key as the log defines it. */
export interface LogicalKey {
  /** DEBUG DIGEST-VALUE of the key: the value, whatever its type. */
  digest: string;
  /** The expiry the client set (ms since the epoch), or -1. */
  expiry: number;
}

/**
 * The keys of db `db` matching `pattern` on the Redis at `port`, as the log
 * defines them at log time `nowMs` (a key whose expiry is reached is absent).
 */
export async function logicalKeys(
  port: number,
  pattern: string,
  nowMs: number,
  db = 0,
): Promise<Map<string, LogicalKey>> {
  const redis = new Redis({ port, db, lazyConnect: true, maxRetriesPerRequest: 0 });
  await redis.connect();
  try {
    const keys: string[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== "0");
    const pipeline = redis.pipeline();
    for (const key of keys) {
      pipeline.call("PEXPIRETIME", key);
      pipeline.call("DEBUG", "DIGEST-VALUE", key);
    }
    const replies = (await pipeline.exec()) ?? [];
    const found = new Map<string, LogicalKey>();
    keys.forEach((key, i) => {
      const stored = Number(replies[2 * i]![1]);
      const digest = String(replies[2 * i + 1]![1]);
      if (stored === -2) return;
      if (stored >= 0 && (stored < SHIFT_MS || stored - SHIFT_MS <= nowMs)) return;
      found.set(key, { digest, expiry: stored < 0 ? -1 : stored - SHIFT_MS });
    });
    return found;
  } finally {
    redis.disconnect();
  }
}

/** The keys whose logical state differs between two racks, with both sides. */
export function differences(
  a: Map<string, LogicalKey>,
  b: Map<string, LogicalKey>,
): { key: string; a: LogicalKey | undefined; b: LogicalKey | undefined }[] {
  const out: { key: string; a: LogicalKey | undefined; b: LogicalKey | undefined }[] = [];
  for (const key of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(key);
    const y = b.get(key);
    if (x?.digest !== y?.digest || x?.expiry !== y?.expiry) out.push({ key, a: x, b: y });
  }
  return out;
}
