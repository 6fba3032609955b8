/**
 * Splits an RDB stream (what a Redis master sends a replica, or writes to
 * `dump.rdb`) into what a rebuild loads: each key with its db, its stored
 * expiry and its value exactly as serialized (the bytes a DUMP payload is
 * made of), the function libraries, and the end with the stream's checksum
 * checked. Nothing is decoded that need not be: a value is only walked far
 * enough to find where it ends, so a hash of a million fields costs a scan,
 * not a million allocations.
 *
 * Resumable: bytes are pushed as they arrive and {@linkcode RdbSplitter.next}
 * returns the next whole item, or undefined until enough has arrived. An item
 * cut by the end of what arrived is parsed again from its start once at
 * least {@linkcode RdbSplitter.neededBytes} are buffered; that bound doubles
 * with each attempt, so a value arriving in many pieces is scanned a bounded
 * number of times (about twice its size in all).
 *
 * Formats: RDB versions up to 12 (Redis 7.4), value types 0-5 and 9-21 (every
 * encoding of strings, lists, sets, sorted sets, hashes and streams up to
 * Redis 7.2); module data (module keys and module aux fields) and hashes with
 * field expiries (Redis 7.4 types 22-25) are refused with their reason.
 */

import { ChunkBuffer } from "../resp/chunk_buffer.ts";
import { type Crc64, crc64, CRC64_ZERO, crc64Hex, readCrc64 } from "./crc64.ts";

/** The newest RDB version this splitter reads (Redis 7.4). */
export const RDB_VERSION_MAX = 12;

/** Bytes one item may span: Redis's own `proto-max-bulk-len` bounds a `RESTORE` payload alike. */
export const ITEM_BYTES_MAX = 512 * 1024 * 1024;

/** A cut item longer than this is walked again only once twice as many bytes arrived. */
const RETRY_DOUBLING_FROM = 16 * 1024;

/** One thing an RDB stream holds, in stream order. */
export type RdbItem =
  | { kind: "header"; version: number }
  /** An aux field (`redis-ver`, `ctime`, ...), as text. */
  | { kind: "aux"; name: string; value: string }
  /** The keys that follow belong to `db`. */
  | { kind: "select"; db: number }
  /** How many keys (and keys with expiries) the current db holds. */
  | { kind: "resize"; keys: number; expires: number }
  /**
   * A key: its name, its expiry as stored (ms since the epoch; undefined:
   * none), its RDB type and `body`, its value as serialized (a DUMP payload
   * is the type byte, the body, the RDB version and a CRC). `body` is a view
   * of bytes the splitter no longer changes.
   */
  | {
    kind: "key";
    db: number;
    key: Uint8Array;
    expireMs: number | undefined;
    type: number;
    body: Uint8Array;
  }
  /** A function library: its opcode and code as serialized (the body of a FUNCTION DUMP payload). */
  | { kind: "function"; payload: Uint8Array }
  /** The end: the stream's checksum matched (or the server stored none). */
  | { kind: "end"; checksum: "matched" | "absent" };

/** A stream that is not an RDB this splitter can carry. */
export class RdbFormatError extends Error {
  override name = "RdbFormatError";
}

const OP = {
  slotInfo: 244,
  function2: 245,
  functionPreGa: 246,
  moduleAux: 247,
  idle: 248,
  freq: 249,
  aux: 250,
  resizeDb: 251,
  expireTimeMs: 252,
  expireTime: 253,
  selectDb: 254,
  eof: 255,
} as const;

/** Thrown inside a parse when the item runs past what has arrived. */
class Short {
  /** The window index the parse needed to reach. */
  needed = 0;
}
const SHORT = new Short();

const ascii = new TextDecoder("latin1");

/** Walks one item inside the contiguous window; throws {@linkcode SHORT} past its end. */
class Cursor {
  buf: Uint8Array = new Uint8Array(0);
  pos = 0;
  end = 0;

  reset(buf: Uint8Array, pos: number, end: number): void {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  need(n: number): void {
    if (this.pos + n > this.end) {
      SHORT.needed = this.pos + n;
      throw SHORT;
    }
  }

  byte(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  /** A length; `encoded` is set when the top bits say a special string encoding follows. */
  length(): { value: number; encoded: boolean } {
    const first = this.byte();
    const kind = first >> 6;
    if (kind === 0) return { value: first & 0x3f, encoded: false };
    if (kind === 1) return { value: ((first & 0x3f) << 8) | this.byte(), encoded: false };
    if (kind === 3) return { value: first & 0x3f, encoded: true };
    if (first === 0x80) {
      this.need(4);
      const view = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4);
      this.pos += 4;
      return { value: view.getUint32(0), encoded: false };
    }
    if (first === 0x81) {
      this.need(8);
      const view = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8);
      this.pos += 8;
      return { value: Number(view.getBigUint64(0)), encoded: false };
    }
    throw new RdbFormatError(`unknown length encoding 0x${first.toString(16)}`);
  }

  /** A plain length (no special encoding allowed). */
  len(): number {
    const { value, encoded } = this.length();
    if (encoded) throw new RdbFormatError("an encoded value where a length belongs");
    return value;
  }

  /** Skips a string in any encoding. */
  skipString(): void {
    const { value, encoded } = this.length();
    if (!encoded) return this.skip(value);
    switch (value) {
      case 0:
        return this.skip(1);
      case 1:
        return this.skip(2);
      case 2:
        return this.skip(4);
      case 3: {
        const compressed = this.len();
        this.len();
        return this.skip(compressed);
      }
      default:
        throw new RdbFormatError(`unknown string encoding ${value}`);
    }
  }

  /** A string's bytes, decoded from its encoding (integers as decimal text, LZF expanded). */
  string(): Uint8Array {
    const { value, encoded } = this.length();
    if (!encoded) {
      this.need(value);
      const out = this.buf.slice(this.pos, this.pos + value);
      this.pos += value;
      return out;
    }
    if (value <= 2) {
      const size = 1 << value;
      this.need(size);
      const view = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, size);
      this.pos += size;
      const n = size === 1
        ? view.getInt8(0)
        : size === 2
        ? view.getInt16(0, true)
        : view.getInt32(0, true);
      return new TextEncoder().encode(String(n));
    }
    if (value === 3) {
      const compressed = this.len();
      const length = this.len();
      this.need(compressed);
      const out = lzfDecompress(this.buf.subarray(this.pos, this.pos + compressed), length);
      this.pos += compressed;
      return out;
    }
    throw new RdbFormatError(`unknown string encoding ${value}`);
  }

  /** 8 bytes, little-endian, as a number (times in ms). */
  int64(): number {
    this.need(8);
    const view = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8);
    this.pos += 8;
    return Number(view.getBigInt64(0, true));
  }

  int32(): number {
    this.need(4);
    const view = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4);
    this.pos += 4;
    return view.getInt32(0, true);
  }
}

/** Splits an RDB stream into {@linkcode RdbItem}s as its bytes arrive. */
export class RdbSplitter {
  #in = new ChunkBuffer();
  #cursor = new Cursor();
  #version = -1;
  #db = 0;
  #expireMs: number | undefined;
  #crc: Crc64 = CRC64_ZERO;
  #done = false;
  /** Bytes the current item surely needs buffered (from its start): what its parse reached. */
  #needed = 9;
  /**
   * Bytes buffered before the next attempt at a long item that was cut
   * short: twice what was tried, so it is scanned a bounded number of times.
   * Not waited for once the input has ended.
   */
  #retryAt = 0;
  #ended = false;
  #consumed = 0;
  readonly #itemBytesMax: number;

  constructor(options: { itemBytesMax?: number } = {}) {
    this.#itemBytesMax = options.itemBytesMax ?? ITEM_BYTES_MAX;
  }

  /** Appends bytes of the stream (kept by reference). */
  push(chunk: Uint8Array): void {
    if (this.#done && chunk.length > 0) {
      throw new RdbFormatError(`${chunk.length} bytes after the end of the RDB stream`);
    }
    this.#in.push(chunk);
  }

  /** Bytes pushed and not yet returned as items. */
  get bufferedBytes(): number {
    return this.#in.available;
  }

  /** Bytes worth buffering before the next item is tried again (what flow control asks for). */
  get neededBytes(): number {
    return Math.max(this.#needed, this.#retryAt);
  }

  /** No more bytes will come: items cut short are tried with what there is. */
  end(): void {
    this.#ended = true;
  }

  /** Bytes of the stream returned as items so far. */
  get consumedBytes(): number {
    return this.#consumed;
  }

  /** Whether the end (with its checksum) has been returned. */
  get done(): boolean {
    return this.#done;
  }

  /** The RDB version, once the header was read. */
  get version(): number {
    return this.#version;
  }

  /** The next whole item, or undefined until more bytes arrive. Throws {@linkcode RdbFormatError}. */
  next(): RdbItem | undefined {
    if (this.#done) return undefined;
    const input = this.#in;
    if (input.available < this.#needed) return undefined;
    if (input.available < this.#retryAt && !this.#ended) return undefined;
    let parsed = this.#attempt();
    if (parsed === undefined && input.hasQueued) {
      // Cut by the end of the window: join what has arrived behind it and try once more.
      input.joinAll();
      parsed = this.#attempt();
    }
    if (parsed === undefined) {
      if (this.#needed > this.#itemBytesMax) {
        throw new RdbFormatError(
          `an item of the RDB stream spans more than ${this.#itemBytesMax} bytes (a key's value ` +
            `larger than Redis's proto-max-bulk-len cannot be restored)`,
        );
      }
      return undefined;
    }
    const { item, start, end } = parsed;
    if (item.kind === "end") {
      // The checksum covers everything before it, the EOF opcode included.
      this.#crc = crc64(input.buf, this.#crc, start, end - 8);
      const stored = readCrc64(input.buf, end - 8);
      if (stored.lo === 0 && stored.hi === 0) {
        parsed.item = { kind: "end", checksum: "absent" };
      } else if (stored.lo !== this.#crc.lo || stored.hi !== this.#crc.hi) {
        throw new RdbFormatError(
          `the RDB stream's checksum is ${crc64Hex(stored)}, its bytes give ${crc64Hex(this.#crc)}`,
        );
      }
      this.#done = true;
    } else {
      this.#crc = crc64(input.buf, this.#crc, start, end);
    }
    this.#consumed += end - start;
    input.pos = end;
    this.#needed = 1;
    this.#retryAt = 0;
    if (this.#done && input.available > 0) {
      throw new RdbFormatError(`${input.available} bytes after the end of the RDB stream`);
    }
    return parsed.item;
  }

  /** One parse from the window's start; undefined (and `#needed` set) when cut short. */
  #attempt(): { item: RdbItem; start: number; end: number } | undefined {
    const input = this.#in;
    const cursor = this.#cursor;
    const start = input.pos;
    cursor.reset(input.buf, start, input.buf.length);
    try {
      const item = this.#version < 0 ? this.#header() : this.#item();
      return { item, start, end: cursor.pos };
    } catch (error) {
      if (error !== SHORT) throw error;
      this.#needed = Math.max(SHORT.needed - start, 1);
      const span = input.buf.length - start;
      this.#retryAt = span >= RETRY_DOUBLING_FROM ? 2 * span : 0;
      return undefined;
    }
  }

  /** Drops the bytes of items already returned (call when the last item's views are no longer used). */
  compact(): void {
    this.#in.compact();
  }

  #header(): RdbItem {
    const c = this.#cursor;
    c.need(9);
    const magic = ascii.decode(c.buf.subarray(c.pos, c.pos + 5));
    const digits = ascii.decode(c.buf.subarray(c.pos + 5, c.pos + 9));
    if (magic !== "REDIS" || !/^\d{4}$/.test(digits)) {
      throw new RdbFormatError("the stream does not start as an RDB ('REDIS' and four digits)");
    }
    const version = Number(digits);
    if (version < 1 || version > RDB_VERSION_MAX) {
      throw new RdbFormatError(
        `RDB version ${version} is not one this node reads (1 to ${RDB_VERSION_MAX})`,
      );
    }
    c.pos += 9;
    this.#version = version;
    return { kind: "header", version };
  }

  #item(): RdbItem {
    const c = this.#cursor;
    let expireMs: number | undefined;
    // Expiry, idle time and frequency come before their key, in the same item.
    while (true) {
      const type = c.byte();
      switch (type) {
        case OP.expireTimeMs:
          expireMs = c.int64();
          continue;
        case OP.expireTime:
          expireMs = c.int32() * 1000;
          continue;
        case OP.idle:
          c.len();
          continue;
        case OP.freq:
          c.skip(1);
          continue;
        case OP.eof:
          if (this.#version >= 5) c.skip(8);
          return { kind: "end", checksum: "matched" };
        case OP.selectDb: {
          const db = c.len();
          this.#db = db;
          return { kind: "select", db };
        }
        case OP.resizeDb: {
          const keys = c.len();
          const expires = c.len();
          return { kind: "resize", keys, expires };
        }
        case OP.aux: {
          const name = ascii.decode(c.string());
          const value = ascii.decode(c.string());
          return { kind: "aux", name, value };
        }
        case OP.function2: {
          const start = c.pos - 1;
          c.skipString();
          return { kind: "function", payload: c.buf.subarray(start, c.pos) };
        }
        case OP.slotInfo:
          c.len();
          c.len();
          c.len();
          continue;
        case OP.functionPreGa:
          throw new RdbFormatError(
            "the RDB holds functions in the format of Redis 7.0's release candidates",
          );
        case OP.moduleAux:
          throw new RdbFormatError(
            "the RDB holds module data (a module's aux field), which a rebuild cannot carry",
          );
        default: {
          const key = c.string();
          const start = c.pos;
          skipValue(c, type);
          return {
            kind: "key",
            db: this.#db,
            key,
            expireMs,
            type,
            body: c.buf.subarray(start, c.pos),
          };
        }
      }
    }
  }
}

/** Walks past one value of RDB type `type`. */
function skipValue(c: Cursor, type: number): void {
  switch (type) {
    case 0: // string
    case 9: // hash zipmap
    case 10: // list ziplist
    case 11: // set intset
    case 12: // zset ziplist
    case 13: // hash ziplist
    case 16: // hash listpack
    case 17: // zset listpack
    case 20: // set listpack
      return c.skipString();
    case 1: // list (linked list)
    case 2: // set (hash table)
    case 14: // list quicklist
      for (let n = c.len(); n > 0; n--) c.skipString();
      return;
    case 3: // zset (old: scores as text)
      for (let n = c.len(); n > 0; n--) {
        c.skipString();
        const length = c.byte();
        if (length < 253) c.skip(length);
      }
      return;
    case 4: // hash (hash table)
      for (let n = c.len() * 2; n > 0; n--) c.skipString();
      return;
    case 5: // zset 2 (binary scores)
      for (let n = c.len(); n > 0; n--) {
        c.skipString();
        c.skip(8);
      }
      return;
    case 18: // list quicklist 2
      for (let n = c.len(); n > 0; n--) {
        c.len();
        c.skipString();
      }
      return;
    case 15:
    case 19:
    case 21:
      return skipStream(c, type);
    case 6:
    case 7:
      throw new RdbFormatError(
        "the RDB holds a module's value (RDB type " + type + "), which a rebuild cannot carry",
      );
    case 22:
    case 23:
    case 24:
    case 25:
      throw new RdbFormatError(
        `the RDB holds a hash with field expiries (RDB type ${type}, Redis 7.4), which this ` +
          `node does not carry`,
      );
    default:
      throw new RdbFormatError(`unknown RDB value type ${type}`);
  }
}

/** Walks past a stream (RDB types 15, 19 and 21). */
function skipStream(c: Cursor, type: number): void {
  for (let n = c.len(); n > 0; n--) {
    c.skipString(); // master id
    c.skipString(); // listpack
  }
  c.len(); // length
  c.len(); // last id ms
  c.len(); // last id seq
  if (type >= 19) {
    c.len(); // first id ms
    c.len(); // first id seq
    c.len(); // max deleted id ms
    c.len(); // max deleted id seq
    c.len(); // entries added
  }
  for (let groups = c.len(); groups > 0; groups--) {
    c.skipString(); // name
    c.len(); // last id ms
    c.len(); // last id seq
    if (type >= 19) c.len(); // entries read
    for (let pel = c.len(); pel > 0; pel--) {
      c.skip(16); // id
      c.skip(8); // delivery time
      c.len(); // delivery count
    }
    for (let consumers = c.len(); consumers > 0; consumers--) {
      c.skipString(); // name
      c.skip(8); // seen time
      if (type >= 21) c.skip(8); // active time
      for (let pel = c.len(); pel > 0; pel--) c.skip(16);
    }
  }
}

/** LZF decompression (liblzf's format, as Redis uses it) of `input` into `length` bytes. */
export function lzfDecompress(input: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let i = 0;
  let o = 0;
  while (i < input.length) {
    const control = input[i++]!;
    if (control < 32) {
      const run = control + 1;
      if (o + run > length || i + run > input.length) throw new RdbFormatError("corrupt LZF data");
      out.set(input.subarray(i, i + run), o);
      i += run;
      o += run;
    } else {
      let run = control >> 5;
      if (run === 7) {
        if (i >= input.length) throw new RdbFormatError("corrupt LZF data");
        run += input[i++]!;
      }
      if (i >= input.length) throw new RdbFormatError("corrupt LZF data");
      let ref = o - ((control & 0x1f) << 8) - 1 - input[i++]!;
      run += 2;
      if (ref < 0 || o + run > length) throw new RdbFormatError("corrupt LZF data");
      while (run-- > 0) out[o++] = out[ref++]!;
    }
  }
  if (o !== length) throw new RdbFormatError("corrupt LZF data (short)");
  return out;
}
