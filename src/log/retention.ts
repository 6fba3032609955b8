/**
 * Retention of the embedded log: every little while, each partition's oldest
 * segments go once they are past the size or age bound — and only once this
 * rack has applied every op in them. (A Kafka log keeps its topic's own
 * retention, set on the topic.)
 */

import { ignored } from "../observe/ignored.ts";
import type { SegmentLog } from "./segment_log.ts";

/** How often the bounds are checked. */
const CHECK_MS = 5_000;

/** Options of {@linkcode Retention}. */
export interface RetentionOptions {
  /** Bytes a partition may hold before its oldest applied segments go. */
  bytesMax: number;
  /** Age past which an applied segment goes (since its last write). */
  ageMsMax: number;
  /** Where the rack's applier is in `partition` (undefined: unknown, keep everything). */
  applied: (partition: number) => number | undefined;
}

/** Runs retention on a segment log. */
export class Retention {
  #log: SegmentLog;
  #options: RetentionOptions;
  #timer: ReturnType<typeof setInterval> | undefined;
  #running = false;
  /** Bytes freed so far. */
  freedBytes = 0;

  constructor(log: SegmentLog, options: RetentionOptions) {
    this.#log = log;
    this.#options = options;
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.run(), CHECK_MS);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One pass over every partition. */
  async run(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      for (let p = 0; p < this.#log.partitions; p++) {
        const keepFrom = this.#options.applied(p);
        if (keepFrom === undefined) continue;
        this.freedBytes += await this.#log.retain(p, {
          keepFrom,
          bytesMax: this.#options.bytesMax,
          ageMsMax: this.#options.ageMsMax,
        });
      }
    } catch (error) {
      ignored("log_retention", error);
    } finally {
      this.#running = false;
    }
  }
}
