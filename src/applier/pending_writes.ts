/**
 * Writes accepted by this node and waiting for their reply. The gateway
 * registers each op before appending it and records its offset once the log
 * acknowledges it; the applier delivers the reply Redis gave when the op was
 * applied. When another applier applied an op (a racing or deposed one), the
 * offset tells the local applier which replies to recover.
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
}

/** The writes of this node that await their replies. */
export class PendingWrites {
  #byId = new Map<string, PendingWrite>();
  /** Per partition: the applied position last reported (everything below is applied). */
  #applied: number[] = [];
  #onBehind: (write: PendingWrite) => void = () => {};

  /** Writes waiting. */
  get size(): number {
    return this.#byId.size;
  }

  /** Called for a write whose offset is already below the applied position (applied elsewhere). */
  onAppliedElsewhere(fn: (write: PendingWrite) => void): void {
    this.#onBehind = fn;
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
    const write: PendingWrite = { id, partition, offset: undefined, settle, deadlineMs, expired };
    this.#byId.set(id, write);
    return write;
  }

  /** Gives up on the writes whose deadline has passed (one timer for all of them, not one each). */
  expire(nowMs: number): void {
    for (const write of this.#byId.values()) {
      if (write.deadlineMs > nowMs) break;
      this.#byId.delete(write.id);
      write.expired();
    }
  }

  /** Records where the log put op `id`. */
  placed(id: string, offset: number): void {
    const write = this.#byId.get(id);
    if (write === undefined) return;
    write.offset = offset;
    const applied = this.#applied[write.partition];
    if (applied !== undefined && offset < applied) this.#onBehind(write);
  }

  /** Delivers op `id`'s reply; false if nobody waits for it (already answered, timed out). */
  deliver(id: string, reply: Uint8Array): boolean {
    const write = this.#byId.get(id);
    if (write === undefined) return false;
    this.#byId.delete(id);
    write.settle(reply);
    return true;
  }

  /** Forgets op `id` (its client gave up or went away). */
  forget(id: string): void {
    this.#byId.delete(id);
  }

  /**
   * Records that `partition` is applied below `position`. Call after the
   * replies of what this node applied were delivered, so a write still waiting
   * with an offset below it was applied by someone else.
   */
  advance(partition: number, position: number): void {
    this.#applied[partition] = position;
  }

  /** The placed writes of `partition` in [from, to) still waiting: applied by someone else. */
  waitingBetween(partition: number, from: number, to: number): PendingWrite[] {
    const found: PendingWrite[] = [];
    for (const write of this.#byId.values()) {
      if (write.partition !== partition || write.offset === undefined) continue;
      if (write.offset >= from && write.offset < to) found.push(write);
    }
    return found;
  }
}
