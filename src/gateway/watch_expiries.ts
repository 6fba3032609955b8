/**
 * Reading the expiries of keys a connection watches, so EXEC can abort when
 * one of them expires before the transaction, as Redis 7 does
 * (src/applier/watch.ts decides, from what the op carries).
 */

import { encodeCommand } from "../resp/encoder.ts";
import { arrayItems, isErrorFrame } from "../resp/frames.ts";
import { EXPIRY_SHIFT_MS } from "../determinism/expiry.ts";

/** A read-only script: each key's stored expiry (PEXPIRETIME) in one reply. */
const WATCHED_EXPIRIES =
  "local r = {} for i, k in ipairs(KEYS) do r[i] = redis.call('PEXPIRETIME', k) end return r";

/** The request that reads `keys`' stored expiries (run as a script read). */
export function watchedExpiriesRequest(keys: readonly Uint8Array[]): Uint8Array {
  return encodeCommand(["EVAL_RO", WATCHED_EXPIRIES, String(keys.length), ...keys]);
}

/**
 * Each key's expiry in log terms from the reply to {@linkcode
 * watchedExpiriesRequest}: undefined for a key without one (or absent), 0 for
 * one the log has already expired; undefined as a whole when the reply is not
 * what was asked (the rack could not answer).
 */
export function watchedExpiries(
  reply: Uint8Array,
  count: number,
): (number | undefined)[] | undefined {
  if (isErrorFrame(reply)) return undefined;
  let items: Uint8Array[] | null;
  try {
    items = arrayItems(reply);
  } catch {
    return undefined;
  }
  if (items === null || items.length !== count) return undefined;
  const values: (number | undefined)[] = [];
  for (const item of items) {
    if (item[0] !== 58 /* : */) return undefined;
    const stored = Number(new TextDecoder().decode(item.subarray(1, item.length - 2)));
    if (!Number.isSafeInteger(stored)) return undefined;
    values.push(stored < 0 ? undefined : stored < EXPIRY_SHIFT_MS ? 0 : stored - EXPIRY_SHIFT_MS);
  }
  return values;
}
