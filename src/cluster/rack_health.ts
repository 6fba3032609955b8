/**
 * What this node's rack can do right now, the one place that decides it: on
 * the rack leader from its own applier, on the other nodes from the flags the
 * leader sends in every probe answer. A rack serves reads while its Redis
 * answers and has applied (nearly) all of the log; it applies while its
 * leader's applier is not failing or paused by a rack condition.
 */

import type { PartitionStatus } from "../applier/applier.ts";
import { PeerFlags } from "./peer_server.ts";

/** What this rack can do right now. */
export interface RackHealth {
  /** Its Redis is reachable and has applied (nearly) all of the log. */
  servesReads(): boolean;
  /** This node's rack applies the log to a reachable Redis. */
  applies(): boolean;
  /** Its Redis lacks ops the log no longer holds (src/rebuild/): never read from it. */
  lacksData(): boolean;
}

/** What the health is judged from; functions, since it changes all the time. */
export interface HealthSources {
  /** Whether this node reaches the rack's Redis master. */
  redisReachable(): boolean;
  /** This node's applier's partitions, when it leads the rack; undefined otherwise. */
  applier(): readonly Readonly<PartitionStatus>[] | undefined;
  /** The flags the rack leader last sent (0 when unknown or when this node leads). */
  leaderFlags(): number;
  /** Whether this node, leading the rack, is rebuilding its Redis (src/rebuild/rebuilder.ts). */
  rebuilding?(): boolean;
}

/**
 * Whether a partition's applier can apply now (not paused by a rack condition, not failing, not
 * halted for a rack condition or because the rack diverged from the world).
 */
export function isWorking(state: PartitionStatus["state"]): boolean {
  return state !== "error" && state !== "paused" && state !== "halted" && state !== "diverged" &&
    state !== "rebuild";
}

/** The rack's health, judged from `sources`. */
export function rackHealth(sources: HealthSources): RackHealth {
  return {
    // A rack catching up (new, emptied, back from an outage) sends its reads to other racks.
    servesReads: () => {
      if (!sources.redisReachable()) return false;
      const partitions = sources.applier();
      return partitions !== undefined
        ? partitions.every((p) => isWorking(p.state) && !p.catchingUp)
        : (sources.leaderFlags() & PeerFlags.servesReads) !== 0;
    },
    applies: () => {
      const partitions = sources.applier();
      return partitions !== undefined
        ? sources.redisReachable() && partitions.every((p) => isWorking(p.state))
        : (sources.leaderFlags() & PeerFlags.applies) !== 0;
    },
    lacksData: () => {
      if (sources.rebuilding?.() === true) return true;
      const partitions = sources.applier();
      return partitions !== undefined
        ? partitions.some((p) => p.state === "rebuild")
        : (sources.leaderFlags() & PeerFlags.lacksData) !== 0;
    },
  };
}
