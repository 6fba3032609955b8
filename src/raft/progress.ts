/**
 * What a leader knows of each follower's log, and how it paces appends to
 * it (etcd's progress tracker):
 *
 * - `probe`: the leader does not know where the follower's log matches its
 *   own; it sends one append at a time and waits for the answer (or a
 *   heartbeat response) before sending the next.
 * - `replicate`: the logs match up to `match`; the leader streams appends,
 *   optimistically moving `next`, with at most `inflights.capacity`
 *   unacknowledged messages.
 * - `snapshot`: the follower needs entries the leader has compacted; a
 *   snapshot is on its way and nothing else is sent until it is reported.
 */

/** How a leader replicates to one follower. */
export type ProgressState = "probe" | "replicate" | "snapshot";

/** A bounded ring of the last index of each append message in flight to one follower. */
export class Inflights {
  /** The bound: appends in flight before the leader waits. */
  readonly capacity: number;
  #buffer: number[];
  #start = 0;
  #count = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`Inflight capacity must be a positive integer, got "${capacity}"`);
    }
    this.capacity = capacity;
    this.#buffer = new Array<number>(capacity).fill(0);
  }

  /** Messages in flight. */
  get count(): number {
    return this.#count;
  }

  /** True when no more messages may be sent. */
  full(): boolean {
    return this.#count === this.capacity;
  }

  /** Records a message whose last entry is `index` (indexes only go up). */
  add(index: number): void {
    if (this.full()) throw new Error(`Inflights are full ("${this.capacity}")`);
    if (this.#count > 0) {
      const last = this.#buffer[(this.#start + this.#count - 1) % this.capacity]!;
      if (index <= last) throw new Error(`Inflight index "${index}" is not above "${last}"`);
    }
    this.#buffer[(this.#start + this.#count) % this.capacity] = index;
    this.#count++;
  }

  /** Frees every message whose last entry is at or below `index` (acknowledged). */
  freeLE(index: number): void {
    while (this.#count > 0 && this.#buffer[this.#start]! <= index) {
      this.#start = (this.#start + 1) % this.capacity;
      this.#count--;
    }
  }

  /** Frees the oldest message (a heartbeat response says the follower is alive). */
  freeFirstOne(): void {
    if (this.#count === 0) return;
    this.#start = (this.#start + 1) % this.capacity;
    this.#count--;
  }

  /** Forgets every message. */
  reset(): void {
    this.#start = 0;
    this.#count = 0;
  }
}

/** A leader's view of one follower (or learner, or itself). */
export class Progress {
  /** The highest index known to match the leader's log. */
  match = 0;
  /** The next index to send. */
  next: number;
  state: ProgressState = "probe";
  /** In `snapshot` state: the index of the snapshot sent. */
  pendingSnapshot = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** In `probe` state: an append is out and unanswered. */
  probeSent = false;
  isLearner: boolean;
  readonly inflights: Inflights;

  constructor(next: number, options: { inflightMax: number; isLearner: boolean }) {
    this.next = next;
    this.inflights = new Inflights(options.inflightMax);
    this.isLearner = options.isLearner;
  }

  /** Back to probing: from `match + 1`, or past a snapshot that was sent. */
  becomeProbe(): void {
    if (this.state === "snapshot") {
      const pending = this.pendingSnapshot;
      this.#enter("probe");
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.#enter("probe");
      this.next = this.match + 1;
    }
  }

  /** Streaming from `match + 1`. */
  becomeReplicate(): void {
    this.#enter("replicate");
    this.next = this.match + 1;
  }

  /** Waiting for the snapshot at `index` to be installed. */
  becomeSnapshot(index: number): void {
    this.#enter("snapshot");
    this.pendingSnapshot = index;
  }

  /** An acknowledgement up to `index`: true when it moved `match`. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      this.probeSent = false;
      updated = true;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /** Entries up to `index` were sent (replicate state). */
  optimisticUpdate(index: number): void {
    this.next = index + 1;
  }

  /**
   * A rejection of the append after `rejected`; `matchHint` is where the
   * logs may match. True when `next` moved (the rejection was not stale).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** True when nothing may be sent now. */
  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.full();
      case "snapshot":
        return true;
    }
  }

  #enter(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflights.reset();
  }
}
