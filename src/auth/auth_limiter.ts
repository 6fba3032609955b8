/**
 * Failed authentications are counted per source address; past a budget in a
 * window, that address's attempts are refused without a password check until
 * the window passes, so a password cannot be guessed at network speed. Pure:
 * the clock comes in.
 */

/** Bounds of {@linkcode AuthLimiter}. */
export interface AuthLimits {
  /** Failures allowed per address in one window. */
  failuresMax: number;
  windowMs: number;
}

/** Counters for `PYLON INFO`. */
export interface AuthStats {
  failures: number;
  limited: number;
}

/** Per-address failure counts. */
export class AuthLimiter {
  readonly limits: AuthLimits;
  #windows = new Map<string, { startMs: number; failures: number }>();
  #stats: AuthStats = { failures: 0, limited: 0 };

  constructor(limits: AuthLimits = { failuresMax: 10, windowMs: 60_000 }) {
    this.limits = limits;
  }

  /** Milliseconds until `address` may try again (0: it may now). */
  waitMs(address: string, nowMs: number): number {
    const window = this.#windows.get(address);
    if (window === undefined) return 0;
    const left = window.startMs + this.limits.windowMs - nowMs;
    if (left <= 0) {
      this.#windows.delete(address);
      return 0;
    }
    if (window.failures < this.limits.failuresMax) return 0;
    this.#stats.limited++;
    return left;
  }

  /** Records a failed attempt from `address`. */
  failed(address: string, nowMs: number): void {
    this.#stats.failures++;
    const window = this.#windows.get(address);
    if (window === undefined || nowMs - window.startMs >= this.limits.windowMs) {
      // Bounded memory: an attacker rotating addresses cannot grow the table without limit.
      if (this.#windows.size >= 100_000) this.#windows.clear();
      this.#windows.set(address, { startMs: nowMs, failures: 1 });
    } else window.failures++;
  }

  stats(): AuthStats {
    return { ...this.#stats };
  }
}
