/**
 * The embedded op log: append-only segment files in the node's data directory,
 * for a single-rack node with no Kafka. Keeps the {@linkcode OpLog} contract.
 *
 * Layout of `dir`:
 *
 * ```
 * pylon-log.json                     {"format":"pylon-segment-log","version":1,"partitions":N,"id":ULID}
 * lock                               held (flock) while a SegmentLog has the directory open
 * partition-<p>/<base offset>.log    segments, base offset zero-padded to 20 digits
 * ```
 *
 * A segment is a run of durable records (`src/storage/record.ts`, the frame the
 * Raft WAL uses too). Offsets are implicit: the segment's base offset plus the
 * record's index in it.
 *
 * Writes: per partition, appends go through {@linkcode GroupCommit}; one batch
 * is one `write` of all its records and one `fdatasync`, and every append of
 * the batch resolves only after that. A batch goes wholly into one segment; a
 * new segment starts at the first batch after the active one reached
 * `segmentBytes`, and its directory entry is fsynced before that batch is
 * acknowledged. A failed write or fsync fails the batch and the partition
 * (after a failed fsync the file's contents are unknown): later appends are
 * refused until the log is reopened, which recovers from what is on disk.
 *
 * Opening recovers: every segment is scanned and every record's length and CRC
 * checked (which also builds the sparse index). The first bad record in the
 * last segment is a torn tail of a write that was never acknowledged: the file
 * is cut there and fsynced, and the dropped bytes are logged and listed in
 * {@linkcode SegmentLog.recovery}. A bad record in an earlier segment cannot
 * be a torn write (a segment is sealed only after its last batch was synced),
 * so it fails the open instead of silently dropping acknowledged records.
 */

import { syncDir, writeAll, writeFileAtomic } from "../storage/files.ts";
import { ulid } from "ulid";
import { getLogger } from "@logtape/logtape";
import { join } from "node:path";
import { lockDirectory } from "../storage/directory_lock.ts";
import {
  checksumMatches,
  encodeRecords,
  RECORD_HEADER_BYTES,
  recordLength,
  tornHeader,
  tornPayload,
} from "../storage/record.ts";
import { cutTornTail, type TornTail } from "../storage/torn_tail.ts";
import { GroupCommit } from "./group_commit.ts";
import { RecentRecords } from "./recent_records.ts";
import { optionDefault } from "../config/options.ts";
import {
  type LogBounds,
  LogError,
  type LogReader,
  type LogRecord,
  type OpLog,
  type ReadLimits,
} from "./op_log.ts";

const log = getLogger(["pylon", "log", "segment"]);

/** Size at which the active segment is sealed and the next batch starts a new one (--log-segment-bytes). */
export const SEGMENT_BYTES_DEFAULT = optionDefault("log-segment-bytes");
/** Largest payload accepted by default; a stored length above the bound is corruption. */
export const RECORD_BYTES_MAX_DEFAULT = 64 * 1024 * 1024;
const BATCH_RECORDS_MAX_DEFAULT = 1024;
const BATCH_BYTES_MAX_DEFAULT = 4 * 1024 * 1024;
const INDEX_INTERVAL_RECORDS_DEFAULT = 128;

const OFFSET_DIGITS = 20;
const SEGMENT_SUFFIX = ".log";
const SEGMENT_NAME = /^(\d{20})\.log$/;
const META_FILE = "pylon-log.json";
const META_FORMAT = "pylon-segment-log";
const META_VERSION = 1;
const SCAN_CHUNK_BYTES = 1024 * 1024;
const READ_CHUNK_BYTES = 64 * 1024;
const ARENA_CHUNK_BYTES_MAX = 64 * 1024;
/** Newest records kept in memory per partition, for the applier that follows the end. */
const RECENT_BYTES_MAX = 512 * 1024;

/** How {@linkcode SegmentLog.open} lays out and batches the log. */
export interface SegmentLogOptions {
  /** Partition count; must match what the directory was created with. */
  partitions: number;
  /** Seal the active segment once it holds this many bytes (default 64 MiB). */
  segmentBytes?: number;
  /** Most records in one write + fsync. */
  batchRecordsMax?: number;
  /** About the most payload bytes in one write + fsync (one record always fits). */
  batchBytesMax?: number;
  /** Extra wait for a batch to grow when the log is idle; 0 writes at once. */
  lingerMs?: number;
  /** One sparse-index entry every this many records of a segment. */
  indexIntervalRecords?: number;
  /** Largest payload accepted (default 64 MiB). */
  recordBytesMax?: number;
}

/** A torn or corrupt tail that opening cut off the last segment of a partition. */
export interface RecoveryNote extends TornTail {
  partition: number;
}

/** Segment files that are corrupt, foreign, of another partition count, or in use elsewhere. */
export class SegmentLogError extends Error {
  override name = "SegmentLogError";
}

interface Settings {
  segmentBytes: number;
  indexIntervalRecords: number;
  recordBytesMax: number;
}

/** One segment file and what of it is durable. Only the last one of a partition grows. */
interface Segment {
  base: number;
  path: string;
  /** Records written and synced. */
  records: number;
  /** Bytes written and synced; readers never read past this. */
  bytes: number;
  /** Sparse index: record index within the segment → byte position, every N records. */
  indexRecords: number[];
  indexPositions: number[];
}

/**
 * The embedded {@linkcode OpLog}: segment files per partition, group commit
 * with fdatasync. An appended array is kept and handed to readers at the
 * end of the log as it is, so leave it unchanged once appended. Values a
 * reader returns are never touched by the log again; those of one `next()`
 * may share an ArrayBuffer. A `seek()` or `close()` during a pending `next()` makes that
 * call resolve with no records.
 */
export class SegmentLog implements OpLog {
  readonly partitions: number;
  readonly dir: string;
  /** This log's id (`local:<ULID>`), made when the folder was created. */
  readonly id: string;
  /** What opening cut off torn tails, one note per partition that had one. */
  readonly recovery: readonly RecoveryNote[];
  #parts: Partition[];
  #lock: Deno.FsFile;
  #closing: Promise<void> | null = null;

  private constructor(
    dir: string,
    opened: { id: string; parts: Partition[]; lock: Deno.FsFile; recovery: RecoveryNote[] },
  ) {
    this.dir = dir;
    this.id = opened.id;
    this.partitions = opened.parts.length;
    this.#parts = opened.parts;
    this.#lock = opened.lock;
    this.recovery = opened.recovery;
  }

  /** Opens (creating if needed) the log in `dir`, recovering from a crash. */
  static async open(dir: string, options: SegmentLogOptions): Promise<SegmentLog> {
    const { partitions } = options;
    positiveInteger("partitions", partitions);
    const settings: Settings = {
      segmentBytes: options.segmentBytes ?? SEGMENT_BYTES_DEFAULT,
      indexIntervalRecords: options.indexIntervalRecords ?? INDEX_INTERVAL_RECORDS_DEFAULT,
      recordBytesMax: options.recordBytesMax ?? RECORD_BYTES_MAX_DEFAULT,
    };
    positiveInteger("segmentBytes", settings.segmentBytes);
    positiveInteger("indexIntervalRecords", settings.indexIntervalRecords);
    positiveInteger("recordBytesMax", settings.recordBytesMax);
    if (settings.recordBytesMax > 0xffffffff) {
      throw new RangeError(`recordBytesMax "${settings.recordBytesMax}" does not fit in u32`);
    }
    const commitOptions = {
      batchRecordsMax: options.batchRecordsMax ?? BATCH_RECORDS_MAX_DEFAULT,
      batchBytesMax: options.batchBytesMax ?? BATCH_BYTES_MAX_DEFAULT,
      lingerMs: options.lingerMs ?? 0,
    };
    positiveInteger("batchRecordsMax", commitOptions.batchRecordsMax);
    positiveInteger("batchBytesMax", commitOptions.batchBytesMax);
    if (!(commitOptions.lingerMs >= 0)) {
      throw new RangeError(`lingerMs "${commitOptions.lingerMs}" must be 0 or more`);
    }

    const lock = await lockDirectory(dir, "The log");
    const parts: Partition[] = [];
    try {
      const id = await checkMeta(dir, partitions);
      const recovery: RecoveryNote[] = [];
      for (let p = 0; p < partitions; p++) {
        const opened = await openPartition(dir, p, settings);
        if (opened.note !== undefined) recovery.push(opened.note);
        parts.push(new Partition(opened, { id: p, settings, commitOptions }));
      }
      return new SegmentLog(dir, { id: `local:${id}`, parts, lock, recovery });
    } catch (error) {
      for (const part of parts) part.closeFile();
      lock.close();
      throw error;
    }
  }

  /** Data fsyncs of segment files, one per written batch (directory syncs not counted). */
  get fsyncs(): number {
    return this.#parts.reduce((sum, p) => sum + p.fsyncs, 0);
  }

  /** Batches written, over all partitions. */
  get batches(): number {
    return this.#parts.reduce((sum, p) => sum + p.commit.batches, 0);
  }

  /** Segment files of `partition`, oldest first, for tests and inspection. */
  segments(partition: number): string[] {
    return this.#part(partition).segments.map((s) => s.path);
  }

  /** Bytes `partition` holds on disk (every segment's durable part). */
  sizeBytes(partition: number): number {
    return this.#part(partition).segments.reduce((sum, s) => sum + s.bytes, 0);
  }

  /**
   * Retention: removes `partition`'s oldest whole segments while the partition
   * is over `bytesMax` or the segment was last written more than `ageMsMax`
   * ago — but only segments whose every record is below `keepFrom` (what the
   * rack has applied), and never the segment being written. Resolves with the
   * bytes freed. Each removal is made durable before the next, so a crash
   * never leaves a gap between segments.
   */
  async retain(
    partition: number,
    policy: { keepFrom: number; bytesMax: number; ageMsMax: number; nowMs?: number },
  ): Promise<number> {
    const part = this.#part(partition);
    const now = policy.nowMs ?? Date.now();
    let freed = 0;
    while (part.segments.length > 1) {
      const oldest = part.segments[0]!;
      if (oldest.base + oldest.records > policy.keepFrom) break;
      const over = this.sizeBytes(partition) > policy.bytesMax;
      const modified = (await Deno.stat(oldest.path)).mtime?.getTime() ?? now;
      if (!over && now - modified <= policy.ageMsMax) break;
      part.segments.shift();
      await Deno.remove(oldest.path);
      await syncDir(part.dir);
      freed += oldest.bytes;
      log.info("partition {partition}: removed {path} (offsets {from}..{to}, {bytes} bytes)", {
        partition,
        path: oldest.path,
        from: oldest.base,
        to: oldest.base + oldest.records - 1,
        bytes: oldest.bytes,
      });
    }
    return freed;
  }

  append(partition: number, record: Uint8Array, deadlineMs?: number): Promise<number> {
    const part = this.#parts[partition];
    if (part === undefined || !Number.isInteger(partition)) {
      return Promise.reject(
        new LogError(`Partition "${partition}" is not in 0..${this.partitions - 1}`, false),
      );
    }
    if (record.length > part.settings.recordBytesMax) {
      return Promise.reject(
        new LogError(
          `Record of "${record.length}" bytes exceeds the bound "${part.settings.recordBytesMax}"`,
          false,
        ),
      );
    }
    return part.commit.append(record, deadlineMs);
  }

  reader(partition: number, offset: number): LogReader {
    const part = this.#part(partition);
    if (this.#closing !== null) throw new Error("The log is closed");
    checkOffset(offset);
    return new SegmentReader(part, offset);
  }

  bounds(partition: number): Promise<LogBounds> {
    try {
      const part = this.#part(partition);
      return Promise.resolve({ start: part.start, end: part.end });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Writes what is queued, then ends readers and closes the files. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    await Promise.all(this.#parts.map((p) => p.commit.close()));
    await Promise.all(this.#parts.map((p) => p.shutdownReaders()));
    for (const part of this.#parts) part.closeFile();
    this.#lock.close();
  }

  #part(partition: number): Partition {
    const part = this.#parts[partition];
    if (part === undefined || !Number.isInteger(partition)) {
      throw new RangeError(`Partition "${partition}" is not in 0..${this.partitions - 1}`);
    }
    return part;
  }
}

interface OpenedPartition {
  dir: string;
  segments: Segment[];
  file: Deno.FsFile;
  note?: RecoveryNote;
}

/** One partition: its segments, the active file, its group commit and its readers. */
class Partition {
  readonly id: number;
  readonly dir: string;
  readonly settings: Settings;
  readonly segments: Segment[];
  readonly commit: GroupCommit;
  /** The last records written, for readers at the end. */
  readonly recent: RecentRecords;
  readonly readers = new Set<SegmentReader>();
  /** Wakes readers waiting at the end; called after every commit and on close. */
  readonly waiters = new Set<() => void>();
  fsyncs = 0;
  closed = false;
  #file: Deno.FsFile | null;
  #failure: string | null = null;

  constructor(
    opened: OpenedPartition,
    options: {
      id: number;
      settings: Settings;
      commitOptions: { batchRecordsMax: number; batchBytesMax: number; lingerMs: number };
    },
  ) {
    this.id = options.id;
    this.dir = opened.dir;
    this.segments = opened.segments;
    this.#file = opened.file;
    this.settings = options.settings;
    this.commit = new GroupCommit((records) => this.#write(records), options.commitOptions);
    this.recent = new RecentRecords(this.end, RECENT_BYTES_MAX);
  }

  get start(): number {
    return this.segments[0]!.base;
  }

  get end(): number {
    const last = this.segments[this.segments.length - 1]!;
    return last.base + last.records;
  }

  /** Index of the segment holding `offset` (which must be within the bounds). */
  segmentOf(offset: number): number {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.segments[mid]!.base <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  async #write(records: Uint8Array[]): Promise<number> {
    if (this.#failure !== null) {
      throw new LogError(
        `Partition "${this.id}" refuses appends after a failed write (${this.#failure}); reopen the log`,
        false,
      );
    }
    try {
      let segment = this.segments[this.segments.length - 1]!;
      if (segment.bytes >= this.settings.segmentBytes && segment.records > 0) {
        segment = await this.#roll(segment);
      }
      const file = this.#file!;
      const batch = encodeRecords(records);
      await writeAll(file, batch);
      await file.syncData();
      this.fsyncs++;

      const first = segment.base + segment.records;
      const interval = this.settings.indexIntervalRecords;
      let position = segment.bytes;
      for (let i = 0; i < records.length; i++) {
        const index = segment.records + i;
        if (index % interval === 0) {
          segment.indexRecords.push(index);
          segment.indexPositions.push(position);
        }
        position += RECORD_HEADER_BYTES + records[i]!.length;
      }
      segment.records += records.length;
      segment.bytes = position;
      this.recent.push(records);
      for (const wake of [...this.waiters]) wake();
      return first;
    } catch (error) {
      this.#failure = error instanceof Error ? error.message : String(error);
      log.error(
        "Writing to partition {partition} failed; it refuses appends until reopened: {error}",
        {
          partition: this.id,
          error: this.#failure,
        },
      );
      throw new LogError(`Writing to partition "${this.id}" failed: ${this.#failure}`, true);
    }
  }

  /** Seals `last` (already synced) and starts a segment at the end offset. */
  async #roll(last: Segment): Promise<Segment> {
    const base = last.base + last.records;
    const path = join(this.dir, segmentName(base));
    const file = await Deno.open(path, { write: true, createNew: true });
    this.#file?.close();
    this.#file = file;
    const segment: Segment = {
      base,
      path,
      records: 0,
      bytes: 0,
      indexRecords: [],
      indexPositions: [],
    };
    this.segments.push(segment);
    // The new name must be durable before a record in it is acknowledged.
    await syncDir(this.dir);
    return segment;
  }

  async shutdownReaders(): Promise<void> {
    this.closed = true;
    for (const wake of [...this.waiters]) wake();
    await Promise.all([...this.readers].map((r) => r.close()));
  }

  closeFile(): void {
    this.#file?.close();
    this.#file = null;
  }
}

/** A reader of one partition; reads the segment files through its own file handle. */
class SegmentReader implements LogReader {
  #part: Partition;
  #offset: number;
  #cursor: Cursor | null = null;
  #pending: Promise<LogRecord[]> | null = null;
  #closed = false;
  #wake: (() => void) | null = null;
  /** Bumped by seek() and close(), so a next() in flight knows its result is stale. */
  #generation = 0;

  constructor(part: Partition, offset: number) {
    this.#part = part;
    this.#offset = offset;
    part.readers.add(this);
  }

  next(limits: ReadLimits): Promise<LogRecord[]> {
    try {
      checkLimits(limits);
      if (this.#closed) {
        throw new Error(this.#part.closed ? "The log is closed" : "The reader is closed");
      }
      if (this.#pending !== null) throw new Error("next() is already pending on this reader");
    } catch (error) {
      return Promise.reject(error);
    }
    const pending = this.#next(limits).finally(() => {
      this.#pending = null;
    });
    this.#pending = pending;
    return pending;
  }

  seek(offset: number): void {
    checkOffset(offset);
    if (this.#closed) throw new Error("The reader is closed");
    this.#offset = offset;
    this.#generation++;
    this.#wake?.();
  }

  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#generation++;
      this.#wake?.();
    }
    await this.#pending?.catch(() => {});
    this.#cursor?.file.close();
    this.#cursor = null;
    this.#part.readers.delete(this);
  }

  async #next(limits: ReadLimits): Promise<LogRecord[]> {
    const generation = this.#generation;
    const deadline = performance.now() + limits.waitMs;
    const part = this.#part;
    while (true) {
      const offset = this.#offset;
      if (offset < part.start) {
        throw new RangeError(
          `Offset "${offset}" is before the start "${part.start}" of partition "${part.id}"`,
        );
      }
      if (offset > part.end) {
        throw new RangeError(
          `Offset "${offset}" is past the end "${part.end}" of partition "${part.id}"`,
        );
      }
      if (offset < part.end) break;
      const remainingMs = deadline - performance.now();
      if (remainingMs <= 0 || part.closed) return [];
      await this.#waitForAppend(remainingMs);
      if (generation !== this.#generation) return [];
    }
    const records = await this.#read(limits);
    if (generation !== this.#generation) return [];
    this.#offset += records.length;
    return records;
  }

  /** Resolves after the next commit, after `ms`, or when woken by seek() or close(). */
  #waitForAppend(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#part.waiters.delete(done);
        this.#wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#part.waiters.add(done);
      this.#wake = done;
    });
  }

  /** Reads from the reader's offset, which is below the end, within `limits`. */
  async #read(limits: ReadLimits): Promise<LogRecord[]> {
    const part = this.#part;
    if (this.#offset >= part.recent.base) {
      return part.recent.take(this.#offset, limits.recordsMax, limits.bytesMax);
    }
    let cursor = this.#cursor;
    if (cursor === null || cursor.offset !== this.#offset) {
      cursor = await this.#locate(this.#offset);
    }
    const out: LogRecord[] = [];
    const arena = new Arena();
    let bytes = 0;
    while (out.length < limits.recordsMax) {
      const segment = cursor.segment;
      if (cursor.offset === segment.base + segment.records) {
        const at = part.segments.indexOf(segment);
        // A segment retention removed under the reader: what follows it is still there.
        const next = at < 0
          ? part.segments.find((s) => s.base === cursor!.offset)
          : part.segments[at + 1];
        if (next === undefined) break;
        cursor.file.close();
        this.#cursor = null;
        cursor = await openCursor(part, next, 0, next.base);
        this.#cursor = cursor;
        continue;
      }
      let length = cursor.peekLength(segment);
      if (typeof length !== "number") length = await length;
      if (out.length > 0 && bytes + length > limits.bytesMax) break;
      const offset = cursor.offset;
      let value = cursor.take(
        segment,
        length,
        arena,
        Math.min(ARENA_CHUNK_BYTES_MAX, limits.bytesMax - bytes),
      );
      if (value instanceof Promise) value = await value;
      out.push({ offset, value });
      bytes += length;
    }
    return out;
  }

  /** A cursor at `offset`: the segment holding it, the index entry below it, then a short skip. */
  async #locate(offset: number): Promise<Cursor> {
    const part = this.#part;
    const index = part.segmentOf(offset);
    const segment = part.segments[index]!;
    const target = offset - segment.base;
    let entry = -1;
    let lo = 0;
    let hi = segment.indexRecords.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (segment.indexRecords[mid]! <= target) {
        entry = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    const startRecord = entry < 0 ? 0 : segment.indexRecords[entry]!;
    const startPosition = entry < 0 ? 0 : segment.indexPositions[entry]!;
    let cursor = this.#cursor;
    if (cursor !== null && cursor.segment === segment) {
      cursor.offset = segment.base + startRecord;
      cursor.position = startPosition;
    } else {
      cursor?.file.close();
      this.#cursor = null;
      cursor = await openCursor(part, segment, startPosition, segment.base + startRecord);
    }
    this.#cursor = cursor;
    while (cursor.offset < offset) {
      const length = cursor.peekLength(segment);
      cursor.skip(typeof length === "number" ? length : await length);
    }
    return cursor;
  }
}

async function openCursor(
  part: Partition,
  segment: Segment,
  position: number,
  offset: number,
): Promise<Cursor> {
  const file = await Deno.open(segment.path, { read: true });
  return new Cursor(file, {
    segment,
    position,
    offset,
    recordBytesMax: part.settings.recordBytesMax,
  });
}

/** A reader's place in one segment file, with a read-ahead window over its durable bytes. */
class Cursor {
  readonly file: Deno.FsFile;
  readonly segment: Segment;
  position: number;
  offset: number;
  #window: FileWindow;
  #recordBytesMax: number;

  constructor(
    file: Deno.FsFile,
    options: { segment: Segment; position: number; offset: number; recordBytesMax: number },
  ) {
    this.file = file;
    this.segment = options.segment;
    this.position = options.position;
    this.offset = options.offset;
    this.#window = new FileWindow(file, READ_CHUNK_BYTES);
    this.#recordBytesMax = options.recordBytesMax;
  }

  /**
   * The payload length of the record at the cursor, checked against the
   * bounds. Synchronous when the header is already read ahead (the common
   * case), so a reader does not pay an await per record.
   */
  peekLength(segment: Segment): number | Promise<number> {
    const header = this.#window.buffered(this.position, RECORD_HEADER_BYTES);
    if (header !== null) return this.#checkLength(segment, header);
    return this.#window.view(this.position, RECORD_HEADER_BYTES, segment.bytes)
      .then((loaded) => this.#checkLength(segment, loaded));
  }

  /**
   * The payload of the record at the cursor (its CRC checked), copied into
   * `arena`; moves past it. Synchronous when read ahead. `arenaBytes` sizes a
   * new arena chunk if one is needed.
   */
  take(
    segment: Segment,
    length: number,
    arena: Arena,
    arenaBytes: number,
  ): Uint8Array | Promise<Uint8Array> {
    const bytes = RECORD_HEADER_BYTES + length;
    const record = this.#window.buffered(this.position, bytes);
    const hint = Math.max(length, Math.min(arenaBytes, this.#window.bufferedFrom(this.position)));
    if (record !== null) return this.#checkRecord(segment, record, length, arena, hint);
    return this.#window.view(this.position, bytes, segment.bytes)
      .then((loaded) => this.#checkRecord(segment, loaded, length, arena, length));
  }

  #checkLength(segment: Segment, header: Uint8Array | null): number {
    const length = header === null ? -1 : recordLength(header, 0);
    if (
      header === null || length > this.#recordBytesMax ||
      this.position + RECORD_HEADER_BYTES + length > segment.bytes
    ) {
      throw corruptAt(segment, this.offset, this.position, "a record runs past the durable end");
    }
    return length;
  }

  #checkRecord(
    segment: Segment,
    record: Uint8Array | null,
    length: number,
    arena: Arena,
    chunkBytes: number,
  ): Uint8Array {
    if (record === null || !checksumMatches(record, 0)) {
      throw corruptAt(segment, this.offset, this.position, "checksum mismatch");
    }
    const value = arena.copy(record.subarray(RECORD_HEADER_BYTES), chunkBytes);
    this.skip(length);
    return value;
  }

  skip(length: number): void {
    this.position += RECORD_HEADER_BYTES + length;
    this.offset++;
  }
}

/**
 * Where one next() copies payloads: a few larger buffers instead of one small
 * allocation per record (much cheaper in V8). Values of one call may share an
 * ArrayBuffer; the log never reuses or writes to it after handing it out.
 */
class Arena {
  #chunk = new Uint8Array(0);
  #used = 0;

  /** A copy of `source`; starts a chunk of `chunkBytes` (at least the source) when full. */
  copy(source: Uint8Array, chunkBytes: number): Uint8Array {
    if (this.#used + source.length > this.#chunk.length) {
      this.#chunk = new Uint8Array(Math.max(source.length, chunkBytes));
      this.#used = 0;
    }
    this.#chunk.set(source, this.#used);
    const value = this.#chunk.subarray(this.#used, this.#used + source.length);
    this.#used += source.length;
    return value;
  }
}

function corruptAt(segment: Segment, offset: number, position: number, what: string): Error {
  return new SegmentLogError(
    `Segment "${segment.path}" is corrupt at offset "${offset}" (byte "${position}"): ${what}`,
  );
}

/**
 * Buffered positioned reads of one file: `view(position, length, limit)` gives
 * the bytes at `[position, position + length)` (valid until the next call),
 * reading ahead but never past `limit`.
 */
class FileWindow {
  #file: Deno.FsFile;
  #buffer: Uint8Array;
  #chunkBytes: number;
  /** File position of `#buffer[0]`. */
  #start = 0;
  /** Valid bytes in `#buffer`. */
  #length = 0;
  /** Where the handle's own position is, so sequential reads need no seek. */
  #filePosition = -1;

  constructor(file: Deno.FsFile, chunkBytes: number) {
    this.#file = file;
    this.#chunkBytes = chunkBytes;
    this.#buffer = new Uint8Array(chunkBytes);
  }

  /** How many bytes from `position` on are already read. */
  bufferedFrom(position: number): number {
    const from = position - this.#start;
    return from >= 0 && from <= this.#length ? this.#length - from : 0;
  }

  /** The bytes at `[position, position + length)` if already read, else null. */
  buffered(position: number, length: number): Uint8Array | null {
    const from = position - this.#start;
    if (from >= 0 && from + length <= this.#length) {
      return this.#buffer.subarray(from, from + length);
    }
    return null;
  }

  async view(position: number, length: number, limit: number): Promise<Uint8Array | null> {
    const from = position - this.#start;
    if (from >= 0 && from + length <= this.#length) {
      return this.#buffer.subarray(from, from + length);
    }
    if (position + length > limit) return null;
    // Keep what is already read from `position` on, then read more behind it.
    if (from >= 0 && from < this.#length) {
      this.#buffer.copyWithin(0, from, this.#length);
      this.#length -= from;
    } else {
      this.#length = 0;
    }
    this.#start = position;
    if (length > this.#buffer.length) {
      const grown = new Uint8Array(Math.max(length, this.#buffer.length * 2));
      grown.set(this.#buffer.subarray(0, this.#length));
      this.#buffer = grown;
    } else if (this.#buffer.length > 4 * this.#chunkBytes && length <= this.#chunkBytes) {
      // Shrink back after a large record has been read.
      const shrunk = new Uint8Array(this.#chunkBytes);
      const keep = Math.min(this.#length, this.#chunkBytes);
      shrunk.set(this.#buffer.subarray(0, keep));
      this.#length = keep;
      this.#buffer = shrunk;
    }
    const want = Math.min(this.#buffer.length, limit - position);
    let at = position + this.#length;
    if (this.#filePosition !== at) {
      await this.#file.seek(at, Deno.SeekMode.Start);
      this.#filePosition = at;
    }
    while (this.#length < want) {
      const n = await this.#file.read(this.#buffer.subarray(this.#length, want));
      if (n === null) {
        throw new SegmentLogError(`A segment file ended at byte "${at}", before its durable end`);
      }
      this.#length += n;
      at += n;
      this.#filePosition = at;
    }
    return this.#buffer.subarray(0, length);
  }
}

function segmentName(base: number): string {
  return String(base).padStart(OFFSET_DIGITS, "0") + SEGMENT_SUFFIX;
}

function positiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${name} "${value}" must be a positive integer`);
  }
}

function checkOffset(offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new RangeError(`Offset "${offset}" must be a non-negative integer`);
  }
}

function checkLimits(limits: ReadLimits): void {
  positiveInteger("recordsMax", limits.recordsMax);
  if (!(limits.bytesMax >= 0)) {
    throw new RangeError(`bytesMax "${limits.bytesMax}" must be 0 or more`);
  }
  if (!(limits.waitMs >= 0) || !Number.isFinite(limits.waitMs)) {
    throw new RangeError(`waitMs "${limits.waitMs}" must be a finite number, 0 or more`);
  }
}

/** Reads the metadata file, or writes it (atomically) for a new log; refuses a mismatch. */
/**
 * Checks (or, in a new folder, writes) the log's metadata; returns the log's
 * id. A log written before ids existed gets one now, once.
 */
async function checkMeta(dir: string, partitions: number): Promise<string> {
  const path = join(dir, META_FILE);
  let text: string | null = null;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const write = async (id: string) => {
    const meta = { format: META_FORMAT, version: META_VERSION, partitions, id };
    await writeFileAtomic(dir, META_FILE, new TextEncoder().encode(JSON.stringify(meta) + "\n"));
    return id;
  };
  if (text === null) {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.name.startsWith("partition-")) {
        throw new SegmentLogError(
          `The log in "${dir}" has partition folders but no "${META_FILE}"; refusing to guess`,
        );
      }
    }
    return await write(ulid());
  }
  let meta: unknown;
  try {
    meta = JSON.parse(text);
  } catch {
    throw new SegmentLogError(`"${path}" is not valid JSON`);
  }
  const fields = meta as {
    format?: unknown;
    version?: unknown;
    partitions?: unknown;
    id?: unknown;
  };
  if (typeof meta !== "object" || meta === null || fields.format !== META_FORMAT) {
    throw new SegmentLogError(`"${path}" is not the metadata of a Pylon segment log`);
  }
  if (fields.version !== META_VERSION) {
    throw new SegmentLogError(
      `"${path}" has format version "${fields.version}"; this build reads "${META_VERSION}"`,
    );
  }
  if (fields.partitions !== partitions) {
    throw new SegmentLogError(
      `The log in "${dir}" has "${fields.partitions}" partitions, not "${partitions}" as configured`,
    );
  }
  if (fields.id === undefined) return await write(ulid());
  if (typeof fields.id !== "string" || fields.id === "") {
    throw new SegmentLogError(`"${path}" has an id that is not a string`);
  }
  return fields.id;
}

/** Lists, scans and recovers one partition's segments; leaves the last one open for writes. */
async function openPartition(
  root: string,
  partition: number,
  settings: Settings,
): Promise<OpenedPartition> {
  const dir = join(root, `partition-${partition}`);
  await Deno.mkdir(dir, { recursive: true });
  const bases: number[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const match = SEGMENT_NAME.exec(entry.name);
    if (match !== null && entry.isFile) bases.push(Number(match[1]));
  }
  bases.sort((a, b) => a - b);
  if (bases.length === 0) {
    const file = await Deno.open(join(dir, segmentName(0)), { write: true, createNew: true });
    file.close();
    await syncDir(root);
    await syncDir(dir);
    bases.push(0);
  }

  const segments: Segment[] = [];
  let note: RecoveryNote | undefined;
  let active: Deno.FsFile | null = null;
  try {
    for (let i = 0; i < bases.length; i++) {
      const base = bases[i]!;
      const path = join(dir, segmentName(base));
      const last = i === bases.length - 1;
      const previous = segments[segments.length - 1];
      if (previous !== undefined && previous.base + previous.records !== base) {
        throw new SegmentLogError(
          `Segment "${path}" starts at offset "${base}" but the one before it ends at "${
            previous.base + previous.records
          }"; segments are missing or overlap`,
        );
      }
      const file = await Deno.open(path, { read: true, write: last });
      if (last) active = file;
      try {
        const size = (await file.stat()).size;
        const scan = await scanSegment(file, base, size, settings);
        const segment: Segment = {
          base,
          path,
          records: scan.records,
          bytes: scan.validBytes,
          indexRecords: scan.indexRecords,
          indexPositions: scan.indexPositions,
        };
        if (scan.problem !== null) {
          if (!last) {
            throw new SegmentLogError(
              `Segment "${path}" of partition "${partition}" is corrupt at offset "${
                base + scan.records
              }" (byte "${scan.validBytes}" of "${size}"): ${scan.problem}; it is not the last ` +
                `segment, so this is not a torn write and dropping it would lose acknowledged records`,
            );
          }
          const tail = await cutTornTail(file, {
            path,
            validBytes: scan.validBytes,
            droppedBytes: size - scan.validBytes,
            reason: scan.problem,
          }, { offset: base + scan.records });
          note = { ...tail, partition };
        }
        segments.push(segment);
      } finally {
        if (!last) file.close();
      }
    }
    const last = segments[segments.length - 1]!;
    await active!.seek(last.bytes, Deno.SeekMode.Start);
    const opened: OpenedPartition = { dir, segments, file: active! };
    if (note !== undefined) opened.note = note;
    return opened;
  } catch (error) {
    active?.close();
    throw error;
  }
}

interface Scan {
  records: number;
  validBytes: number;
  indexRecords: number[];
  indexPositions: number[];
  /** Why the scan stopped before the end of the file, or null if every record was whole. */
  problem: string | null;
}

/** Checks every record of a segment file and builds its sparse index. */
async function scanSegment(
  file: Deno.FsFile,
  base: number,
  size: number,
  settings: Settings,
): Promise<Scan> {
  const window = new FileWindow(file, SCAN_CHUNK_BYTES);
  const scan: Scan = {
    records: 0,
    validBytes: 0,
    indexRecords: [],
    indexPositions: [],
    problem: null,
  };
  let position = 0;
  while (position < size) {
    const header = window.buffered(position, RECORD_HEADER_BYTES) ??
      await window.view(position, RECORD_HEADER_BYTES, size);
    if (header === null) {
      scan.problem = tornHeader(size - position);
      break;
    }
    const length = recordLength(header, 0);
    if (length > settings.recordBytesMax) {
      scan.problem = `record length "${length}" exceeds the bound "${settings.recordBytesMax}"`;
      break;
    }
    const record = window.buffered(position, RECORD_HEADER_BYTES + length) ??
      await window.view(position, RECORD_HEADER_BYTES + length, size);
    if (record === null) {
      scan.problem = tornPayload(length, size - position - RECORD_HEADER_BYTES);
      break;
    }
    if (!checksumMatches(record, 0)) {
      scan.problem = `checksum mismatch at offset "${base + scan.records}"`;
      break;
    }
    if (scan.records % settings.indexIntervalRecords === 0) {
      scan.indexRecords.push(scan.records);
      scan.indexPositions.push(position);
    }
    scan.records++;
    position += RECORD_HEADER_BYTES + length;
    scan.validBytes = position;
  }
  return scan;
}
