/**
 * A rebuild's rate and time left, from samples of how far it got (pure,
 * clock passed in): rates over the last {@linkcode RATE_WINDOW_MS}, and the
 * time left from whichever total is known (the payload's bytes when the
 * source's Redis said it, else the keys it held when the snapshot began).
 */

/** Rates are measured over this much of the recent past. */
export const RATE_WINDOW_MS = 10_000;

/** Samples kept, at most (one per call, oldest dropped first). */
const SAMPLES_MAX = 64;

interface Sample {
  atMs: number;
  bytes: number;
  keys: number;
}

/** Where a transfer stands, as reported. */
export interface ProgressFigures {
  bytesPerSecond: number;
  keysPerSecond: number;
  /** Seconds until the transfer ends at the current rate; undefined when no total is known. */
  secondsLeft: number | undefined;
}

/** Samples of one transfer. */
export class TransferProgress {
  #samples: Sample[] = [];

  /** Records how far the transfer got at `atMs`. */
  sample(atMs: number, bytes: number, keys: number): void {
    const last = this.#samples.at(-1);
    if (last !== undefined && last.atMs === atMs) {
      last.bytes = bytes;
      last.keys = keys;
      return;
    }
    this.#samples.push({ atMs, bytes, keys });
    if (this.#samples.length > SAMPLES_MAX) this.#samples.shift();
  }

  /** Rates and time left at `nowMs`, given the totals known (undefined: unknown). */
  figures(
    nowMs: number,
    totals: { bytes: number | undefined; keys: number | undefined },
  ): ProgressFigures {
    const recent = this.#samples.filter((s) => nowMs - s.atMs <= RATE_WINDOW_MS);
    const first = recent[0];
    const last = this.#samples.at(-1);
    if (first === undefined || last === undefined || last.atMs <= first.atMs) {
      return { bytesPerSecond: 0, keysPerSecond: 0, secondsLeft: undefined };
    }
    const seconds = (last.atMs - first.atMs) / 1000;
    const bytesPerSecond = (last.bytes - first.bytes) / seconds;
    const keysPerSecond = (last.keys - first.keys) / seconds;
    let secondsLeft: number | undefined;
    if (totals.bytes !== undefined && bytesPerSecond > 0) {
      secondsLeft = Math.max(0, totals.bytes - last.bytes) / bytesPerSecond;
    } else if (totals.keys !== undefined && keysPerSecond > 0) {
      secondsLeft = Math.max(0, totals.keys - last.keys) / keysPerSecond;
    }
    return { bytesPerSecond, keysPerSecond, secondsLeft };
  }

  reset(): void {
    this.#samples = [];
  }
}
