/**
 * Rack conditions, counted: each time a partition's applier pauses (or
 * halts) because of this rack's Redis rather than an op — out of memory, a
 * read-only replica, a setting outside the world's contract, a script killed
 * here — for `PYLON INFO` (section `Rack conditions`) and `/metrics`
 * (`pylon_rack_conditions_total{reason}`).
 */

import client from "prom-client";
import { registry } from "./metrics.ts";

const counter = new client.Counter({
  name: "pylon_rack_conditions_total",
  help: "Times this node's applier paused or halted for a condition of its rack's Redis, by reason",
  labelNames: ["reason"] as const,
  registers: [registry],
});

const counts = new Map<string, number>();

/** The short reason of a condition's text: Redis's error prefix, or the setting named first. */
export function conditionReason(text: string): string {
  const setting = /does not meet the world's contract: ([a-z][a-z_ -]*?) is '/.exec(text)?.[1];
  if (setting !== undefined) return `contract_${setting.replaceAll(/[- ]/g, "_")}`;
  if (/Script killed by user/.test(text)) return "script_killed";
  if (/retention/.test(text)) return "retention";
  const prefix = /^(?:.*?: )?([A-Z]{3,})\b/.exec(text)?.[1];
  return prefix === undefined ? "other" : prefix.toLowerCase();
}

/** Counts one pause or halt for `reason`. */
export function rackConditionMet(reason: string): void {
  counts.set(reason, (counts.get(reason) ?? 0) + 1);
  counter.inc({ reason });
}

/** Counts by reason, for `PYLON INFO`. */
export function rackConditionCounts(): [string, number][] {
  return [...counts].sort(([a], [b]) => a.localeCompare(b));
}
