/**
 * Writes accepted by this node and waiting for their reply. The write path
 * registers each op before appending it and records its offset once the log
 * acknowledges it; the reply comes from whoever applied the op: this node's
 * applier, another node's hand-back, or reply recovery (src/applier/
 * reply_recovery.ts) for ops another applier applied.
 */

/** One write waiting for its reply. */
export interface PendingWrite {
  id: string;
  partition: number;
  /** Known once the log acknowledged the append. */
  offset: number | undefined;
  /** Receives the raw reply (Redis's bytes, in the client's protocol). */
  settle: (reply: Uint8Array) => void;
  /** When the client stops waiting, on the monotonic clock ({@linkcode PendingWrites.expire}). */
  deadlineMs: number;
  /** Called instead of `settle` when the deadline passes. */
  expired: () => void;
  /** When reply recovery first saw the rack's position pass this write (`performance.now()`). */
  passedAt: number | undefined;
}

/** The writes of this node that await their replies. */
export class PendingWrites {
  #byId = new Map<string, PendingWrite>();
  /** Writes with a known offset, for reply recovery. */
  #placed = new Set<PendingWrite>();

  /** Writes waiting. */
  get size(): number {
    return this.#byId.size;
  }

  /**
   * Starts waiting for op `id`'s reply until `deadlineMs`. Deadlines must not
   * decrease from one registration to the next (a constant timeout keeps
   * that), so {@linkcode expire} finds the expired ones at the front.
   */
  register(
    id: string,
    partition: number,
    deadlineMs: number,
    settle: (reply: Uint8Array) => void,
    expired: () => void,
  ): PendingWrite {
    const write: PendingWrite = {
      id,
      partition,
      offset: undefined,
      settle,
      deadlineMs,
      expired,
      passedAt: undefined,
    };
    this.#byId.set(id, write);
    return write;
  }

  /** Gives up on the writes whose deadline has passed (one timer for all of them, not one each). */
  expire(nowMs: number): void {
    for (const write of this.#byId.values()) {
      if (write.deadlineMs > nowMs) break;
      this.#remove(write);
      write.expired();
    }
  }

  /** Records where the log put op `id`. */
  placed(id: string, offset: number): void {
    const write = this.#byId.get(id);
    if (write === undefined) return;
    write.offset = offset;
    this.#placed.add(write);
  }

  /** Delivers op `id`'s reply; false if nobody waits for it (already answered, timed out). */
  deliver(id: string, reply: Uint8Array): boolean {
    const write = this.#byId.get(id);
    if (write === undefined) return false;
    this.#remove(write);
    write.settle(reply);
    return true;
  }

  /** Forgets op `id` (its client gave up or went away). */
  forget(id: string): void {
    const write = this.#byId.get(id);
    if (write !== undefined) this.#remove(write);
  }

  /** The waiting writes whose offset is known. */
  placedWrites(): IterableIterator<PendingWrite> {
    return this.#placed.values();
  }

  #remove(write: PendingWrite): void {
    this.#byId.delete(write.id);
    this.#placed.delete(write);
  }
}
