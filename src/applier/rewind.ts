/**
 * Going back to just before an op that met a rack condition inside an
 * applied EXEC (batch_plan.ts RackErrorInside): the batch stored the position
 * past that op, so the rack must store the position, log time and last op as
 * they were before it, or it would skip the op for good. The condition is
 * often the rack's memory (a script refused with OOM once the ops before it
 * filled the Redis), which refuses every write, in MULTI or not: so this runs
 * as a script flagged `allow-oom`, atomic like a transaction, and only while
 * the stored position is still the one the batch stored (no other applier
 * moved it). The applier keeps a rewind it could not make and makes it first
 * in its next session.
 */

import { encodeCommand } from "../resp/encoder.ts";
import { lastOpKey, logTimeKey, positionKey } from "../meta_keys.ts";

/** Where a partition goes back to, from the position its batch stored. */
export interface Rewind {
  partition: number;
  metaDb: number;
  /** The position the batch stored (past the failed op). */
  stored: number;
  /** The failed op's offset: the position to store. */
  position: number;
  /** The log time and last op id as they were before the failed op. */
  logTimeMs: number;
  lastOpId: string;
}

/** Stores the rewind's position, log time and last op if the stored position is still `stored`. */
export const REWIND_SCRIPT = [
  "#!lua flags=allow-oom",
  "redis.call('SELECT', ARGV[1])",
  "if redis.call('GET', ARGV[2]) ~= ARGV[3] then return 0 end",
  "redis.call('SET', ARGV[2], ARGV[4])",
  "redis.call('SET', ARGV[5], ARGV[6])",
  "redis.call('SET', ARGV[7], ARGV[8])",
  "return 1",
].join("\n");

/** The EVAL that makes `rewind`: it answers 1 when made, 0 when another applier moved the position. */
export function rewindCommand(rewind: Rewind): Uint8Array {
  const p = rewind.partition;
  return encodeCommand([
    "EVAL",
    REWIND_SCRIPT,
    "0",
    String(rewind.metaDb),
    positionKey(p),
    String(rewind.stored),
    String(rewind.position),
    logTimeKey(p),
    String(rewind.logTimeMs),
    lastOpKey(p),
    rewind.lastOpId,
  ]);
}
