/**
 * Time as the parts that wait see it: what time it is, a callback after a
 * delay, a callback at an interval. The node runs on the real clock;
 * simulations pass a clock they advance themselves (src/manual_clock.ts), so a
 * seed replays the same interleaving. A part that takes a clock reads no
 * other: neither `performance.now()` nor `setTimeout`.
 */

/** A source of time and timers. */
export interface Clock {
  /** Milliseconds on a monotonic scale (the real clock: `performance.now()`). */
  now(): number;
  /** Calls `fn` once `ms` have passed; the returned function cancels it. */
  after(ms: number, fn: () => void): () => void;
  /** Calls `fn` every `ms` (more than 0) until the returned function is called. */
  every(ms: number, fn: () => void): () => void;
}

/** The process's monotonic clock and timers. */
export const realClock: Clock = {
  now: () => performance.now(),
  after(ms, fn) {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
  every(ms, fn) {
    if (!(ms > 0)) throw new RangeError(`Interval "${ms}" ms is not positive`);
    const timer = setInterval(fn, ms);
    return () => clearInterval(timer);
  },
};

/** Resolves once `ms` have passed on `clock`, or at once when `signal` aborts. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      cancel();
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const cancel = clock.after(ms, done);
    signal?.addEventListener("abort", done, { once: true });
  });
}
