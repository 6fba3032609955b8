/**
 * An op: one logged write. Binary-safe, versioned encoding:
 *
 *   u8  version (1)
 *   26  id (ULID, ASCII: sorts by accept time)
 *   u8  origin length, origin node id (UTF-8)
 *   u8  rack length, rack (UTF-8)
 *   u16 db
 *   u8  protocol of the origin client (2 or 3: the reply is produced in it)
 *   u8  flags (bit 0: a client transaction, MULTI .. EXEC)
 *   f64 accept time (ms since the epoch, the accepting node's clock)
 *   u32 number of commands (0: a tick, which only moves log time), then per command:
 *       u32 argc, then per argument: u32 length, bytes
 *   (flag bit 1) the watch: u16 db, f64 from, u32 key count, per key u32 length, bytes
 *   (flag bit 2) the watched keys' expiries: f64 watch time, per key f64 (NaN: none)
 *   (flag bit 3) the script budget: f64 steps (src/determinism/script_budget.ts)
 *
 * A plain write is one command; a client transaction is its queued commands,
 * applied together and answered with one array, as EXEC is.
 * All integers big-endian.
 */

import type { Protocol } from "../resp/value.ts";

/** Current encoding version. */
export const OP_VERSION = 1;

/** One logged write. */
export interface Op {
  id: string;
  origin: string;
  rack: string;
  db: number;
  protocol: Protocol;
  /** A client transaction: its commands' replies go back as one array. */
  transaction: boolean;
  acceptedAtMs: number;
  /** One command, or a transaction's commands in order. */
  commands: Uint8Array[][];
  /**
   * A transaction's `WATCH`: it is aborted (EXEC answers nil) on every rack
   * alike if an op at or after `from` (the partition's position the client's
   * rack had applied when the keys were watched) and before this op touched
   * one of `keys` in `db`.
   */
  watch?: OpWatch;
  /**
   * The budget of the scripts and functions the op runs, in steps
   * (src/determinism/script_budget.ts): every rack stops an overrunning one
   * at the same point. Set by the accepting node on ops that run one;
   * undefined: the default budget.
   */
  scriptBudgetSteps?: number;
}

/** What a transaction watched. */
export interface OpWatch {
  db: number;
  from: number;
  keys: Uint8Array[];
  /**
   * When the keys were watched (the accepting node's clock) and each key's
   * expiry then, in log terms (undefined: none): a key whose expiry falls
   * after the watch and no later than the transaction's log time aborts it,
   * as in Redis 7, on every rack alike.
   */
  expiries?: { watchedAtMs: number; at: (number | undefined)[] };
}

/** A record that is not a valid op. */
export class OpFormatError extends Error {
  override name = "OpFormatError";
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A node writes the same origin and rack on every op and reads the same few
 * back: their bytes and strings are kept instead of encoded and decoded each
 * time (a tenth of the write path's CPU went to TextEncoder and TextDecoder).
 */
class NameCache {
  #bytes = new Map<string, Uint8Array>();
  #texts: { bytes: Uint8Array; text: string }[] = [];

  encode(text: string): Uint8Array {
    let bytes = this.#bytes.get(text);
    if (bytes === undefined) {
      bytes = utf8.encode(text);
      if (this.#bytes.size < 64) this.#bytes.set(text, bytes);
    }
    return bytes;
  }

  decode(bytes: Uint8Array): string {
    for (const known of this.#texts) {
      if (known.bytes.length === bytes.length && known.bytes.every((b, i) => b === bytes[i])) {
        return known.text;
      }
    }
    const text = fromUtf8.decode(bytes);
    if (this.#texts.length < 16) this.#texts.push({ bytes: bytes.slice(), text });
    return text;
  }
}

const names = new NameCache();

/** A ULID's text from its 26 bytes (ASCII; anything else is refused). */
function decodeId(bytes: Uint8Array): string {
  for (const b of bytes) if (b > 127) return fromUtf8.decode(bytes);
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}

/** Where {@linkcode encodeOp} leaves the op it encoded on the bytes it made. */
const ENCODED = Symbol("op");

/** Bytes made by {@linkcode encodeOp}, carrying their op. */
type Encoded = Uint8Array & { [ENCODED]?: Op };

/**
 * The op of a record read from the log: an array this process encoded is
 * taken back as built (the embedded log hands its newest records over as
 * they were appended), anything else is decoded.
 */
export function opOf(record: Uint8Array): Op {
  return (record as Encoded)[ENCODED] ?? decodeOp(record);
}

/**
 * Ops are small: they are cut from shared 64 KiB slabs rather than each given
 * its own ArrayBuffer (an allocation outside V8's heap per write).
 */
const SLAB_BYTES = 64 * 1024;
let slab = new Uint8Array(SLAB_BYTES);
let slabView = new DataView(slab.buffer);
let slabAt = 0;

/** The bytes of `op`; it must not change afterwards ({@linkcode opOf} may hand it back). */
export function encodeOp(op: Op): Uint8Array {
  const origin = names.encode(op.origin);
  const rack = names.encode(op.rack);
  const id = op.id;
  if (id.length !== 26) {
    throw new OpFormatError(`Op id must be a 26-character ULID, got '${id}'`);
  }
  if (origin.length > 255 || rack.length > 255) {
    throw new OpFormatError("Origin and rack must be under 256 bytes");
  }
  let size = 1 + 26 + 1 + origin.length + 1 + rack.length + 2 + 1 + 1 + 8 + 4;
  for (const argv of op.commands) {
    size += 4;
    for (const arg of argv) size += 4 + arg.length;
  }
  // The watch block goes last (flag bit 1): db u16, from f64, key count u32, keys.
  if (op.watch !== undefined) {
    size += 2 + 8 + 4;
    for (const key of op.watch.keys) size += 4 + key.length;
    const expiries = op.watch.expiries;
    if (expiries !== undefined) {
      if (expiries.at.length !== op.watch.keys.length) {
        throw new OpFormatError("A watch needs one expiry per key");
      }
      size += 8 + 8 * expiries.at.length;
    }
  }
  if (op.scriptBudgetSteps !== undefined) size += 8;
  if (size > SLAB_BYTES / 8) {
    const own = new Uint8Array(size);
    writeOp(op, own, new DataView(own.buffer), 0, origin, rack);
    (own as Encoded)[ENCODED] = op;
    return own;
  }
  if (slabAt + size > SLAB_BYTES) {
    slab = new Uint8Array(SLAB_BYTES);
    slabView = new DataView(slab.buffer);
    slabAt = 0;
  }
  const base = slabAt;
  writeOp(op, slab, slabView, base, origin, rack);
  slabAt = base + size;
  const out: Encoded = slab.subarray(base, slabAt);
  out[ENCODED] = op;
  return out;
}

/** Writes `op` (its size already counted) into `out` from `at`. */
function writeOp(
  op: Op,
  out: Uint8Array,
  view: DataView,
  at: number,
  origin: Uint8Array,
  rack: Uint8Array,
): void {
  const id = op.id;
  out[at++] = OP_VERSION;
  // ULIDs are ASCII: written char by char, without an encoder or a copy.
  for (let i = 0; i < 26; i++) {
    const c = id.charCodeAt(i);
    if (c > 127) throw new OpFormatError(`Op id must be a 26-character ULID, got '${id}'`);
    out[at++] = c;
  }
  out[at++] = origin.length;
  out.set(origin, at);
  at += origin.length;
  out[at++] = rack.length;
  out.set(rack, at);
  at += rack.length;
  view.setUint16(at, op.db);
  at += 2;
  out[at++] = op.protocol;
  out[at++] = (op.transaction ? 1 : 0) | (op.watch === undefined ? 0 : 2) |
    (op.watch?.expiries === undefined ? 0 : 4) | (op.scriptBudgetSteps === undefined ? 0 : 8);
  view.setFloat64(at, op.acceptedAtMs);
  at += 8;
  view.setUint32(at, op.commands.length);
  at += 4;
  for (const argv of op.commands) {
    view.setUint32(at, argv.length);
    at += 4;
    for (const arg of argv) {
      view.setUint32(at, arg.length);
      at += 4;
      out.set(arg, at);
      at += arg.length;
    }
  }
  if (op.watch !== undefined) {
    view.setUint16(at, op.watch.db);
    at += 2;
    view.setFloat64(at, op.watch.from);
    at += 8;
    view.setUint32(at, op.watch.keys.length);
    at += 4;
    for (const key of op.watch.keys) {
      view.setUint32(at, key.length);
      at += 4;
      out.set(key, at);
      at += key.length;
    }
    const expiries = op.watch.expiries;
    if (expiries !== undefined) {
      view.setFloat64(at, expiries.watchedAtMs);
      at += 8;
      for (const expiry of expiries.at) {
        view.setFloat64(at, expiry ?? NaN);
        at += 8;
      }
    }
  }
  if (op.scriptBudgetSteps !== undefined) view.setFloat64(at, op.scriptBudgetSteps);
}

/** Parses an op; arguments are views into `bytes`. Throws {@linkcode OpFormatError}. */
export function decodeOp(bytes: Uint8Array): Op {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const need = (n: number) => {
    if (at + n > bytes.length) {
      throw new OpFormatError(`Op truncated at byte ${at} (needs ${n} more)`);
    }
  };
  need(1);
  const version = bytes[at++];
  if (version !== OP_VERSION) throw new OpFormatError(`Unknown op version ${version}`);
  need(26);
  const id = decodeId(bytes.subarray(at, at + 26));
  at += 26;
  need(1);
  const originLength = bytes[at++]!;
  need(originLength);
  const origin = names.decode(bytes.subarray(at, at + originLength));
  at += originLength;
  need(1);
  const rackLength = bytes[at++]!;
  need(rackLength);
  const rack = names.decode(bytes.subarray(at, at + rackLength));
  at += rackLength;
  need(2 + 1 + 1 + 8 + 4);
  const db = view.getUint16(at);
  at += 2;
  const protocol = bytes[at++];
  if (protocol !== 2 && protocol !== 3) {
    throw new OpFormatError(`Op protocol ${protocol} is not 2 or 3`);
  }
  const flags = bytes[at++]!;
  if ((flags & ~15) !== 0) throw new OpFormatError(`Unknown op flags ${flags}`);
  if ((flags & 4) !== 0 && (flags & 2) === 0) {
    throw new OpFormatError("Op has watch expiries but no watch");
  }
  const acceptedAtMs = view.getFloat64(at);
  at += 8;
  const count = view.getUint32(at);
  at += 4;
  const commands: Uint8Array[][] = [];
  for (let c = 0; c < count; c++) {
    need(4);
    const argc = view.getUint32(at);
    at += 4;
    if (argc === 0) throw new OpFormatError(`Op command ${c} has no arguments`);
    const argv: Uint8Array[] = [];
    for (let i = 0; i < argc; i++) {
      need(4);
      const length = view.getUint32(at);
      at += 4;
      need(length);
      argv.push(bytes.subarray(at, at + length));
      at += length;
    }
    commands.push(argv);
  }
  let watch: OpWatch | undefined;
  if ((flags & 2) !== 0) {
    need(2 + 8 + 4);
    const watchDb = view.getUint16(at);
    const from = view.getFloat64(at + 2);
    const keyCount = view.getUint32(at + 10);
    at += 14;
    const keys: Uint8Array[] = [];
    for (let i = 0; i < keyCount; i++) {
      need(4);
      const length = view.getUint32(at);
      at += 4;
      need(length);
      keys.push(bytes.subarray(at, at + length));
      at += length;
    }
    watch = { db: watchDb, from, keys };
    if ((flags & 4) !== 0) {
      need(8 + 8 * keyCount);
      const watchedAtMs = view.getFloat64(at);
      at += 8;
      const expiries: (number | undefined)[] = [];
      for (let i = 0; i < keyCount; i++, at += 8) {
        const value = view.getFloat64(at);
        expiries.push(Number.isNaN(value) ? undefined : value);
      }
      watch.expiries = { watchedAtMs, at: expiries };
    }
  }
  let scriptBudgetSteps: number | undefined;
  if ((flags & 8) !== 0) {
    need(8);
    scriptBudgetSteps = view.getFloat64(at);
    at += 8;
    if (!Number.isSafeInteger(scriptBudgetSteps) || scriptBudgetSteps < 0) {
      throw new OpFormatError(`Op script budget ${scriptBudgetSteps} is not a number of steps`);
    }
  }
  if (at !== bytes.length) throw new OpFormatError(`Op has ${bytes.length - at} trailing bytes`);
  const transaction = (flags & 1) === 1;
  const op: Op = { id, origin, rack, db, protocol, transaction, acceptedAtMs, commands };
  if (watch !== undefined) op.watch = watch;
  if (scriptBudgetSteps !== undefined) op.scriptBudgetSteps = scriptBudgetSteps;
  return op;
}
