/**
 * Flow control of a snapshot, on the asking side (pure): how many more
 * payload bytes to let the source send. What the source may still send plus
 * what has arrived and is not yet loaded stays within one window — or, while
 * one item (a large key) is longer than the window, within that item plus a
 * chunk, since it can only be loaded whole.
 */

/** Payload bytes a rebuild lets its source send ahead of what it has loaded. */
export const SNAPSHOT_WINDOW_BYTES = 8 * 1024 * 1024;

/** Credit is granted in steps of at least this much (one frame's worth). */
export const CREDIT_STEP_BYTES = 256 * 1024;

/** Where a transfer's flow stands. */
export interface Flow {
  /** Credit granted so far, the first window included. */
  granted: number;
  /** Payload bytes received so far. */
  received: number;
  /** Received bytes not yet loaded (queued, or buffered by the RDB splitter). */
  unconsumed: number;
  /** Bytes the splitter needs buffered before its next item can be loaded. */
  needed: number;
}

/** The credit to grant now (0: none yet). */
export function creditToGrant(
  flow: Flow,
  window = SNAPSHOT_WINDOW_BYTES,
  step = CREDIT_STEP_BYTES,
): number {
  const outstanding = flow.granted - flow.received;
  const allowed = Math.max(window, flow.needed + step);
  const grant = allowed - outstanding - flow.unconsumed;
  if (grant >= step || (grant > 0 && outstanding <= 0)) return grant;
  return 0;
}
