/**
 * What a reload (SIGHUP) can change in a running node, and what only a
 * restart can: the options that tune behaviour take effect at once; those
 * that decide identity, addresses, storage or security wiring are reported by
 * name and kept as they were.
 */

import type { Config } from "./types.ts";

/** Options a running node takes on a reload. */
export const LIVE_OPTIONS = [
  "logLevel",
  "logFormat",
  "writeTimeoutMs",
  "scriptTimeMaxMs",
  "writesInFlightMax",
  "drainTimeoutMs",
  "ackLog",
  "contentious",
  "strongQuorum",
  "clientOutputBufferLimit",
  "clientMemoryBudget",
  "clientsMax",
  "peers",
] as const satisfies readonly (keyof Config)[];

/** One of {@linkcode LIVE_OPTIONS}. */
export type LiveOption = (typeof LIVE_OPTIONS)[number];

/**
 * The options whose values differ between `current` and `next`, split by when
 * they can apply. Peers are re-aimed live only on a node that has peer links;
 * one started without a world takes them at a restart.
 */
export function configChanges(
  current: Config,
  next: Config,
  running: { peerLinks: boolean },
): { live: LiveOption[]; restart: (keyof Config)[] } {
  const live: LiveOption[] = [];
  const restart: (keyof Config)[] = [];
  for (const key of Object.keys(next) as (keyof Config)[]) {
    if (JSON.stringify(current[key]) === JSON.stringify(next[key])) continue;
    const takesLive = (LIVE_OPTIONS as readonly string[]).includes(key) &&
      (key !== "peers" || running.peerLinks);
    if (takesLive) live.push(key as LiveOption);
    else restart.push(key);
  }
  return { live, restart };
}
