/**
 * Each partition's bounds as last read, refreshed in the background, so
 * `PYLON INFO` (lag, catch-up) answers at once instead of asking the log.
 */

import { ignored } from "../observe/ignored.ts";
import type { LogBounds, OpLog } from "./op_log.ts";

/** How often the bounds are read again. */
const REFRESH_MS = 500;

/** The log's ends, known to within {@linkcode REFRESH_MS}. */
export class LogEnds {
  #log: OpLog;
  #ends: (LogBounds | undefined)[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(log: OpLog) {
    this.#log = log;
  }

  /** Per partition, the bounds last read (undefined until read once). */
  get ends(): readonly (LogBounds | undefined)[] {
    return this.#ends;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    void this.#refresh();
    this.#timer = setInterval(() => void this.#refresh(), REFRESH_MS);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #refresh(): Promise<void> {
    for (let p = 0; p < this.#log.partitions; p++) {
      // A failed read keeps the last bounds known.
      this.#ends[p] = await this.#log.bounds(p).catch((error) => {
        ignored("log_bounds", error);
        return this.#ends[p];
      });
    }
  }
}
