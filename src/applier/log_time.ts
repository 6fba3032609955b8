/**
 * Log time: the clock every rack applies an op by. An op's log time is the
 * largest accept time of the ops up to it in its partition's log, so it never
 * goes back, and it is the same on every rack for the same op, however late
 * or with whatever clock a rack applies it. Whether a key has expired, which
 * id `XADD *` gives, what `TIME` answers in a script: each is decided by the
 * op's log time, never by the applying rack's clock.
 *
 * Each partition's log time is stored in the metadata db beside its position,
 * in the same transaction, so a restarted applier (or a rack rebuilt from a
 * peer) goes on from the same value.
 */

import type { Op } from "../log/op.ts";

/** The log time of each op of a batch, and of the partition after it. */
export function logTimes(
  before: number,
  ops: readonly (Op | undefined)[],
): { times: number[]; after: number } {
  let time = before;
  const times = ops.map((op) => {
    if (op !== undefined && op.acceptedAtMs > time) time = op.acceptedAtMs;
    return time;
  });
  return { times, after: time };
}

/** A stored log time from a GET's reply bytes (`$n\r\n<ms>\r\n`); 0 when there is none. */
export function parseLogTime(payload: Uint8Array | undefined): number {
  if (payload === undefined || payload.length === 0) return 0;
  const value = Number(new TextDecoder().decode(payload));
  return Number.isSafeInteger(value) && value >= 0 ? value : 0;
}
