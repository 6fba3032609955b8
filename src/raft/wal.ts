/**
 * The write-ahead log format of {@linkcode FileStorage} and its replay rules,
 * with no I/O: encoding, scanning (with torn-tail detection) and the state a
 * run of records rebuilds.
 *
 * A WAL file is a run of durable records (`src/storage/record.ts`, the frame
 * the segment log uses too).
 *
 * A payload is one or more typed items, each `kind (u8) | length (u32 BE) |
 * body`. One write of the storage is one record, whatever it holds (entries
 * and a hard state, say): a record is the unit that is checksummed, written
 * with one `write` and synced with one fsync. So a crash can only ever tear the
 * last record, even when the disk writes back the pages of that last write out
 * of order, and a save is all or nothing after recovery.
 *
 * Items (integers are u64 BE unless noted; strings are u32 length + UTF-8):
 *
 * ```
 * 1 header     magic "pylon-raft-wal" | version (u16)      first record only, alone
 * 2 hardState  term | commit | vote
 * 3 entries    first index | count (u32) | { term | type (u8: 0 normal, 1 conf) | data (u32 length + bytes) }*
 * 4 conf       voters (u32 count + strings) | learners (same)   the initial membership, before any snapshot
 * 5 snapshot   index | term | conf | data bytes | data crc (u32)   metadata; the data is its own file
 * 6 compact    index | term                                        the compaction point
 * ```
 *
 * Replay rules ({@linkcode applyItem}): an entries item whose first index is
 * at or below the last index replaces the suffix from there (truncation and
 * the new entries are one item, so no crash leaves the log cut without its
 * replacement); entries at or below the compaction point are skipped. A
 * compact item drops the entries up to its index if the log holds that index
 * with that term, and otherwise empties the log and starts it after the index
 * (a rewritten file starts with one). A snapshot item only records the latest
 * snapshot (and with it the membership); it never touches the log. A conf
 * item sets the membership of "no snapshot yet" (index 0): a new group's
 * initial membership.
 */

import { RECORD_HEADER_BYTES, recordLength, recordProblem, sealRecord } from "../storage/record.ts";
import { PayloadReader as Reader, PayloadWriter as Writer } from "../wire.ts";
import type { ConfState, Entry, EntryType, HardState } from "./types.ts";

/** Version of the format written; opening refuses any other. */
export const WAL_VERSION = 1;
export { RECORD_HEADER_BYTES };
/** Largest record payload; a stored length above it is damage, not data, and larger writes are refused. */
export const RECORD_BYTES_MAX = 64 * 1024 * 1024;
/** About the most bytes of entries per record when a whole state is written out. */
export const STATE_RECORD_ENTRY_BYTES = 1024 * 1024;

const MAGIC = "pylon-raft-wal";
const ITEM_HEADER_BYTES = 5;
const ENTRY_FIXED_BYTES = 8 + 1 + 4;
const KIND_HEADER = 1;
const KIND_HARD_STATE = 2;
const KIND_ENTRIES = 3;
const KIND_CONF = 4;
const KIND_SNAPSHOT = 5;
const KIND_COMPACT = 6;

/** What a snapshot record says of a snapshot whose data lives in its own file. */
export interface SnapshotMeta {
  index: number;
  term: number;
  conf: ConfState;
  dataBytes: number;
  /** CRC-32C of the data file's contents. */
  dataCrc: number;
}

/** One typed item of a record. */
export type WalItem =
  | { kind: "header"; version: number }
  | { kind: "hardState"; hardState: HardState }
  | { kind: "entries"; entries: Entry[] }
  | { kind: "conf"; conf: ConfState }
  | { kind: "snapshot"; snapshot: SnapshotMeta }
  | { kind: "compact"; index: number; term: number };

/** The state a WAL rebuilds: what {@linkcode FileStorage} serves from memory. */
export interface WalState {
  hardState: HardState;
  /**
   * The latest snapshot; its data is loaded separately. Index 0 if none, when
   * its conf is the initial membership. Its conf is the membership as of its
   * index: the conf entries after it are in the log.
   */
  snapshot: SnapshotMeta;
  /** The compaction point: the last entry dropped from the log (0/0 if none). */
  baseIndex: number;
  baseTerm: number;
  /** Entries baseIndex + 1 .. baseIndex + entries.length. */
  entries: Entry[];
}

/** A record that scanning found whole and decoded. */
export interface WalRecord {
  /** Byte offset of the record in the file. */
  position: number;
  items: WalItem[];
}

/** What {@linkcode scanWal} found. */
export interface WalScan {
  records: WalRecord[];
  /** Bytes of whole records; a torn tail starts here. */
  validBytes: number;
  /** Why the bytes after `validBytes` are a torn tail, or null if there are none. */
  tornTail: string | null;
}

/** Bytes that cannot be a WAL, or damage that cannot be a torn tail. */
export class WalCorruptError extends Error {
  override name = "WalCorruptError";
}

/** The state of an empty log whose initial membership is `conf`. */
export function emptyState(conf: ConfState = { voters: [], learners: [] }): WalState {
  return {
    hardState: { term: 0, vote: "", commit: 0 },
    snapshot: { index: 0, term: 0, conf, dataBytes: 0, dataCrc: 0 },
    baseIndex: 0,
    baseTerm: 0,
    entries: [],
  };
}

/** A copy that {@linkcode applyItem} can change without touching `state` (entries and other values are shared, never mutated). */
export function cloneState(state: WalState): WalState {
  return { ...state, entries: state.entries.slice() };
}

/** The last index of the log held by `state`. */
export function lastIndexOf(state: WalState): number {
  return state.baseIndex + state.entries.length;
}

/** The term at `index`, which must be in [baseIndex, lastIndex]. */
export function termAt(state: WalState, index: number): number {
  if (index === state.baseIndex) return state.baseTerm;
  const entry = state.entries[index - state.baseIndex - 1];
  if (entry === undefined) {
    throw new RangeError(
      `Index "${index}" is outside [${state.baseIndex}, ${lastIndexOf(state)}]`,
    );
  }
  return entry.term;
}

/**
 * Throws a RangeError if applying `item` to `state` would do what Raft never
 * does: leave a gap in the log, let terms go down, change or drop a committed
 * entry, move the hard state's term or commit back, change a vote within a
 * term, store an older snapshot, compact below the compaction point. Changes
 * nothing; items of one record that touch different parts of the state (as
 * entries and a hard state do) can all be checked against the state before it.
 */
export function checkItem(state: WalState, item: WalItem): void {
  switch (item.kind) {
    case "header":
      throw new RangeError("A header item is only allowed alone in the first record");
    case "hardState":
      checkHardStateStep(state.hardState, item.hardState);
      return;
    case "conf":
      checkConf(item.conf);
      if (state.snapshot.index !== 0) {
        throw new RangeError(
          `A conf item sets the initial membership, but there is a snapshot at "${state.snapshot.index}"`,
        );
      }
      return;
    case "entries":
      checkAppend(state, item.entries);
      return;
    case "snapshot": {
      const meta = item.snapshot;
      checkSnapshotMeta(meta);
      if (meta.index <= state.snapshot.index) {
        throw new RangeError(
          `Snapshot at index "${meta.index}" is not newer than the one at "${state.snapshot.index}"`,
        );
      }
      return;
    }
    case "compact":
      checkIndexTerm(item.index, item.term);
      if (item.index < state.baseIndex) {
        throw new RangeError(
          `Compaction point "${item.index}" is below the current one "${state.baseIndex}"`,
        );
      }
      return;
  }
}

/**
 * Applies one item to `state` in place, after {@linkcode checkItem} (so a
 * refused item changes nothing). Appending at the end costs only the new
 * entries; the entries array is changed in place, so never share it.
 */
export function applyItem(state: WalState, item: WalItem): void {
  checkItem(state, item);
  switch (item.kind) {
    case "header":
      return;
    case "hardState":
      state.hardState = item.hardState;
      return;
    case "conf":
      state.snapshot = { ...state.snapshot, conf: item.conf };
      return;
    case "entries": {
      const entries = item.entries;
      const skip = Math.max(0, state.baseIndex - entries[0]!.index + 1);
      if (skip >= entries.length) return;
      const keep = entries[skip]!.index - state.baseIndex - 1;
      if (keep < state.entries.length) state.entries.length = keep;
      for (let i = skip; i < entries.length; i++) state.entries.push(entries[i]!);
      return;
    }
    case "snapshot":
      state.snapshot = item.snapshot;
      return;
    case "compact": {
      const { index, term } = item;
      if (index <= lastIndexOf(state) && termAt(state, index) === term) {
        state.entries = state.entries.slice(index - state.baseIndex);
      } else {
        state.entries = [];
      }
      state.baseIndex = index;
      state.baseTerm = term;
      return;
    }
  }
}

/** Invariants that hold between writes; a violation is a bug (or a damaged file) and fails loudly. */
export function checkState(state: WalState): void {
  if (state.baseIndex > state.snapshot.index) {
    throw new RangeError(
      `The compaction point "${state.baseIndex}" is past the snapshot at "${state.snapshot.index}"`,
    );
  }
  if (state.baseIndex === state.snapshot.index && state.baseTerm !== state.snapshot.term) {
    throw new RangeError(
      `The compaction point "${state.baseIndex}" has term "${state.baseTerm}" but the snapshot ` +
        `there has term "${state.snapshot.term}"`,
    );
  }
}

/** Checks that `entries` may be appended to `state` (see {@linkcode checkItem}). */
function checkAppend(state: WalState, entries: Entry[]): void {
  checkEntries(entries);
  const skip = Math.max(0, state.baseIndex - entries[0]!.index + 1);
  if (skip >= entries.length) return;
  const first = entries[0]!.index + skip;
  const last = lastIndexOf(state);
  if (first > last + 1) {
    throw new RangeError(
      `Entries starting at index "${first}" leave a gap after the last index "${last}"`,
    );
  }
  // Entries up to the commit index may be written again, but never changed or dropped.
  const committedHeld = Math.min(last, state.hardState.commit);
  if (first <= committedHeld) {
    const newLast = entries[entries.length - 1]!.index;
    for (let index = first; index <= committedHeld; index++) {
      const entry = entries[index - entries[0]!.index];
      if (entry === undefined || entry.term !== termAt(state, index)) {
        throw new RangeError(
          `Entries "${first}".."${newLast}" would ${
            entry === undefined ? "drop" : "replace"
          } committed entry "${index}" (commit "${state.hardState.commit}")`,
        );
      }
    }
  }
  const previousTerm = termAt(state, first - 1);
  if (entries[skip]!.term < previousTerm) {
    throw new RangeError(
      `Entry "${first}" has term "${
        entries[skip]!.term
      }", below the term "${previousTerm}" of the entry before it`,
    );
  }
}

/** Checks a batch of entries on its own: positive indexes and terms, dense, terms never going down. */
export function checkEntries(entries: Entry[]): void {
  if (entries.length === 0) throw new RangeError("An entries item holds no entries");
  let previous: Entry | undefined;
  for (const entry of entries) {
    checkIndexTerm(entry.index, entry.term);
    if (entry.index < 1 || entry.term < 1) {
      throw new RangeError(
        `Entry index "${entry.index}" and term "${entry.term}" must both be 1 or more`,
      );
    }
    if (entry.type !== "normal" && entry.type !== "conf") {
      throw new RangeError(`Entry "${entry.index}" has unknown type "${entry.type}"`);
    }
    if (!(entry.data instanceof Uint8Array)) {
      throw new RangeError(`Entry "${entry.index}" has data that is not a Uint8Array`);
    }
    if (previous !== undefined) {
      if (entry.index !== previous.index + 1) {
        throw new RangeError(
          `Entry "${entry.index}" follows entry "${previous.index}"; indexes must be dense`,
        );
      }
      if (entry.term < previous.term) {
        throw new RangeError(
          `Entry "${entry.index}" has term "${entry.term}", below the term "${previous.term}" before it`,
        );
      }
    }
    previous = entry;
  }
}

/** Checks that `next` may follow `previous`: terms and commit never go back, one vote per term. */
export function checkHardStateStep(previous: HardState, next: HardState): void {
  checkIndexTerm(next.commit, next.term);
  if (typeof next.vote !== "string") throw new RangeError("The hard state's vote is not a string");
  if (next.term < previous.term) {
    throw new RangeError(`Term "${next.term}" is below the stored term "${previous.term}"`);
  }
  if (next.term === previous.term && previous.vote !== "" && next.vote !== previous.vote) {
    throw new RangeError(
      `Vote "${next.vote}" replaces vote "${previous.vote}" within term "${next.term}"`,
    );
  }
  if (next.commit < previous.commit) {
    throw new RangeError(`Commit "${next.commit}" is below the stored commit "${previous.commit}"`);
  }
}

/** Checks a membership's shape: lists of distinct strings, no node in both. */
export function checkConf(conf: ConfState): void {
  const seen = new Set<string>();
  for (const node of [...conf.voters, ...conf.learners]) {
    if (typeof node !== "string") throw new RangeError("A node id in the conf is not a string");
    if (seen.has(node)) throw new RangeError(`Node "${node}" appears twice in the conf`);
    seen.add(node);
  }
}

function checkSnapshotMeta(meta: SnapshotMeta): void {
  checkIndexTerm(meta.index, meta.term);
  if (meta.index < 1 || meta.term < 1) {
    throw new RangeError(
      `Snapshot index "${meta.index}" and term "${meta.term}" must both be 1 or more`,
    );
  }
  checkConf(meta.conf);
}

function checkIndexTerm(index: number, term: number): void {
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new RangeError(`Index "${index}" must be a non-negative safe integer`);
  }
  if (!Number.isSafeInteger(term) || term < 0) {
    throw new RangeError(`Term "${term}" must be a non-negative safe integer`);
  }
}

/** The header record every WAL file starts with. */
export function headerItem(): WalItem {
  return { kind: "header", version: WAL_VERSION };
}

/**
 * A whole WAL file holding `state`: the header record, then records that
 * rebuild it from an empty state (entries cut into records of about
 * {@linkcode STATE_RECORD_ENTRY_BYTES}).
 */
export function encodeStateFile(state: WalState): Uint8Array {
  const records: WalItem[][] = [[headerItem()]];
  const first: WalItem[] = [];
  if (state.snapshot.index > 0) first.push({ kind: "snapshot", snapshot: state.snapshot });
  else first.push({ kind: "conf", conf: state.snapshot.conf });
  if (state.baseIndex > 0) {
    first.push({ kind: "compact", index: state.baseIndex, term: state.baseTerm });
  }
  first.push({ kind: "hardState", hardState: state.hardState });
  records.push(first);
  // Entries in records of their own, about STATE_RECORD_ENTRY_BYTES each (one entry at least).
  let chunk: Entry[] = [];
  let chunkBytes = 0;
  for (const entry of state.entries) {
    const bytes = ENTRY_FIXED_BYTES + entry.data.length;
    if (chunk.length > 0 && chunkBytes + bytes > STATE_RECORD_ENTRY_BYTES) {
      records.push([{ kind: "entries", entries: chunk }]);
      chunk = [];
      chunkBytes = 0;
    }
    chunk.push(entry);
    chunkBytes += bytes;
  }
  if (chunk.length > 0) records.push([{ kind: "entries", entries: chunk }]);
  return concat(records.map(encodeRecord));
}

/** One record: frame header, then the items. Refuses a payload above {@linkcode RECORD_BYTES_MAX}. */
export function encodeRecord(items: WalItem[]): Uint8Array {
  const out = new Writer();
  out.u32(0).u32(0);
  for (const item of items) encodeItem(out, item);
  const length = out.length - RECORD_HEADER_BYTES;
  if (length > RECORD_BYTES_MAX) {
    throw new RangeError(
      `A record of "${length}" bytes exceeds the bound "${RECORD_BYTES_MAX}"`,
    );
  }
  return sealRecord(out.finish());
}

function encodeItem(out: Writer, item: WalItem): void {
  const start = out.length;
  out.u8(0);
  out.u32(0);
  switch (item.kind) {
    case "header":
      out.u8At(start, KIND_HEADER);
      out.text(MAGIC);
      out.u16(item.version);
      break;
    case "hardState":
      out.u8At(start, KIND_HARD_STATE);
      out.u64(item.hardState.term);
      out.u64(item.hardState.commit);
      out.text(item.hardState.vote);
      break;
    case "entries":
      out.u8At(start, KIND_ENTRIES);
      out.u64(item.entries[0]?.index ?? 0);
      out.u32(item.entries.length);
      for (const entry of item.entries) {
        out.u64(entry.term);
        out.u8(entry.type === "conf" ? 1 : 0);
        out.bytes(entry.data);
      }
      break;
    case "conf":
      out.u8At(start, KIND_CONF);
      encodeConf(out, item.conf);
      break;
    case "snapshot":
      out.u8At(start, KIND_SNAPSHOT);
      out.u64(item.snapshot.index);
      out.u64(item.snapshot.term);
      encodeConf(out, item.snapshot.conf);
      out.u64(item.snapshot.dataBytes);
      out.u32(item.snapshot.dataCrc);
      break;
    case "compact":
      out.u8At(start, KIND_COMPACT);
      out.u64(item.index);
      out.u64(item.term);
      break;
  }
  out.u32At(start + 1, out.length - start - ITEM_HEADER_BYTES);
}

function encodeConf(out: Writer, conf: ConfState): void {
  out.u32(conf.voters.length);
  for (const node of conf.voters) out.text(node);
  out.u32(conf.learners.length);
  for (const node of conf.learners) out.text(node);
}

/**
 * Scans a whole WAL file. The first bad record (torn header, length out of
 * bounds, torn payload, checksum mismatch) ends the valid part; it is a torn
 * tail only if no whole record starts at any later byte, and otherwise the
 * file is damaged before its last record and this throws
 * {@linkcode WalCorruptError}. A whole record whose items do not decode is
 * damage too (or a newer format), never a torn write. The first record must
 * be the header, whole.
 */
export function scanWal(bytes: Uint8Array): WalScan {
  const records: WalRecord[] = [];
  let position = 0;
  let tornTail: string | null = null;
  while (position < bytes.length) {
    const problem = wholeRecordProblem(bytes, position);
    if (problem !== null) {
      const later = findWholeRecord(bytes, position + 1);
      if (later !== null) {
        throw new WalCorruptError(
          `Record at byte "${position}" is damaged (${problem}) but a whole record follows at ` +
            `byte "${later}", so this is not a torn tail; refusing to drop acknowledged writes`,
        );
      }
      tornTail = problem;
      break;
    }
    const length = recordLength(bytes, position);
    const payload = bytes.subarray(
      position + RECORD_HEADER_BYTES,
      position + RECORD_HEADER_BYTES + length,
    );
    let items: WalItem[];
    try {
      items = decodeItems(payload);
    } catch (error) {
      throw new WalCorruptError(
        `Record at byte "${position}" has a valid checksum but does not decode: ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
    }
    records.push({ position, items });
    position += RECORD_HEADER_BYTES + length;
  }
  const header = records[0];
  if (header === undefined) {
    throw new WalCorruptError(
      `The file has no whole header record${
        tornTail === null ? " (it is empty)" : ` (${tornTail})`
      }`,
    );
  }
  const first = header.items[0];
  if (header.items.length !== 1 || first?.kind !== "header") {
    throw new WalCorruptError("The first record is not a header");
  }
  if (first.version !== WAL_VERSION) {
    throw new WalCorruptError(
      `The WAL has format version "${first.version}"; this build reads "${WAL_VERSION}"`,
    );
  }
  return { records, validBytes: position, tornTail };
}

/** Why the record at `position` is not whole, or null if it is. */
function wholeRecordProblem(bytes: Uint8Array, position: number): string | null {
  return recordProblem(bytes, position, { lengthMin: 1, lengthMax: RECORD_BYTES_MAX });
}

/** The first byte offset at or after `from` where a whole record starts, or null. */
function findWholeRecord(bytes: Uint8Array, from: number): number | null {
  for (let at = from; at + RECORD_HEADER_BYTES < bytes.length; at++) {
    if (wholeRecordProblem(bytes, at) === null) return at;
  }
  return null;
}

function decodeItems(payload: Uint8Array): WalItem[] {
  const items: WalItem[] = [];
  const outer = new Reader(payload);
  while (!outer.done) {
    const kind = outer.u8();
    const body = new Reader(outer.take(outer.u32()));
    items.push(decodeItem(kind, body));
    if (!body.done) throw new RangeError(`Item of kind "${kind}" has ${body.left} stray bytes`);
  }
  if (items.length === 0) throw new RangeError("The record holds no items");
  return items;
}

function decodeItem(kind: number, body: Reader): WalItem {
  switch (kind) {
    case KIND_HEADER: {
      const magic = body.text();
      if (magic !== MAGIC) throw new RangeError(`Header magic "${magic}" is not "${MAGIC}"`);
      return { kind: "header", version: body.u16() };
    }
    case KIND_HARD_STATE: {
      const term = body.u64();
      const commit = body.u64();
      return { kind: "hardState", hardState: { term, vote: body.text(), commit } };
    }
    case KIND_ENTRIES: {
      const first = body.u64();
      const count = body.u32();
      const entries: Entry[] = [];
      for (let i = 0; i < count; i++) {
        const term = body.u64();
        const typeCode = body.u8();
        if (typeCode > 1) throw new RangeError(`Entry type code "${typeCode}" is unknown`);
        const type: EntryType = typeCode === 1 ? "conf" : "normal";
        // A copy, so the entry does not keep the whole file's buffer alive.
        entries.push({ index: first + i, term, type, data: body.bytes().slice() });
      }
      return { kind: "entries", entries };
    }
    case KIND_CONF:
      return { kind: "conf", conf: decodeConf(body) };
    case KIND_SNAPSHOT: {
      const index = body.u64();
      const term = body.u64();
      const conf = decodeConf(body);
      const dataBytes = body.u64();
      return {
        kind: "snapshot",
        snapshot: { index, term, conf, dataBytes, dataCrc: body.u32() },
      };
    }
    case KIND_COMPACT: {
      const index = body.u64();
      return { kind: "compact", index, term: body.u64() };
    }
    default:
      throw new RangeError(`Item kind "${kind}" is unknown`);
  }
}

function decodeConf(body: Reader): ConfState {
  const voters: string[] = [];
  for (let n = body.u32(); n > 0; n--) voters.push(body.text());
  const learners: string[] = [];
  for (let n = body.u32(); n > 0; n--) learners.push(body.text());
  return { voters, learners };
}

function concat(parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
