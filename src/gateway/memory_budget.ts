/**
 * A node-wide budget for what clients make Pylon hold: bytes of requests
 * received and not yet decoded, and bytes of replies waiting for a client to
 * read them. Each connection reports its own total; past the budget the
 * largest holders are closed, so no mix of clients can grow the node without
 * bound and the small ones keep being served.
 */

/** Bytes dropped by clients after which a garbage collection is asked for. */
const COLLECT_AFTER_BYTES = 32 * 1024 * 1024;
/**
 * Only a holder that let go of this much at once counts towards a collection:
 * the churn of small requests and replies is young garbage V8 collects on its
 * own, and counting it forced a full collection every second or two under load.
 */
const LARGE_RELEASE_BYTES = 1024 * 1024;

/** Something that holds client bytes and can be made to let go of them. */
export interface Holder {
  /** Closes it, dropping what it holds. */
  destroy(): void;
}

/** The budget shared by every connection of a gateway. */
export class MemoryBudget {
  /** The budget; a reload may change it. */
  limitBytes: number;
  #held = new Map<Holder, number>();
  #total = 0;
  /** Connections closed for taking the node past the budget. */
  closedOver = 0;

  constructor(limitBytes: number) {
    this.limitBytes = limitBytes;
  }

  /** Bytes held by every connection now. */
  get totalBytes(): number {
    return this.#total;
  }

  /**
   * Records that `owner` holds `bytes` now. When that takes the node past its
   * budget, the largest holders are closed until it is back within it (as
   * Redis's `maxmemory-clients` evicts the biggest clients first), so a few
   * greedy clients cannot starve the others. False when `owner` itself was
   * closed.
   */
  update(owner: Holder, bytes: number): boolean {
    const before = this.#held.get(owner) ?? 0;
    // The common case under load: nothing held before or after a turn.
    if (bytes === before && this.#total <= this.limitBytes) return true;
    if (bytes === 0) this.#held.delete(owner);
    else this.#held.set(owner, bytes);
    this.#total += bytes - before;
    if (before - bytes >= LARGE_RELEASE_BYTES) this.#released(before - bytes);
    let survived = true;
    while (this.#total > this.limitBytes && this.#held.size > 0) {
      let largest: Holder | undefined;
      let most = -1;
      for (const [holder, held] of this.#held) {
        if (held > most) {
          largest = holder;
          most = held;
        }
      }
      this.closedOver++;
      if (largest === owner) survived = false;
      // destroy() reports 0 bytes for it, which takes it off the books.
      largest!.destroy();
      if (this.#held.get(largest!) === most) {
        this.#held.delete(largest!);
        this.#total -= most;
      }
    }
    return survived;
  }

  /**
   * Large buffers dropped by clients are given back to the system at the next
   * garbage collection; an idle node may not collect for a long time, so one
   * is asked for once enough was dropped (when the runtime exposes `gc`, as
   * `deno task start` arranges).
   */
  #released(bytes: number): void {
    this.#releasedSinceCollect += bytes;
    if (this.#releasedSinceCollect < COLLECT_AFTER_BYTES || this.#collecting) return;
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc === undefined) return;
    this.#collecting = true;
    setTimeout(() => {
      this.#collecting = false;
      this.#releasedSinceCollect = 0;
      gc();
    }, 100);
  }

  #releasedSinceCollect = 0;
  #collecting = false;
}
