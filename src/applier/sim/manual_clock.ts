/**
 * A clock that moves only when the simulation says so. Timers fire in due
 * order, and timers due at the same moment in the order they were set, so a
 * seed always replays the same interleaving.
 */

import type { Clock } from "../../clock.ts";

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** Simulated time, starting at 0 ms. */
export class ManualClock implements Clock {
  #now = 0;
  #seq = 0;
  #timers: Timer[] = [];

  now(): number {
    return this.#now;
  }

  after(ms: number, fn: () => void): () => void {
    const timer: Timer = {
      at: this.#now + Math.max(0, ms),
      seq: this.#seq++,
      fn,
      cancelled: false,
    };
    // Sorted insert from the back: most timers are due after those already set.
    let i = this.#timers.length;
    while (i > 0 && before(timer, this.#timers[i - 1]!)) i--;
    this.#timers.splice(i, 0, timer);
    return () => {
      timer.cancelled = true;
    };
  }

  /** When the next live timer is due, or undefined if none is set. */
  nextDue(): number | undefined {
    while (this.#timers[0]?.cancelled) this.#timers.shift();
    return this.#timers[0]?.at;
  }

  /** Fires the next timer due at or before `until` (moving time to it); false if none is. */
  fireNext(until: number): boolean {
    const due = this.nextDue();
    if (due === undefined || due > until) return false;
    const timer = this.#timers.shift()!;
    this.#now = Math.max(this.#now, timer.at);
    timer.fn();
    return true;
  }

  /** Moves time to `until` with no timer fired (call once none is due before it). */
  moveTo(until: number): void {
    this.#now = Math.max(this.#now, until);
  }
}

function before(a: Timer, b: Timer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
