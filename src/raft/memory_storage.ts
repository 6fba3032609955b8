/**
 * Raft storage in memory: the {@linkcode RaftStorage} read contract plus the
 * writes a driver makes from Ready bundles. The simulation uses one per node
 * as that node's "disk"; tests use it everywhere.
 *
 * The log is kept after a compaction point (`firstIndex() - 1`, whose term is
 * remembered). `createSnapshot()` records a snapshot and keeps the log;
 * `compact(index)` drops entries up to `index`, which the snapshot must cover,
 * so the compaction point is at or below `snapshot().index` and a leader can
 * always send a snapshot that reaches its first entry. `applySnapshot()` (a
 * snapshot received from the leader) empties the log.
 *
 * `initialState().conf` is the snapshot's membership; conf entries after the
 * snapshot are in the log and the core replays them. An initial member of a
 * group starts from {@linkcode MemoryStorage.bootstrap}; a node that joins
 * later from `new MemoryStorage()`. (`new MemoryStorage(conf)` gives a
 * membership that is not in any log: fine for tests of a fixed group, wrong
 * for a group that adds nodes, which could not learn it.)
 */

import { BOOTSTRAP_TERM, bootstrapEntries, copyConf } from "./confchange.ts";
import {
  CompactedError,
  type ConfState,
  type DurableStorage,
  type Entry,
  type HardState,
  type Snapshot,
  UnavailableError,
} from "./types.ts";

/** In-memory Raft storage. */
export class MemoryStorage implements DurableStorage {
  #hardState: HardState = { term: 0, vote: "", commit: 0 };
  #snapshot: Snapshot;
  /** The compaction point: the index before the first entry. */
  #offset = 0;
  #offsetTerm = 0;
  /** `#entries[i]` has index `#offset + 1 + i`. */
  #entries: Entry[] = [];

  /**
   * The disk of an initial member of a new group with membership `conf` (see
   * `bootstrapEntries`): `storage`, which must be empty, or a new one.
   */
  static bootstrap<T extends MemoryStorage>(conf: ConfState, storage: T): T;
  static bootstrap(conf: ConfState): MemoryStorage;
  static bootstrap(conf: ConfState, storage = new MemoryStorage()): MemoryStorage {
    if (storage.lastIndex() !== 0) {
      throw new RangeError("Only an empty storage can be bootstrapped");
    }
    const entries = bootstrapEntries(conf);
    storage.append(entries);
    storage.setHardState({ term: BOOTSTRAP_TERM, vote: "", commit: entries.length });
    return storage;
  }

  /** An empty log whose membership before its first entry is `conf` (empty for a joining node). */
  constructor(conf: ConfState = { voters: [], learners: [] }) {
    this.#snapshot = { index: 0, term: 0, conf: copyConf(conf), data: new Uint8Array(0) };
  }

  initialState(): { hardState: HardState; conf: ConfState } {
    return { hardState: { ...this.#hardState }, conf: copyConf(this.#snapshot.conf) };
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo <= this.#offset) {
      throw new CompactedError(`Entry "${lo}" is compacted (first index "${this.#offset + 1}")`);
    }
    if (hi > this.lastIndex() + 1) {
      throw new UnavailableError(`Entry "${hi - 1}" is past the last index "${this.lastIndex()}"`);
    }
    const out: Entry[] = [];
    let bytes = 0;
    for (let index = lo; index < hi; index++) {
      const entry = this.#entries[index - this.#offset - 1]!;
      if (out.length > 0 && bytes + entry.data.length > maxBytes) break;
      out.push(entry);
      bytes += entry.data.length;
    }
    return out;
  }

  term(index: number): number {
    if (index === this.#offset) return this.#offsetTerm;
    if (index < this.#offset) throw new CompactedError(`Entry "${index}" is compacted`);
    const entry = this.#entries[index - this.#offset - 1];
    if (entry === undefined) {
      throw new UnavailableError(`Entry "${index}" is past the last index "${this.lastIndex()}"`);
    }
    return entry.term;
  }

  firstIndex(): number {
    return this.#offset + 1;
  }

  lastIndex(): number {
    return this.#offset + this.#entries.length;
  }

  snapshot(): Snapshot {
    return this.#snapshot;
  }

  /** The stored hard state (a copy). */
  hardState(): HardState {
    return { ...this.#hardState };
  }

  /** Stores the hard state. */
  setHardState(hardState: HardState): void {
    this.#hardState = { ...hardState };
  }

  /**
   * Appends `entries` (contiguous, starting at most one past the end),
   * truncating whatever they replace; entries at or below the compaction
   * point are skipped.
   */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    if (first.index > this.lastIndex() + 1) {
      throw new RangeError(
        `Appending at "${first.index}" leaves a gap after "${this.lastIndex()}"`,
      );
    }
    const skip = Math.max(0, this.#offset + 1 - first.index);
    if (skip >= entries.length) return;
    const start = first.index + skip;
    this.#entries.length = start - this.#offset - 1;
    for (let i = skip; i < entries.length; i++) this.#entries.push(entries[i]!);
  }

  /** Replaces the log with a snapshot received from the leader. */
  applySnapshot(snapshot: Snapshot): void {
    if (snapshot.index <= this.#snapshot.index) {
      throw new RangeError(
        `Snapshot "${snapshot.index}" is not newer than the stored "${this.#snapshot.index}"`,
      );
    }
    this.#snapshot = { ...snapshot, conf: copyConf(snapshot.conf) };
    this.#offset = snapshot.index;
    this.#offsetTerm = snapshot.term;
    this.#entries = [];
  }

  /** Records a snapshot of the state machine at `index` (applied there) with membership `conf`. */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.#snapshot.index) {
      throw new RangeError(
        `Snapshot "${index}" is not newer than the stored "${this.#snapshot.index}"`,
      );
    }
    if (index > this.lastIndex()) {
      throw new UnavailableError(
        `Snapshot "${index}" is past the last index "${this.lastIndex()}"`,
      );
    }
    this.#snapshot = { index, term: this.term(index), conf: copyConf(conf), data };
    return this.#snapshot;
  }

  /** Persists a Ready bundle as {@linkcode FileStorage.save} does: snapshot, entries, hard state. */
  save(
    hardState: HardState | undefined,
    entries: Entry[],
    snapshot: Snapshot | undefined,
  ): Promise<void> {
    try {
      if (snapshot !== undefined) this.applySnapshot(snapshot);
      this.append(entries);
      if (hardState !== undefined) this.setHardState(hardState);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Nothing to release: the "disk" is this object. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Drops entries up to `index`, which the snapshot must cover. */
  compact(index: number): void {
    if (index <= this.#offset) return;
    if (index > this.#snapshot.index) {
      throw new RangeError(
        `Compacting to "${index}" passes the snapshot at "${this.#snapshot.index}"`,
      );
    }
    const term = this.term(index);
    this.#entries = this.#entries.slice(index - this.#offset);
    this.#offset = index;
    this.#offsetTerm = term;
  }
}
