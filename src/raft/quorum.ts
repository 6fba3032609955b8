/**
 * Majority arithmetic over a set of voters: how many make a quorum, the
 * highest index a quorum has, how an election stands, whether a quorum is
 * active. Pure functions; learners never reach them.
 */

import type { NodeId } from "./types.ts";

/** How many of `count` voters make a majority. */
export function majority(count: number): number {
  return Math.floor(count / 2) + 1;
}

/**
 * The highest index that a majority of `voters` has (their `matchOf` at
 * least that); 0 when there are no voters.
 */
export function committedIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  if (voters.length === 0) return 0;
  const matches = voters.map(matchOf).sort((a, b) => b - a);
  return matches[majority(voters.length) - 1]!;
}

/** Where an election stands. */
export type VoteResult = "won" | "lost" | "pending";

/** The outcome of the votes recorded so far (votes of non-voters do not count). */
export function voteResult(
  voters: readonly NodeId[],
  votes: ReadonlyMap<NodeId, boolean>,
): VoteResult {
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === true) granted++;
    else if (vote === false) rejected++;
  }
  const needed = majority(voters.length);
  if (granted >= needed) return "won";
  if (voters.length - rejected < needed) return "lost";
  return "pending";
}

/** True when a majority of `voters` is active. */
export function hasQuorum(voters: readonly NodeId[], isActive: (id: NodeId) => boolean): boolean {
  let active = 0;
  for (const id of voters) if (isActive(id)) active++;
  return active >= majority(voters.length);
}
