/**
 * A clock that moves only when the simulation says so: the twin of the real
 * clock (src/clock.ts) for simulations and replayable tests. Timers fire in
 * due order, and timers due at the same moment in the order they were set,
 * so a seed always replays the same interleaving.
 *
 * Between two timers the work a timer started runs on as promise chains
 * (microtasks); {@linkcode ManualClock.advance} lets them settle after each
 * timer. It never waits on a real timer: that would let the host's clock in.
 */

import type { Clock } from "./clock.ts";

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** Microtask turns {@linkcode settleMicrotasks} gives by default. */
const SETTLE_TURNS = 64;

/**
 * Lets the promise chains the last timer started run on, for `turns`
 * microtask turns. Nothing under a manual clock waits on anything but the
 * clock, so a chain longer than this simply goes on at the next settle.
 */
export async function settleMicrotasks(turns = SETTLE_TURNS): Promise<void> {
  for (let i = 0; i < turns; i++) await Promise.resolve();
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

  every(ms: number, fn: () => void): () => void {
    if (!(ms > 0)) throw new RangeError(`Interval "${ms}" ms is not positive`);
    let cancel = () => {};
    const tick = () => {
      // Armed again before `fn` runs, as an interval is: `fn` may cancel it.
      cancel = this.after(ms, tick);
      fn();
    };
    cancel = this.after(ms, tick);
    return () => cancel();
  }

  /** Timers set and neither fired nor cancelled (an interval counts once). */
  get timers(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
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

  /**
   * Moves time forward by `ms`: fires every timer due by then in order,
   * awaiting `settle` after each so the work it started runs before the next.
   */
  async advance(ms: number, settle: () => Promise<void> = settleMicrotasks): Promise<void> {
    const until = this.#now + ms;
    while (this.fireNext(until)) await settle();
    this.moveTo(until);
  }
}

function before(a: Timer, b: Timer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
