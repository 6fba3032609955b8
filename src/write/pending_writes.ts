/**
 * Writes accepted by this node and waiting for their reply. The write path
 * registers each op before appending it and records its offset once the log
 * acknowledges it; the reply comes from whoever applied the op: this node's
 * applier, another node's hand-back (src/applier/hand_back.ts), or reply
 * recovery (src/applier/reply_recovery.ts) for ops another applier applied.
 * The applier side uses this map; it never reaches back into the write path.
 *
 * Why expiry stays cheap for any order of deadlines: writes are kept in runs,
 * each a FIFO (a Map in insertion order) whose deadlines never decrease. A
 * write joins the newest run whose last deadline is not later than its own,
 * else starts a new run. With one write timeout every deadline is later than
 * the one before, so there is one run and {@linkcode PendingWrites.expire}
 * looks only at its expired front, as before; a reload that lowers the
 * timeout starts a second run, which the first one drains beside. The number
 * of runs is the number of timeouts still in flight, not of writes.
 */

/** One write waiting for its reply. */
export interface PendingWrite {
  id: string;
  partition: number;
  /** Known once the log acknowledged the append. */
  offset: number | undefined;
  /** Receives the raw reply (Redis's bytes, in the client's protocol). */
  settle: (reply: Uint8Array) => void;
  /** When the client stops waiting, on the write path's clock ({@linkcode PendingWrites.expire}). */
  deadlineMs: number;
  /** Called instead of `settle` when the deadline passes. */
  expired: () => void;
  /** When reply recovery first saw the rack's position pass this write (`performance.now()`). */
  passedAt: number | undefined;
}

/** A waiting write and the run that holds it. */
interface Waiting extends PendingWrite {
  run: Run;
}

/** Writes in registration order whose deadlines never decrease. */
interface Run {
  writes: Map<string, Waiting>;
  /** The deadline of the last write registered in this run (it may have left since). */
  lastDeadlineMs: number;
}

/** The writes of this node that await their replies. */
export class PendingWrites {
  #byId = new Map<string, Waiting>();
  /** Oldest first; each run's deadlines never decrease. */
  #runs: Run[] = [];
  /** Writes with a known offset, for reply recovery. */
  #placed = new Set<PendingWrite>();

  /** Writes waiting. */
  get size(): number {
    return this.#byId.size;
  }

  /** Runs of writes (one per write timeout still in flight), for tests and invariants. */
  get runs(): number {
    return this.#runs.length;
  }

  /** Starts waiting for op `id`'s reply until `deadlineMs`, in any order of deadlines. */
  register(
    id: string,
    partition: number,
    deadlineMs: number,
    settle: (reply: Uint8Array) => void,
    expired: () => void,
  ): PendingWrite {
    if (this.#byId.has(id)) throw new Error(`Op "${id}" is already waiting for its reply`);
    if (Number.isNaN(deadlineMs)) throw new RangeError(`Op "${id}" has no deadline`);
    let run: Run | undefined;
    for (let i = this.#runs.length - 1; i >= 0 && run === undefined; i--) {
      if (this.#runs[i]!.lastDeadlineMs <= deadlineMs) run = this.#runs[i];
    }
    if (run === undefined) {
      run = { writes: new Map(), lastDeadlineMs: deadlineMs };
      this.#runs.push(run);
    }
    const write: Waiting = {
      id,
      partition,
      offset: undefined,
      settle,
      deadlineMs,
      expired,
      passedAt: undefined,
      run,
    };
    run.writes.set(id, write);
    run.lastDeadlineMs = deadlineMs;
    this.#byId.set(id, write);
    return write;
  }

  /**
   * Gives up on every write whose deadline is at or before `nowMs` (one timer
   * for all of them, not one each), calling their `expired` in deadline order.
   */
  expire(nowMs: number): void {
    const due: Waiting[] = [];
    for (const run of this.#runs) {
      for (const write of run.writes.values()) {
        if (write.deadlineMs > nowMs) break;
        due.push(write);
      }
    }
    if (due.length === 0) return;
    // Runs interleave in time; a stable sort keeps registration order among equal deadlines.
    if (this.#runs.length > 1) due.sort((a, b) => a.deadlineMs - b.deadlineMs);
    for (const write of due) this.#remove(write);
    for (const write of due) write.expired();
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

  /**
   * Throws if the structure is inconsistent: every write in exactly one run,
   * each run's deadlines not decreasing and none later than its last, no
   * empty run kept, placed writes all waiting and with an offset.
   */
  checkInvariants(): void {
    let counted = 0;
    for (const run of this.#runs) {
      if (run.writes.size === 0) throw new Error("An empty run is kept");
      let previous = -Infinity;
      for (const write of run.writes.values()) {
        counted++;
        if (write.deadlineMs < previous) {
          throw new Error(`Op "${write.id}"'s deadline is earlier than the one before it`);
        }
        if (write.deadlineMs > run.lastDeadlineMs) {
          throw new Error(`Op "${write.id}"'s deadline is later than its run's last`);
        }
        if (this.#byId.get(write.id) !== write || write.run !== run) {
          throw new Error(`Op "${write.id}" is not indexed in the run that holds it`);
        }
        previous = write.deadlineMs;
      }
    }
    if (counted !== this.#byId.size) {
      throw new Error(`${this.#byId.size} writes are indexed but the runs hold ${counted}`);
    }
    for (const write of this.#placed) {
      if (this.#byId.get(write.id) !== write) {
        throw new Error(`Placed op "${write.id}" is not waiting`);
      }
      if (write.offset === undefined) throw new Error(`Placed op "${write.id}" has no offset`);
    }
  }

  #remove(write: Waiting): void {
    this.#byId.delete(write.id);
    this.#placed.delete(write);
    write.run.writes.delete(write.id);
    if (write.run.writes.size === 0) this.#runs.splice(this.#runs.indexOf(write.run), 1);
  }
}
