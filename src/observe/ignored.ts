/**
 * Errors Pylon deliberately carries on after (a best-effort store, a stale
 * bound, a close that failed): each kind is counted for `PYLON INFO` and
 * logged once, so nothing is swallowed silently and a log is not flooded.
 */

import { getLogger } from "@logtape/logtape";

const log = getLogger(["pylon"]);

const counts = new Map<string, number>();

/** Records an error of `kind` that Pylon carries on after. */
export function ignored(kind: string, error: unknown): void {
  const seen = counts.get(kind) ?? 0;
  counts.set(kind, seen + 1);
  if (seen === 0) {
    log.warning(`${kind} failed (counted as ignored_errors_${kind}; logged once): {error}`, {
      error: error instanceof Error ? error.message : String(error),
    });
  }
}

/** Counts by kind, for `PYLON INFO`. */
export function ignoredCounts(): [string, number][] {
  return [...counts].sort(([a], [b]) => a.localeCompare(b));
}
