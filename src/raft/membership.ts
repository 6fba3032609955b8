/**
 * A node's membership as its log defines it. A conf entry takes effect as
 * soon as it is in the log, committed or not (Raft dissertation §4.1), so the
 * membership follows appends and reverts when a conflicting suffix is
 * truncated. It keeps a base (the membership at or before the commit index)
 * and the conf entries after it.
 */

import { applyConfChange, copyConf, decodeConfChange } from "./confchange.ts";
import type { ConfState, Entry, NodeId } from "./types.ts";

interface ConfAt {
  index: number;
  conf: ConfState;
}

/** The membership of one node's log, index by index. */
export class Membership {
  #base: ConfAt;
  #later: ConfAt[] = [];

  /** Starts from `conf`, in effect at `index`. */
  constructor(conf: ConfState, index: number) {
    this.#base = { index, conf: copyConf(conf) };
  }

  /** The membership in effect (the latest conf entry's). Do not mutate. */
  get conf(): ConfState {
    return this.#latest().conf;
  }

  /** The index of the latest conf entry (or of the base). */
  get index(): number {
    return this.#latest().index;
  }

  /** The membership no truncation can undo (at or below the commit index once settled). Do not mutate. */
  get settled(): ConfState {
    return this.#base.conf;
  }

  /** True when conf entries after the settled membership are in effect. */
  get pending(): boolean {
    return this.#later.length > 0;
  }

  /** True when `id` votes. */
  isVoter(id: NodeId): boolean {
    return this.conf.voters.includes(id);
  }

  /** True when `id` is a learner. */
  isLearner(id: NodeId): boolean {
    return this.conf.learners.includes(id);
  }

  /** Takes the conf entries among newly appended `entries` into effect; true if any. */
  observe(entries: readonly Entry[]): boolean {
    let changed = false;
    for (const entry of entries) {
      if (entry.type !== "conf") continue;
      const latest = this.#latest();
      if (entry.index <= latest.index) {
        throw new Error(`Conf entry "${entry.index}" is not after "${latest.index}"`);
      }
      this.#later.push({
        index: entry.index,
        conf: applyConfChange(latest.conf, decodeConfChange(entry.data)),
      });
      changed = true;
    }
    return changed;
  }

  /** Reverts the conf entries at or after `index` (truncated from the log); true if any. */
  truncateFrom(index: number): boolean {
    if (index <= this.#base.index) {
      throw new Error(
        `Truncating at "${index}" reaches the settled membership at "${this.#base.index}"`,
      );
    }
    let changed = false;
    while (this.#later.length > 0 && this.#later[this.#later.length - 1]!.index >= index) {
      this.#later.pop();
      changed = true;
    }
    return changed;
  }

  /** Folds conf entries at or below the commit index into the base: they never revert. */
  settle(committed: number): void {
    while (this.#later.length > 0 && this.#later[0]!.index <= committed) {
      this.#base = this.#later.shift()!;
    }
  }

  /** Replaces everything with a snapshot's membership at `index`. */
  restore(conf: ConfState, index: number): void {
    this.#base = { index, conf: copyConf(conf) };
    this.#later = [];
  }

  #latest(): ConfAt {
    return this.#later[this.#later.length - 1] ?? this.#base;
  }
}
