/**
 * Time as the parts that wait see it: what time it is, and a callback after a
 * delay. The node runs on the real clock; simulations pass a clock they
 * advance themselves, so a seed replays the same interleaving.
 */

/** A source of time and timers. */
export interface Clock {
  /** Milliseconds on a monotonic scale (the real clock: `performance.now()`). */
  now(): number;
  /** Calls `fn` once `ms` have passed; the returned function cancels it. */
  after(ms: number, fn: () => void): () => void;
}

/** The process's monotonic clock and timers. */
export const realClock: Clock = {
  now: () => performance.now(),
  after(ms, fn) {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
};
