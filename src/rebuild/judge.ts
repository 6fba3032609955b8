/**
 * Never a partial history: whether a rack's Redis can be applied to from
 * what the log still holds, decided when an applier session begins (pure).
 *
 * A Redis lacks ops the log no longer holds when it is empty (or lost its
 * positions) while the log no longer starts at offset 0, when it holds data
 * but no marker while the log no longer starts at 0, when its position is
 * older than the log's first op (behind retention), or when a rebuild was
 * loading it and did not finish. Such a Redis is never applied to from a
 * later op and never serves reads: it is rebuilt from a peer rack's
 * snapshot (src/rebuild/rebuilder.ts). An empty Redis while the log still
 * starts at 0 is simply replayed from the log.
 */

import type { LogBounds } from "../log/op_log.ts";

/** What the marker check found (src/identity/rack_marker.ts), as the decision needs it. */
export type FoundRedis =
  | { kind: "marked" | "claimed" | "empty" }
  | { kind: "unmarked"; reason: string }
  | { kind: "unfinished"; rebuild: string };

/** Where a session may start, or why it may not. */
export type StartVerdict =
  | { kind: "apply"; from: number }
  /** This Redis lacks ops the log no longer holds: rebuild it from a peer. */
  | { kind: "rebuild"; reason: string }
  /** Data Pylon knows nothing of while the whole log is there: refused as before (identity). */
  | { kind: "refuse"; reason: string };

/** The facts of one partition at the start of a session. */
export interface StartFacts {
  partition: number;
  found: FoundRedis;
  /** The position stored in the Redis (undefined: none, or not a number). */
  stored: number | undefined;
  /** This partition's log bounds. */
  bounds: LogBounds;
  /** Whether any partition's log no longer starts at offset 0. */
  logTrimmed: boolean;
}

/** Decides where a partition's applier starts, or that the rack needs a rebuild. */
export function judgeStart(facts: StartFacts): StartVerdict {
  const { partition, found, stored, bounds, logTrimmed } = facts;
  if (found.kind === "unfinished") {
    return {
      kind: "rebuild",
      reason: `a rebuild did not finish loading this Redis (${found.rebuild}); it lacks data`,
    };
  }
  if (found.kind === "unmarked") {
    return logTrimmed
      ? {
        kind: "rebuild",
        reason: "it holds data but no Pylon marker, and the log no longer holds every op " +
          "(its start was removed), so the log cannot rebuild it",
      }
      : { kind: "refuse", reason: found.reason };
  }
  if (stored === undefined) {
    if (bounds.start === 0) return { kind: "apply", from: 0 };
    return {
      kind: "rebuild",
      reason: `it holds no position for partition ${partition} (empty, or its metadata lost) ` +
        `and the log no longer holds that partition's first ${bounds.start} ops`,
    };
  }
  if (stored < bounds.start) {
    return {
      kind: "rebuild",
      reason: `partition ${partition} is applied up to ${stored} but the log now starts at ` +
        `${bounds.start}: this rack fell behind the log's retention`,
    };
  }
  return { kind: "apply", from: stored };
}

/**
 * The rack's Redis lacks ops the log no longer holds: the applier does not
 * apply (its partition's state is `rebuild`) until a rebuild replaced it.
 */
export class NeedsRebuild extends Error {
  override name = "NeedsRebuild";
  /** Why, without the prefix. */
  readonly reason: string;

  constructor(reason: string) {
    super(`the rack's Redis needs a rebuild from a peer rack: ${reason}`);
    this.reason = reason;
  }
}

/** Whether any of `bounds` no longer starts at offset 0. */
export function trimmed(bounds: readonly LogBounds[]): boolean {
  return bounds.some((b) => b.start > 0);
}
