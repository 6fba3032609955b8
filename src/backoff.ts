/**
 * Retry schedules. Every place that retries names its schedule once — the
 * delays before each retry and whether it ever gives up — instead of indexing
 * an array of its own, so every schedule is bounded the same way: its delays
 * never decrease and never exceed the last one, which then repeats, and a
 * schedule with `retriesMax` gives up after that many retries.
 */

/** A named schedule of retry delays. */
export interface BackoffSchedule {
  /** What is retried, for messages. */
  readonly name: string;
  /** The delays before the first, second, ... retry; the last repeats after that. */
  readonly delaysMs: readonly number[];
  /** Retries before giving up; `Infinity` retries for ever at the last delay. */
  readonly retriesMax: number;
}

/**
 * A schedule named `name` with `delaysMs` (non-empty, non-decreasing, finite
 * and not negative), retrying for ever unless `retriesMax` says otherwise.
 */
export function backoffSchedule(
  name: string,
  delaysMs: readonly number[],
  options: { retriesMax?: number } = {},
): BackoffSchedule {
  const retriesMax = options.retriesMax ?? Infinity;
  if (delaysMs.length === 0) throw new RangeError(`Backoff "${name}" has no delays`);
  delaysMs.forEach((delay, i) => {
    if (!Number.isFinite(delay) || delay < 0) {
      throw new RangeError(`Backoff "${name}" has delay "${delay}" (finite, not negative)`);
    }
    if (i > 0 && delay < delaysMs[i - 1]!) {
      throw new RangeError(`Backoff "${name}" delays decrease at "${delay}"`);
    }
  });
  if (retriesMax !== Infinity && (!Number.isInteger(retriesMax) || retriesMax < 1)) {
    throw new RangeError(`Backoff "${name}" has retriesMax "${retriesMax}" (1 or more)`);
  }
  return { name, delaysMs: Object.freeze([...delaysMs]), retriesMax };
}

/** The longest delay of `schedule` (its last). */
export function delayMsMax(schedule: BackoffSchedule): number {
  return schedule.delaysMs[schedule.delaysMs.length - 1]!;
}

/** One retrying loop's place in its schedule. */
export class Backoff {
  readonly schedule: BackoffSchedule;
  #retries = 0;

  constructor(schedule: BackoffSchedule) {
    this.schedule = schedule;
  }

  /** Retries taken since the last success. */
  get retries(): number {
    return this.#retries;
  }

  /** The delay before the next retry, which it counts; undefined once the schedule gives up. */
  next(): number | undefined {
    const { delaysMs, retriesMax } = this.schedule;
    if (this.#retries >= retriesMax) return undefined;
    const delay = delaysMs[Math.min(this.#retries, delaysMs.length - 1)]!;
    this.#retries++;
    return delay;
  }

  /** A success: the next failure starts from the first delay again. */
  reset(): void {
    this.#retries = 0;
  }
}
