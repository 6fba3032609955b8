/**
 * The Raft safety properties (paper Figure 3), checked from what the
 * simulation sees nodes do: which node leads which term, what each one
 * persists, commits and applies. Every check throws a
 * {@linkcode SafetyViolation} naming the property and the evidence.
 *
 * - Election safety: at most one leader per term.
 * - Log matching: an entry is identified by (index, term); the same id must
 *   always carry the same content and follow the same (index - 1, term) —
 *   which, by induction, makes every log with it identical up to it. Checked
 *   on every entry written to any durable log.
 * - Leader completeness: when a node becomes leader, its log holds every entry
 *   known to be committed.
 * - State-machine safety: no two nodes apply different entries at one index,
 *   and every snapshot's state equals what applying the log gave.
 */

import type { NodeId } from "../types.ts";

/** A broken safety property. */
export class SafetyViolation extends Error {
  override name = "SafetyViolation";
}

interface EntryFacts {
  key: string;
  prevTerm: number;
}

interface CommittedFacts {
  term: number;
  key: string;
}

/** Remembers what every node did and throws when two things disagree. */
export class SafetyChecker {
  #leaderOfTerm = new Map<number, NodeId>();
  #entries = new Map<string, EntryFacts>();
  #committed: (CommittedFacts | undefined)[] = [];
  #committedMax = 0;
  #appliedKey: (string | undefined)[] = [];
  #digestAt: (number | undefined)[] = [0];

  /** The highest index known to be committed. */
  get committedMax(): number {
    return this.#committedMax;
  }

  /** How many terms had a leader. */
  get leaderTerms(): number {
    return this.#leaderOfTerm.size;
  }

  /** `id` is a leader in `term`. */
  leader(term: number, id: NodeId): void {
    const known = this.#leaderOfTerm.get(term);
    if (known === undefined) this.#leaderOfTerm.set(term, id);
    else if (known !== id) {
      throw new SafetyViolation(`election safety: "${known}" and "${id}" both led term ${term}`);
    }
  }

  /** `node` wrote entry (`index`, `term`) with content `key` after an entry of `prevTerm`. */
  persisted(node: NodeId, index: number, term: number, key: string, prevTerm: number): void {
    const id = `${index}/${term}`;
    const known = this.#entries.get(id);
    if (known === undefined) {
      this.#entries.set(id, { key, prevTerm });
      return;
    }
    if (known.key !== key) {
      throw new SafetyViolation(
        `log matching: "${node}" wrote entry ${term}/${index} as "${key}", elsewhere it is "${known.key}"`,
      );
    }
    if (known.prevTerm !== prevTerm) {
      throw new SafetyViolation(
        `log matching: "${node}" has entry ${term}/${index} after term ${prevTerm}, elsewhere after term ${known.prevTerm}`,
      );
    }
  }

  /** `node` holds entry `index` with `term` and `key` as committed. */
  committed(node: NodeId, index: number, term: number, key: string): void {
    const known = this.#committed[index];
    if (known === undefined) {
      this.#committed[index] = { term, key };
      if (index > this.#committedMax) this.#committedMax = index;
      return;
    }
    if (known.term !== term || known.key !== key) {
      throw new SafetyViolation(
        `committed entry ${index}: "${node}" has ${term} "${key}", elsewhere ${known.term} "${known.key}"`,
      );
    }
  }

  /** `node` holds a snapshot ending at (`index`, `term`): that entry must be the committed one. */
  snapshotTerm(node: NodeId, index: number, term: number): void {
    const known = this.#committed[index];
    if (known !== undefined && known.term !== term) {
      throw new SafetyViolation(
        `snapshot of "${node}" ends at ${term}/${index}, the committed entry has term ${known.term}`,
      );
    }
  }

  /**
   * `node` became leader; `termAt(i)` is the term of its entry `i` (undefined
   * past its log), for every `i` from `firstIndex - 1`.
   */
  becameLeader(
    node: NodeId,
    firstIndex: number,
    termAt: (index: number) => number | undefined,
  ): void {
    for (let index = Math.max(1, firstIndex - 1); index <= this.#committedMax; index++) {
      const known = this.#committed[index];
      if (known === undefined) continue;
      const term = termAt(index);
      if (term !== known.term) {
        throw new SafetyViolation(
          `leader completeness: new leader "${node}" has ${
            term === undefined ? "no entry" : `term ${term}`
          } at committed index ${index} (term ${known.term})`,
        );
      }
    }
  }

  /** `node` applied entry `index` with content `key` (term included), reaching state `digest`. */
  applied(node: NodeId, index: number, key: string, digest: number): void {
    const known = this.#appliedKey[index];
    if (known === undefined) this.#appliedKey[index] = key;
    else if (known !== key) {
      throw new SafetyViolation(
        `state-machine safety: "${node}" applied "${key}" at ${index}, another node applied "${known}"`,
      );
    }
    this.stateAt(node, index, digest);
  }

  /** `node`'s state machine is `digest` after index `index` (applied, or restored from a snapshot). */
  stateAt(node: NodeId, index: number, digest: number): void {
    const known = this.#digestAt[index];
    if (known === undefined) this.#digestAt[index] = digest;
    else if (known !== digest) {
      throw new SafetyViolation(
        `state-machine safety: "${node}" has state ${digest} at ${index}, another node had ${known}`,
      );
    }
  }
}
