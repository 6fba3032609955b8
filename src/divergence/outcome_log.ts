/**
 * One partition's running fingerprint of the outcomes this rack applied.
 *
 * Batches end at different offsets on different racks, so racks compare over
 * fixed windows of log offsets: window k holds offsets [kW, (k+1)W). Each op
 * gets a digest (src/divergence/outcome.ts) and a chain value: the chain of
 * the op before it in its window (a fixed seed at the window's first offset)
 * mixed with its digest. So the chain at offset o fingerprints every outcome
 * of o's window up to o, on any rack that saw that window from its first
 * offset; the chain at a window's last offset is the window's hash.
 *
 * A rack that starts recording in mid-window (a restart, a new rack leader,
 * offsets that jump because another applier moved the position) has no
 * chain for that window and simply skips it: its chains begin at the next
 * window. Offsets seen again (a Redis that failed over and lost its last
 * batches, or one emptied to be rebuilt from the log) start it afresh the
 * same way: what they answer now replaces what they answered before.
 *
 * Kept, bounded ({@linkcode outcomeBounds}): the last `ringOps` ops with
 * their digest and the start of their reply, to name the first op that
 * differs; the hashes of the last `windowsKept` windows, to compare with a
 * rack that applies far behind this one.
 */

import { chain52 } from "./hash52.ts";

/** How much a partition's outcome log keeps, from the log's partition count (the same on every rack). */
export interface OutcomeBounds {
  /** Offsets per window: W. */
  windowOps: number;
  /** Ops kept with their digest and reply excerpt. */
  ringOps: number;
  /** Window hashes kept. */
  windowsKept: number;
}

/** Bounds shrink with many partitions so all of them together stay near 131,072 ops kept. */
export function outcomeBounds(partitions: number): OutcomeBounds {
  const ringOps = Math.min(4_096, Math.max(64, 2 ** Math.floor(Math.log2(131_072 / partitions))));
  return {
    windowOps: Math.min(256, ringOps / 2),
    ringOps,
    windowsKept: Math.min(65_536, Math.max(256, Math.floor(1_048_576 / partitions))),
  };
}

/** Bytes of each reply kept to name it in a message. */
export const REPLY_KEPT_BYTES = 96;

/** One op as this rack applied it. */
export interface OutcomeRecord {
  offset: number;
  opId: string;
  /** The rack that accepted the op (its reply is what the client saw); "" when not an op. */
  rack: string;
  digest: number;
  /** The start of the reply Redis gave here (not the compared form): {@linkcode REPLY_KEPT_BYTES} at most. */
  reply: Uint8Array;
  /** The whole reply's length. */
  replyLength: number;
}

/** The chain's value before the first op of every window. */
const WINDOW_SEED = 0x5eed;

/** A point a rack can be compared at: an offset and the chain there. */
export interface ChainPoint {
  offset: number;
  chain: number;
}

/** A partition's outcomes as this rack applied them, bounded. */
export class OutcomeLog {
  readonly bounds: OutcomeBounds;
  /** The offset expected next; undefined before the first op. */
  #next: number | undefined;
  /** Chains are valid from here (a window's first offset); Infinity: none yet. */
  #validFrom = Infinity;
  #chain = WINDOW_SEED;
  // The kept ops, by offset modulo ringOps: a contiguous run [#ringStart, #next). In arrays and
  // one slab of reply bytes: nothing is allocated per op.
  #ringStart = 0;
  #opIds: string[] = [];
  #racks: string[] = [];
  #digests: Float64Array;
  #chains: Float64Array;
  #replies: Uint8Array;
  #replyLengths: Float64Array;
  /** Window hashes by window index modulo windowsKept, with the index they hold. */
  #windowIds: Float64Array;
  #windowHashes: Float64Array;

  constructor(bounds: OutcomeBounds) {
    this.bounds = bounds;
    this.#digests = new Float64Array(bounds.ringOps);
    this.#chains = new Float64Array(bounds.ringOps);
    this.#replies = new Uint8Array(bounds.ringOps * REPLY_KEPT_BYTES);
    this.#replyLengths = new Float64Array(bounds.ringOps);
    this.#windowIds = new Float64Array(bounds.windowsKept).fill(-1);
    this.#windowHashes = new Float64Array(bounds.windowsKept);
  }

  /** The offset after the last op recorded (undefined before any). */
  get next(): number | undefined {
    return this.#next;
  }

  /** The first offset whose chain is known (a window start), or undefined. */
  get validFrom(): number | undefined {
    return this.#validFrom === Infinity ? undefined : this.#validFrom;
  }

  /** Records the outcome of the op at `offset`; `reply` is the whole reply Redis gave. */
  add(offset: number, op: { opId: string; rack: string; digest: number; reply: Uint8Array }): void {
    const W = this.bounds.windowOps;
    if (this.#next === undefined || offset !== this.#next) {
      // A start, a gap or a step back: the ops kept no longer run up to here; chains begin at
      // the next window, and window hashes from here on are recomputed as they are applied.
      if (this.#next !== undefined && offset < this.#next) {
        this.#forgetWindowsFrom(Math.floor(offset / W));
      }
      this.#validFrom = Math.ceil(offset / W) * W;
      this.#ringStart = offset;
    }
    if (offset % W === 0) this.#chain = WINDOW_SEED;
    this.#chain = chain52(this.#chain, op.digest);
    const slot = offset % this.bounds.ringOps;
    this.#opIds[slot] = op.opId;
    this.#racks[slot] = op.rack;
    this.#digests[slot] = op.digest;
    this.#chains[slot] = this.#chain;
    this.#replies.set(op.reply.subarray(0, REPLY_KEPT_BYTES), slot * REPLY_KEPT_BYTES);
    this.#replyLengths[slot] = op.reply.length;
    this.#next = offset + 1;
    if (this.#next - this.#ringStart > this.bounds.ringOps) this.#ringStart++;
    if ((offset + 1) % W === 0 && offset >= this.#validFrom) {
      const k = (offset + 1) / W - 1;
      const at = k % this.bounds.windowsKept;
      this.#windowIds[at] = k;
      this.#windowHashes[at] = this.#chain;
    }
  }

  #forgetWindowsFrom(k: number): void {
    this.#windowIds.forEach((id, at) => {
      if (id >= k) this.#windowIds[at] = -1;
    });
  }

  /** Whether the op at `offset` is kept. */
  #holds(offset: number): boolean {
    return this.#next !== undefined && offset >= this.#ringStart && offset < this.#next;
  }

  /** The digest of the op kept at `offset`, if any. */
  digestAt(offset: number): number | undefined {
    return this.#holds(offset) ? this.#digests[offset % this.bounds.ringOps] : undefined;
  }

  /** The op kept at `offset`, if any (a copy). */
  record(offset: number): OutcomeRecord | undefined {
    if (!this.#holds(offset)) return undefined;
    const slot = offset % this.bounds.ringOps;
    const length = this.#replyLengths[slot]!;
    const at = slot * REPLY_KEPT_BYTES;
    return {
      offset,
      opId: this.#opIds[slot]!,
      rack: this.#racks[slot]!,
      digest: this.#digests[slot]!,
      reply: this.#replies.slice(at, at + Math.min(length, REPLY_KEPT_BYTES)),
      replyLength: length,
    };
  }

  /** The kept ops in [from, to] (both included). */
  records(from: number, to: number): OutcomeRecord[] {
    const out: OutcomeRecord[] = [];
    for (let o = Math.max(from, this.#ringStart); o <= to; o++) {
      const r = this.record(o);
      if (r === undefined) break;
      out.push(r);
    }
    return out;
  }

  /** The chain at `offset` when it is kept and its window was seen from its start. */
  chainAt(offset: number): number | undefined {
    if (!this.#holds(offset) || offset < this.#validFrom) return undefined;
    return this.#chains[offset % this.bounds.ringOps];
  }

  /** The last op recorded, when its chain is known. */
  latest(): ChainPoint | undefined {
    if (this.#next === undefined) return undefined;
    const offset = this.#next - 1;
    const chain = this.chainAt(offset);
    return chain === undefined ? undefined : { offset, chain };
  }

  /** Window `k`'s hash, when this rack saw it whole and still keeps it. */
  window(k: number): number | undefined {
    const at = k % this.bounds.windowsKept;
    return k >= 0 && this.#windowIds[at] === k ? this.#windowHashes[at] : undefined;
  }

  /** The last window this rack has applied to its end (-1: none). */
  lastWindow(): number {
    return this.#next === undefined ? -1 : Math.floor(this.#next / this.bounds.windowOps) - 1;
  }

  /** The first window this rack keeps a hash of, or undefined. */
  firstWindow(): number | undefined {
    if (this.#validFrom === Infinity) return undefined;
    const first = this.#validFrom / this.bounds.windowOps;
    return Math.max(first, this.lastWindow() - this.bounds.windowsKept + 1);
  }
}
