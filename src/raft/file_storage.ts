/**
 * Durable Raft storage in a directory: a write-ahead log of typed,
 * checksummed records (format in `wal.ts`), snapshot data in files of its
 * own, and an in-memory mirror rebuilt on open that serves every read.
 *
 * Layout of `dir`:
 *
 * ```
 * lock                                  held (flock) while a FileStorage has the directory open
 * wal-<generation>.log                  the WAL; the highest generation is the live one
 * snap-<index>-<term>.snap              data of the snapshot the WAL names (numbers zero-padded to 20 digits)
 * <one of the above>.tmp                a file being written when a crash came; removed on open
 * ```
 *
 * Writes are serialized in call order and each is durable when its promise
 * resolves; reads see a write once it is. A `save()` without a snapshot (the
 * common path: entries and a hard state) is one WAL record: one `write` and
 * one `fdatasync`, or nothing if nothing changed. Writes that drop log
 * entries — a save with a snapshot (`applySnapshot()`) and `compact()` —
 * instead write the whole state to a fresh generation: temp file, fsync,
 * rename, fsync of the directory; then the old generation is removed. Snapshot
 * data is written the same atomic way, before the record that names it
 * (`createSnapshot()`: data file, then one record). A WAL that has grown to
 * {@linkcode REWRITE_GROWTH} times its size after the last rewrite (and at
 * least `rewriteBytesMin`) is rewritten after the write that grew it, so hard
 * states and truncated suffixes do not pile up (amortized: rare, and that one
 * write costs two more fsyncs).
 *
 * Choices:
 * - `applySnapshot()` empties the log (as etcd's MemoryStorage and ours do), even
 *   if the log holds the snapshot's last entry with its term: the core hands
 *   over a snapshot only when its log does not match it (a matching one only
 *   moves commit), and a kept suffix the core has dropped from its own view
 *   would make `lastIndex()` disagree with it.
 * - `createSnapshot()` keeps the log; `compact(index)` drops entries up to
 *   `index`, which must be covered by the snapshot. So "the snapshot index"
 *   of the {@linkcode RaftStorage} contract is, here, the compaction point
 *   (`firstIndex() - 1`): it equals `snapshot().index` after `applySnapshot()`
 *   and after `compact(snapshot().index)`, and is below it between a
 *   `createSnapshot()` and its `compact()` — when the entries in between
 *   are still readable and `term(firstIndex() - 1)` is that of the last
 *   compacted entry. (MemoryStorage does the same; so a slow follower can
 *   still be sent entries rather than a snapshot.)
 * - Membership is derived, not stored by the driver: `initialState().conf`
 *   is the latest snapshot's membership (`createSnapshot()`'s `conf`, or a
 *   received snapshot's), or the `initialConf` the directory was created with
 *   while there is no snapshot. That is the membership in effect at the
 *   snapshot index, which lies in [firstIndex() - 1, commit]; the conf
 *   entries after it are in the log, and the core replays them on top at
 *   start-up (idempotent, see confchange.ts). MemoryStorage does the same, so
 *   one driver serves both; the driver need not persist applied conf changes.
 * - Raft's invariants are checked on every write and on replay (dense
 *   indexes, terms never going down, committed entries never changed, term
 *   and commit never going back, one vote per term); a violation rejects the
 *   write with a RangeError before anything is written.
 *
 * A failed write or fsync leaves the file's contents unknown: the storage
 * then refuses writes until reopened, which recovers from what is on disk.
 * Opening keeps every whole record and cuts a torn or corrupt last record
 * (reported in {@linkcode FileStorage.recovery}); damage before the last whole
 * record, a missing or damaged snapshot file, or records that break Raft's
 * invariants fail the open with {@linkcode FileStorageError}.
 */

import { syncDir, TEMP_SUFFIX, writeAll, writeFileAtomic } from "../storage/files.ts";
import { getLogger } from "@logtape/logtape";
import { dirname, join } from "node:path";
import { crc32c } from "../storage/crc32c.ts";
import { lockDirectory } from "../storage/directory_lock.ts";
import { cutTornTail, type TornTail } from "../storage/torn_tail.ts";
import {
  CompactedError,
  type ConfState,
  type Entry,
  type HardState,
  type RaftStorage,
  type Snapshot,
  UnavailableError,
} from "./types.ts";
import {
  applyItem,
  checkConf,
  checkEntries,
  checkItem,
  checkState,
  cloneState,
  emptyState,
  encodeRecord,
  encodeStateFile,
  lastIndexOf,
  scanWal,
  type SnapshotMeta,
  termAt,
  WalCorruptError,
  type WalItem,
  type WalState,
} from "./wal.ts";

const log = getLogger(["pylon", "raft", "storage"]);

/** Default least WAL size that can trigger a rewrite. */
export const REWRITE_BYTES_MIN_DEFAULT = 4 * 1024 * 1024;
/** The WAL is rewritten once it is this many times its size right after the last rewrite. */
export const REWRITE_GROWTH = 4;

const NUMBER_DIGITS = 20;
const WAL_NAME = /^wal-(\d{20})\.log$/;
const SNAPSHOT_NAME = /^snap-\d{20}-\d{20}\.snap$/;
const EMPTY = new Uint8Array(0);

/** How {@linkcode FileStorage.open} starts a new log and sizes the WAL. */
export interface FileStorageOptions {
  /**
   * Membership of a directory that has no WAL yet (a new group's founding
   * members; empty, the default, for a node that will join). Ignored once the
   * directory holds a log.
   */
  initialConf?: ConfState;
  /** Least WAL size that can trigger a rewrite (default 4 MiB). */
  rewriteBytesMin?: number;
}

/** A torn or corrupt last record that opening cut off the WAL. */
export type RecoveryNote = TornTail;

/** Files that are damaged, foreign or in use elsewhere, or a storage that refuses writes. */
export class FileStorageError extends Error {
  override name = "FileStorageError";
}

/** A snapshot not newer than the one stored (etcd's ErrSnapOutOfDate); a RangeError as MemoryStorage throws. */
export class SnapshotOutOfDateError extends RangeError {
  override name = "SnapshotOutOfDateError";
}

/**
 * {@linkcode RaftStorage} on files, with the writes the driver makes for a
 * Ready bundle. Reads serve from memory and see every write that resolved
 * (none that is still pending). Arrays and objects returned are the caller's;
 * entry and snapshot data are shared and must not be mutated by either side.
 * Entries and snapshot data handed to writes are copied.
 */
export class FileStorage implements RaftStorage {
  readonly dir: string;
  /** What opening cut off a torn tail, if it had to. */
  readonly recovery: RecoveryNote | undefined;
  #state: WalState;
  #snapshotData: Uint8Array;
  #file: Deno.FsFile | null;
  #lock: Deno.FsFile;
  #generation: number;
  #walBytes: number;
  #rewriteBaseBytes: number;
  #rewriteBytesMin: number;
  #fsyncs = 0;
  #rewrites = 0;
  #queue: Promise<void> = Promise.resolve();
  #failure: string | null = null;
  #closing: Promise<void> | null = null;

  private constructor(init: {
    dir: string;
    state: WalState;
    snapshotData: Uint8Array;
    file: Deno.FsFile;
    lock: Deno.FsFile;
    generation: number;
    walBytes: number;
    rewriteBytesMin: number;
    recovery: RecoveryNote | undefined;
    fsyncs: number;
  }) {
    this.dir = init.dir;
    this.#state = init.state;
    this.#snapshotData = init.snapshotData;
    this.#file = init.file;
    this.#lock = init.lock;
    this.#generation = init.generation;
    this.#walBytes = init.walBytes;
    this.#rewriteBaseBytes = init.walBytes;
    this.#rewriteBytesMin = init.rewriteBytesMin;
    this.recovery = init.recovery;
    this.#fsyncs = init.fsyncs;
  }

  /** Opens (creating if needed) the storage in `dir`, recovering from a crash. */
  static async open(dir: string, options: FileStorageOptions = {}): Promise<FileStorage> {
    const rewriteBytesMin = options.rewriteBytesMin ?? REWRITE_BYTES_MIN_DEFAULT;
    if (!Number.isSafeInteger(rewriteBytesMin) || rewriteBytesMin < 1) {
      throw new RangeError(`rewriteBytesMin "${rewriteBytesMin}" must be a positive integer`);
    }
    const lock = await lockDirectory(dir, "The Raft storage");
    let file: Deno.FsFile | null = null;
    try {
      let fsyncs = 0;
      const listing = await listDir(dir);
      for (const name of listing.temporary) await Deno.remove(join(dir, name));
      let generation = listing.generations.at(-1);
      if (generation === undefined) {
        if (listing.snapshots.length > 0) {
          throw new FileStorageError(
            `"${dir}" holds snapshot files but no WAL; refusing to start from an empty log`,
          );
        }
        generation = 1;
        const initial = emptyState(copyConf(options.initialConf ?? { voters: [], learners: [] }));
        fsyncs += await writeFileAtomic(dir, walName(generation), encodeStateFile(initial));
        // The directory itself may be new: make its own name durable too.
        await syncDir(dirname(dir));
        fsyncs++;
      }
      const path = join(dir, walName(generation));
      file = await Deno.open(path, { read: true, write: true });
      const bytes = await readAll(file);
      let scan;
      try {
        scan = scanWal(bytes);
      } catch (error) {
        if (error instanceof WalCorruptError) {
          throw new FileStorageError(`WAL "${path}" is corrupt: ${error.message}`, {
            cause: error,
          });
        }
        throw error;
      }
      const state = emptyState();
      for (const record of scan.records.slice(1)) {
        try {
          for (const item of record.items) applyItem(state, item);
          checkState(state);
        } catch (error) {
          throw new FileStorageError(
            `WAL "${path}" does not replay at the record at byte "${record.position}": ${
              error instanceof Error ? error.message : String(error)
            }`,
            { cause: error },
          );
        }
      }
      let recovery: RecoveryNote | undefined;
      if (scan.tornTail !== null) {
        recovery = await cutTornTail(file, {
          path,
          validBytes: scan.validBytes,
          droppedBytes: bytes.length - scan.validBytes,
          reason: scan.tornTail,
        });
        fsyncs++;
      }
      await file.seek(scan.validBytes, Deno.SeekMode.Start);
      const snapshotData = await readSnapshotData(dir, state.snapshot);

      // What a crash left behind: superseded generations, unreferenced snapshot files.
      for (const old of listing.generations) {
        if (old !== generation) await removeQuietly(join(dir, walName(old)));
      }
      const keep = state.snapshot.index > 0 ? snapshotName(state.snapshot) : "";
      for (const name of listing.snapshots) {
        if (name !== keep) await removeQuietly(join(dir, name));
      }
      return new FileStorage({
        dir,
        state,
        snapshotData,
        file,
        lock,
        generation,
        walBytes: scan.validBytes,
        rewriteBytesMin,
        recovery,
        fsyncs,
      });
    } catch (error) {
      file?.close();
      lock.close();
      throw error;
    }
  }

  /** Fsyncs of files and of the directory since open (opening's own included). */
  get fsyncs(): number {
    return this.#fsyncs;
  }

  /** Times the WAL was written afresh (compaction, snapshot, growth) since open. */
  get rewrites(): number {
    return this.#rewrites;
  }

  /** Bytes in the live WAL file. */
  get walBytes(): number {
    return this.#walBytes;
  }

  /** The live WAL file, for tests and inspection. */
  get walPath(): string {
    return join(this.dir, walName(this.#generation));
  }

  initialState(): { hardState: HardState; conf: ConfState } {
    return {
      hardState: { ...this.#state.hardState },
      conf: copyConf(this.#state.snapshot.conf),
    };
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const state = this.#state;
    if (lo > hi) throw new RangeError(`Range [${lo}, ${hi}) is inverted`);
    if (lo <= state.baseIndex) {
      throw new CompactedError(
        `Entry "${lo}" is compacted (first index "${state.baseIndex + 1}")`,
      );
    }
    const last = lastIndexOf(state);
    if (hi > last + 1) {
      throw new UnavailableError(`Entries up to "${hi - 1}" are past the last index "${last}"`);
    }
    const out: Entry[] = [];
    let bytes = 0;
    for (let index = lo; index < hi; index++) {
      const entry = state.entries[index - state.baseIndex - 1]!;
      bytes += entry.data.length;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(entry);
    }
    return out;
  }

  term(index: number): number {
    const state = this.#state;
    if (index < state.baseIndex) {
      throw new CompactedError(
        `The term of "${index}" is compacted (first index "${state.baseIndex + 1}")`,
      );
    }
    const last = lastIndexOf(state);
    if (index > last) {
      throw new UnavailableError(`Index "${index}" is past the last index "${last}"`);
    }
    return termAt(state, index);
  }

  firstIndex(): number {
    return this.#state.baseIndex + 1;
  }

  lastIndex(): number {
    return lastIndexOf(this.#state);
  }

  snapshot(): Snapshot {
    const meta = this.#state.snapshot;
    return {
      index: meta.index,
      term: meta.term,
      conf: copyConf(meta.conf),
      data: this.#snapshotData,
    };
  }

  /**
   * Persists a Ready bundle's `snapshot`, then `entries`, then `hardState`
   * (any may be absent or empty). Without a snapshot this is one record and
   * one fsync (none if nothing changed); with one, a rewrite.
   */
  save(
    hardState: HardState | undefined,
    entries: Entry[],
    snapshot: Snapshot | undefined,
  ): Promise<void> {
    return this.#exclusive(async () => {
      if (snapshot !== undefined) {
        await this.#saveWithSnapshot(hardState, entries, snapshot);
        return;
      }
      const state = this.#state;
      const items = saveItems(state, hardState, entries);
      for (const item of items) checkItem(state, item);
      if (items.length === 0) return;
      const record = encodeRecord(items);
      await this.#io(() => this.#appendRecord(record));
      for (const item of items) applyItem(state, item);
      await this.#rewriteIfGrown();
    });
  }

  /** A save with a snapshot: the log is reset, so the whole state goes to a fresh WAL. */
  async #saveWithSnapshot(
    hardState: HardState | undefined,
    entries: Entry[],
    snapshot: Snapshot,
  ): Promise<void> {
    const current = this.#state;
    if (snapshot.index <= current.snapshot.index) {
      throw new SnapshotOutOfDateError(
        `Snapshot at index "${snapshot.index}" is not newer than the stored one at "${current.snapshot.index}"`,
      );
    }
    const data = snapshot.data.slice();
    const next = cloneState(current);
    applyItem(next, {
      kind: "snapshot",
      snapshot: metaOf(snapshot, copyConf(snapshot.conf), data),
    });
    next.entries = [];
    next.baseIndex = snapshot.index;
    next.baseTerm = snapshot.term;
    for (const item of saveItems(next, hardState, entries)) applyItem(next, item);
    checkState(next);
    const file = encodeStateFile(next);
    await this.#io(async () => {
      this.#fsyncs += await writeFileAtomic(this.dir, snapshotName(next.snapshot), data);
      await this.#rewrite(file);
    });
    await this.#replace(next, data);
  }

  /** Replaces the log with `snapshot` (the whole log is reset) and stores its membership. */
  applySnapshot(snapshot: Snapshot): Promise<void> {
    return this.save(undefined, [], snapshot);
  }

  /** Appends `entries`, first truncating any suffix from the first new entry's index. */
  append(entries: Entry[]): Promise<void> {
    return this.save(undefined, entries, undefined);
  }

  /** Persists the hard state (no write if it is unchanged). */
  setHardState(hardState: HardState): Promise<void> {
    return this.save(hardState, [], undefined);
  }

  /**
   * Stores a snapshot of the state machine as of log entry `index` (term from
   * the log) with membership `conf`, keeping the log; `compact()` drops it.
   */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Promise<Snapshot> {
    return this.#exclusive(async () => {
      const current = this.#state;
      if (index <= current.snapshot.index) {
        throw new SnapshotOutOfDateError(
          `Snapshot at index "${index}" is not newer than the stored one at "${current.snapshot.index}"`,
        );
      }
      const last = lastIndexOf(current);
      if (index > last) {
        throw new UnavailableError(`Snapshot index "${index}" is past the last index "${last}"`);
      }
      const snapshotData = data.slice();
      const meta = metaOf({ index, term: termAt(current, index) }, copyConf(conf), snapshotData);
      const item: WalItem = { kind: "snapshot", snapshot: meta };
      checkItem(current, item);
      const record = encodeRecord([item]);
      await this.#io(async () => {
        this.#fsyncs += await writeFileAtomic(this.dir, snapshotName(meta), snapshotData);
        await this.#appendRecord(record);
      });
      const before = current.snapshot;
      applyItem(current, item);
      this.#snapshotData = snapshotData;
      await this.#dropSnapshotFile(before);
      await this.#rewriteIfGrown();
      return this.snapshot();
    });
  }

  /**
   * Drops entries up to `index`, which the stored snapshot must cover, and
   * rewrites the WAL without them. At or below the compaction point nothing
   * happens (as in MemoryStorage).
   */
  compact(index: number): Promise<void> {
    return this.#exclusive(async () => {
      const current = this.#state;
      if (index <= current.baseIndex) return;
      if (index > current.snapshot.index) {
        throw new RangeError(
          `Index "${index}" is not covered by the snapshot at "${current.snapshot.index}"`,
        );
      }
      const last = lastIndexOf(current);
      if (index > last) {
        throw new UnavailableError(`Index "${index}" is past the last index "${last}"`);
      }
      const next = cloneState(current);
      applyItem(next, { kind: "compact", index, term: termAt(current, index) });
      checkState(next);
      const file = encodeStateFile(next);
      await this.#io(() => this.#rewrite(file));
      await this.#replace(next, this.#snapshotData);
    });
  }

  /** Finishes the writes already called, then closes the files. Idempotent; later writes are refused. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    await this.#queue;
    this.#file?.close();
    this.#file = null;
    this.#lock.close();
  }

  /** Runs `work` after every write called before it; refuses to start after close or a failure. */
  #exclusive<T>(work: () => Promise<T>): Promise<T> {
    if (this.#closing !== null) {
      return Promise.reject(new FileStorageError(`The Raft storage in "${this.dir}" is closed`));
    }
    const run = this.#queue.then(() => {
      if (this.#failure !== null) {
        throw new FileStorageError(
          `The Raft storage in "${this.dir}" refuses writes after a failed one (${this.#failure}); reopen it`,
        );
      }
      return work();
    });
    this.#queue = run.then(() => {}, () => {});
    return run;
  }

  /** Runs file work; a failure there leaves the files unknown, so the storage refuses writes from then on. */
  async #io(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      this.#failure = error instanceof Error ? error.message : String(error);
      log.error(
        "Writing the Raft storage in {dir} failed; it refuses writes until reopened: {error}",
        {
          dir: this.dir,
          error: this.#failure,
        },
      );
      throw new FileStorageError(
        `Writing the Raft storage in "${this.dir}" failed: ${this.#failure}`,
        { cause: error },
      );
    }
  }

  /** Appends an encoded record (encoded before any I/O, so a refused one changes nothing) and syncs it. */
  async #appendRecord(record: Uint8Array): Promise<void> {
    const file = this.#file!;
    await writeAll(file, record);
    await file.syncData();
    this.#fsyncs++;
    this.#walBytes += record.length;
  }

  /** Writes a whole WAL file (from encodeStateFile) as the next generation and switches to it; the old one is removed. */
  async #rewrite(bytes: Uint8Array): Promise<void> {
    const generation = this.#generation + 1;
    this.#fsyncs += await writeFileAtomic(this.dir, walName(generation), bytes);
    const file = await Deno.open(join(this.dir, walName(generation)), { read: true, write: true });
    await file.seek(0, Deno.SeekMode.End);
    const old = this.#generation;
    this.#file?.close();
    this.#file = file;
    this.#generation = generation;
    this.#walBytes = bytes.length;
    this.#rewriteBaseBytes = bytes.length;
    this.#rewrites++;
    await removeQuietly(join(this.dir, walName(old)));
  }

  async #rewriteIfGrown(): Promise<void> {
    const bound = Math.max(this.#rewriteBytesMin, REWRITE_GROWTH * this.#rewriteBaseBytes);
    if (this.#walBytes < bound) return;
    const file = encodeStateFile(this.#state);
    await this.#io(() => this.#rewrite(file));
  }

  /** Makes `next` (durable now) the served state and removes a snapshot file it no longer names. */
  async #replace(next: WalState, snapshotData: Uint8Array): Promise<void> {
    const before = this.#state.snapshot;
    this.#state = next;
    this.#snapshotData = snapshotData;
    await this.#dropSnapshotFile(before);
  }

  /** Removes the data file of `before` if the stored snapshot is another one now (best effort: open removes leftovers). */
  async #dropSnapshotFile(before: SnapshotMeta): Promise<void> {
    if (before.index > 0 && before.index !== this.#state.snapshot.index) {
      await removeQuietly(join(this.dir, snapshotName(before)));
    }
  }
}

/**
 * The items of a save after any snapshot: the entries above the compaction
 * point (copied) and the hard state if it changed. Checks the entries on
 * their own; {@linkcode checkItem} checks them against the state.
 */
function saveItems(state: WalState, hardState: HardState | undefined, entries: Entry[]): WalItem[] {
  const items: WalItem[] = [];
  if (entries.length > 0) {
    checkEntries(entries);
    const fresh = entries.filter((e) => e.index > state.baseIndex).map(copyEntry);
    if (fresh.length > 0) items.push({ kind: "entries", entries: fresh });
  }
  if (hardState !== undefined && !sameHardState(hardState, state.hardState)) {
    items.push({ kind: "hardState", hardState: { ...hardState } });
  }
  return items;
}

interface Listing {
  /** WAL generations, ascending. */
  generations: number[];
  snapshots: string[];
  temporary: string[];
}

async function listDir(dir: string): Promise<Listing> {
  const listing: Listing = { generations: [], snapshots: [], temporary: [] };
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile) continue;
    const wal = WAL_NAME.exec(entry.name);
    if (wal !== null) listing.generations.push(Number(wal[1]));
    else if (SNAPSHOT_NAME.test(entry.name)) listing.snapshots.push(entry.name);
    else if (isOurTemporary(entry.name)) listing.temporary.push(entry.name);
  }
  listing.generations.sort((a, b) => a - b);
  return listing;
}

/** Reads and checks the data file of `meta` (nothing if there is no snapshot). */
async function readSnapshotData(dir: string, meta: SnapshotMeta): Promise<Uint8Array> {
  if (meta.index === 0) return EMPTY;
  const path = join(dir, snapshotName(meta));
  let data: Uint8Array;
  try {
    data = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new FileStorageError(
        `Snapshot file "${path}" named by the WAL is missing`,
      );
    }
    throw error;
  }
  if (data.length !== meta.dataBytes || crc32c(data) !== meta.dataCrc) {
    throw new FileStorageError(
      `Snapshot file "${path}" is damaged: ${data.length} bytes with CRC-32C "${crc32c(data)}", ` +
        `the WAL says ${meta.dataBytes} bytes with "${meta.dataCrc}"`,
    );
  }
  return data;
}

async function readAll(file: Deno.FsFile): Promise<Uint8Array> {
  const size = (await file.stat()).size;
  const bytes = new Uint8Array(size);
  let at = 0;
  while (at < size) {
    const read = await file.read(bytes.subarray(at));
    if (read === null) break;
    at += read;
  }
  return bytes.subarray(0, at);
}

async function removeQuietly(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      log.warning("Could not remove {path}: {error}", { path, error: String(error) });
    }
  }
}

/** A temp file of ours: a WAL or snapshot file being written when a crash came. */
function isOurTemporary(name: string): boolean {
  if (!name.endsWith(TEMP_SUFFIX)) return false;
  const target = name.slice(0, -TEMP_SUFFIX.length);
  return WAL_NAME.test(target) || SNAPSHOT_NAME.test(target);
}

function walName(generation: number): string {
  return `wal-${String(generation).padStart(NUMBER_DIGITS, "0")}.log`;
}

function snapshotName(meta: { index: number; term: number }): string {
  return `snap-${String(meta.index).padStart(NUMBER_DIGITS, "0")}-${
    String(meta.term).padStart(NUMBER_DIGITS, "0")
  }.snap`;
}

function metaOf(
  at: { index: number; term: number },
  conf: ConfState,
  data: Uint8Array,
): SnapshotMeta {
  return { index: at.index, term: at.term, conf, dataBytes: data.length, dataCrc: crc32c(data) };
}

function copyEntry(entry: Entry): Entry {
  return { index: entry.index, term: entry.term, type: entry.type, data: entry.data.slice() };
}

function copyConf(conf: ConfState): ConfState {
  checkConf(conf);
  return { voters: [...conf.voters], learners: [...conf.learners] };
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
