/**
 * The core's view of its log: what stable storage holds, overlaid with what
 * the core has appended (or the snapshot it has received) but the driver has
 * not yet persisted — the "unstable" part, handed out in Ready bundles and
 * dropped from here once `advance()` says it is stable. Also the commit and
 * applied indexes.
 *
 * Layout: storage holds (firstIndex - 1, storage.lastIndex()]; the unstable
 * entries start at `#offset` and win over storage from there (a conflicting
 * suffix in storage is truncated when they are persisted). A received
 * snapshot replaces everything until it is persisted.
 */

import {
  CompactedError,
  type Entry,
  type RaftStorage,
  type Snapshot,
  UnavailableError,
} from "./types.ts";

/** The log of one node: storage plus not-yet-persisted entries. */
export class RaftLog {
  readonly storage: RaftStorage;
  #snapshot: Snapshot | undefined;
  #entries: Entry[] = [];
  /** Index of `#entries[0]`. */
  #offset: number;
  #committed: number;
  #applied: number;

  constructor(storage: RaftStorage) {
    this.storage = storage;
    this.#offset = storage.lastIndex() + 1;
    this.#committed = storage.firstIndex() - 1;
    this.#applied = this.#committed;
  }

  /** The highest index known to be committed. */
  get committed(): number {
    return this.#committed;
  }

  /** The highest index the state machine has applied. */
  get applied(): number {
    return this.#applied;
  }

  /** A received snapshot not yet persisted. */
  get unstableSnapshot(): Snapshot | undefined {
    return this.#snapshot;
  }

  /** Sets both indexes at start-up (from the stored hard state and the application). */
  restoreIndexes(committed: number, applied: number): void {
    const first = this.firstIndex();
    const last = this.lastIndex();
    if (committed < first - 1 || committed > last) {
      throw new RangeError(
        `Commit index "${committed}" is outside the log [${first - 1}, ${last}]`,
      );
    }
    if (applied < first - 1 || applied > committed) {
      throw new RangeError(`Applied index "${applied}" is outside [${first - 1}, ${committed}]`);
    }
    this.#committed = committed;
    this.#applied = applied;
  }

  /** The first index still in the log. */
  firstIndex(): number {
    return this.#snapshot ? this.#snapshot.index + 1 : this.storage.firstIndex();
  }

  /** The last index in the log. */
  lastIndex(): number {
    if (this.#entries.length > 0) return this.#offset + this.#entries.length - 1;
    if (this.#snapshot) return this.#snapshot.index;
    return this.storage.lastIndex();
  }

  /** The term of entry `index`; throws {@linkcode CompactedError} or {@linkcode UnavailableError}. */
  term(index: number): number {
    if (this.#entries.length > 0 && index >= this.#offset) {
      const entry = this.#entries[index - this.#offset];
      if (entry) return entry.term;
      throw new UnavailableError(`Entry "${index}" is past the last index "${this.lastIndex()}"`);
    }
    if (this.#snapshot) {
      if (index === this.#snapshot.index) return this.#snapshot.term;
      if (index < this.#snapshot.index) {
        throw new CompactedError(`Entry "${index}" is covered by the snapshot`);
      }
      throw new UnavailableError(`Entry "${index}" is past the last index "${this.lastIndex()}"`);
    }
    return this.storage.term(index);
  }

  /** The term of the last entry. */
  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  /** True when entry `index` exists (or is the compaction point) with `term`. */
  matchTerm(index: number, term: number): boolean {
    const found = this.#termOrUndefined(index);
    return found !== undefined && found === term;
  }

  /** The term of `index`, or 0 when it is compacted or past the end. */
  termOrZero(index: number): number {
    return this.#termOrUndefined(index) ?? 0;
  }

  /** Raft §5.4.1: a log ending at (`lastIndex`, `lastTerm`) is at least as up to date as this one. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ownTerm = this.lastTerm();
    return lastTerm > ownTerm || (lastTerm === ownTerm && lastIndex >= this.lastIndex());
  }

  /** The index of the first of `entries` that is new or conflicts with this log; 0 if none. */
  findConflict(entries: readonly Entry[]): number {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  /**
   * The highest index at or below `index` whose term is at most `term` (or
   * where the log's readable part ends): the conflict hint of etcd's raft,
   * which lets a leader skip a whole term of mismatched entries at once.
   */
  findConflictByTerm(index: number, term: number): number {
    for (let at = index; at > 0; at--) {
      const found = this.#termOrUndefined(at);
      if (found === undefined || found <= term) return at;
    }
    return 0;
  }

  /**
   * Appends `entries` (contiguous, starting at most one past the end),
   * dropping any suffix they replace; nothing at or below the commit index
   * may be replaced. Returns the new last index.
   */
  append(entries: readonly Entry[]): number {
    const first = entries[0];
    if (first === undefined) return this.lastIndex();
    if (first.index <= this.#committed) {
      throw new RangeError(
        `Appending at "${first.index}" would replace committed entries (commit "${this.#committed}")`,
      );
    }
    if (first.index > this.lastIndex() + 1) {
      throw new RangeError(
        `Appending at "${first.index}" leaves a gap after "${this.lastIndex()}"`,
      );
    }
    const end = this.#offset + this.#entries.length;
    if (first.index === end) {
      for (const entry of entries) this.#entries.push(entry);
    } else if (first.index <= this.#offset) {
      this.#offset = first.index;
      this.#entries = entries.slice();
    } else {
      this.#entries = this.#entries.slice(0, first.index - this.#offset);
      for (const entry of entries) this.#entries.push(entry);
    }
    return this.lastIndex();
  }

  /** Entries from `lo` to the end, at least one, then up to about `maxBytes` of data. */
  entriesFrom(lo: number, maxBytes: number): Entry[] {
    const last = this.lastIndex();
    if (lo > last) return [];
    return this.slice(lo, last + 1, maxBytes);
  }

  /**
   * Entries [lo, hi): at least one if lo < hi, then up to about `maxBytes`
   * of data. Throws {@linkcode CompactedError} when `lo` is compacted.
   */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo >= hi) return [];
    const first = this.firstIndex();
    if (lo < first) throw new CompactedError(`Entry "${lo}" is compacted (first index "${first}")`);
    const last = this.lastIndex();
    if (hi > last + 1) {
      throw new UnavailableError(`Entry "${hi - 1}" is past the last index "${last}"`);
    }
    let out: Entry[] = [];
    let bytes = 0;
    if (lo < this.#offset) {
      const storedHi = Math.min(hi, this.#offset);
      out = this.storage.entries(lo, storedHi, maxBytes);
      if (out.length < storedHi - lo || hi <= this.#offset) return out;
      for (const entry of out) bytes += entry.data.length;
    }
    for (let index = Math.max(lo, this.#offset); index < hi; index++) {
      const entry = this.#entries[index - this.#offset]!;
      if (out.length > 0 && bytes + entry.data.length > maxBytes) break;
      out.push(entry);
      bytes += entry.data.length;
    }
    return out;
  }

  /** True when there are entries to persist. */
  hasUnstableEntries(): boolean {
    return this.#entries.length > 0;
  }

  /** The entries to persist (a copy). */
  unstableEntries(): Entry[] {
    return this.#entries.slice();
  }

  /** The latest snapshot: the received one if not yet persisted, else storage's. */
  snapshot(): Snapshot {
    return this.#snapshot ?? this.storage.snapshot();
  }

  /** True when committed entries wait to be applied (none while a snapshot waits). */
  hasNextCommitted(): boolean {
    return this.#snapshot === undefined && this.#committed > this.#applied;
  }

  /** Committed entries not yet applied, at least one, then up to about `maxBytes`. */
  nextCommitted(maxBytes: number): Entry[] {
    if (!this.hasNextCommitted()) return [];
    return this.slice(this.#applied + 1, this.#committed + 1, maxBytes);
  }

  /** Moves the commit index up to `index` (never down); false if it did not move. */
  commitTo(index: number): boolean {
    if (index <= this.#committed) return false;
    const last = this.lastIndex();
    if (index > last) {
      throw new RangeError(`Commit index "${index}" is past the last index "${last}"`);
    }
    this.#committed = index;
    return true;
  }

  /** The state machine has applied up to `index`. */
  appliedTo(index: number): void {
    if (index < this.#applied || index > this.#committed) {
      throw new RangeError(
        `Applied index "${index}" is outside [${this.#applied}, ${this.#committed}]`,
      );
    }
    this.#applied = index;
  }

  /** The driver persisted entries up to `index`, the last of which had `term`. */
  stableTo(index: number, term: number): void {
    const at = index - this.#offset;
    const entry = this.#entries[at];
    // Stale when the entries were replaced after they were handed out.
    if (at < 0 || entry === undefined || entry.term !== term) return;
    this.#entries = this.#entries.slice(at + 1);
    this.#offset = index + 1;
  }

  /** The driver persisted the snapshot at `index`. */
  stableSnapshotTo(index: number): void {
    if (this.#snapshot?.index === index) this.#snapshot = undefined;
  }

  /** Replaces the log with `snapshot` (its index becomes the commit index). */
  restore(snapshot: Snapshot): void {
    if (snapshot.index <= this.#committed) {
      throw new RangeError(
        `Snapshot "${snapshot.index}" is not past the commit index "${this.#committed}"`,
      );
    }
    this.#snapshot = snapshot;
    this.#entries = [];
    this.#offset = snapshot.index + 1;
    this.#committed = snapshot.index;
  }

  #termOrUndefined(index: number): number | undefined {
    try {
      return this.term(index);
    } catch (error) {
      if (error instanceof CompactedError || error instanceof UnavailableError) return undefined;
      throw error;
    }
  }
}
