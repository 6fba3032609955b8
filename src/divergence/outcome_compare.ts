/**
 * Comparing this rack's outcome log of a partition with another rack's
 * summary of it: every window both saw whole, from where the last
 * comparison with that rack stopped, then the other rack's last op where
 * this rack has it (so a difference shows before its window is complete).
 * Pure.
 */

import type { ChainPoint, OutcomeLog } from "./outcome_log.ts";
import type { PartitionSummary, WindowAsk } from "./wire.ts";

/** Window hashes asked for at most per partition and request. */
export const WINDOWS_PER_ASK = 1_024;

/** Where two racks' outcomes first differ, as far as the summaries tell. */
export interface Mismatch {
  window: number;
  /** The last offset known to differ (the window's last, or the other rack's last op). */
  upTo: number;
}

/** What one comparison found. */
export interface Comparison {
  /** Windows found equal, and windows one side does not hold (seen in part, or long gone). */
  windowsCompared: number;
  windowsSkipped: number;
  /** Whether the other rack's last op was compared (and found equal). */
  pointCompared: boolean;
  mismatch: Mismatch | undefined;
  /** The window to ask from next time. */
  cursor: number;
}

/** The first window to compare with a rack not compared before: the first this rack holds. */
export function firstCursor(mine: OutcomeLog | undefined): number {
  return mine?.firstWindow() ?? (mine === undefined ? 0 : mine.lastWindow() + 1);
}

/**
 * What to ask another rack for, from `cursor`: the windows this rack has
 * whole since, and the chain at this rack's last op (compared here when the
 * other rack is ahead, as the rack that applies second usually is).
 */
export function windowAsk(mine: OutcomeLog | undefined, cursor: number): WindowAsk {
  const count = mine === undefined ? 0 : Math.max(0, mine.lastWindow() - cursor + 1);
  return {
    fromWindow: cursor,
    count: Math.min(count, WINDOWS_PER_ASK),
    at: mine?.latest()?.offset,
  };
}

/** What this rack answers to `ask`: its last op's chain, and the chain at the asked op. */
export function pointsFor(mine: OutcomeLog | undefined, ask: WindowAsk): ChainPoint[] {
  const points: ChainPoint[] = [];
  const latest = mine?.latest();
  if (latest !== undefined) points.push(latest);
  const chain = ask.at === undefined ? undefined : mine?.chainAt(ask.at);
  if (chain !== undefined && ask.at !== latest?.offset) points.push({ offset: ask.at!, chain });
  return points;
}

/** Compares `theirs` with `mine` from window `cursor`. */
export function compareSummary(
  mine: OutcomeLog,
  cursor: number,
  theirs: PartitionSummary,
): Comparison {
  const W = mine.bounds.windowOps;
  let windowsCompared = 0;
  let windowsSkipped = 0;
  const end = Math.min(mine.lastWindow(), theirs.fromWindow + theirs.windows.length - 1);
  for (let k = Math.max(cursor, theirs.fromWindow); k <= end; k++) {
    const a = mine.window(k);
    const b = theirs.windows[k - theirs.fromWindow];
    if (a === undefined || b === undefined) {
      windowsSkipped++;
    } else if (a !== b) {
      return {
        windowsCompared,
        windowsSkipped,
        pointCompared: false,
        mismatch: { window: k, upTo: (k + 1) * W - 1 },
        cursor: k,
      };
    } else {
      windowsCompared++;
    }
  }
  const cursorNext = Math.max(cursor, end + 1);
  let pointCompared = false;
  // The earliest point that differs names the smaller range.
  for (const point of [...theirs.points].sort((a, b) => a.offset - b.offset)) {
    const chain = mine.chainAt(point.offset);
    if (chain === undefined) continue;
    if (chain !== point.chain) {
      return {
        windowsCompared,
        windowsSkipped,
        pointCompared,
        mismatch: { window: Math.floor(point.offset / W), upTo: point.offset },
        cursor: cursorNext,
      };
    }
    pointCompared = true;
  }
  return {
    windowsCompared,
    windowsSkipped,
    pointCompared,
    mismatch: undefined,
    cursor: cursorNext,
  };
}
