/**
 * Whether this rack has diverged from the world, for every node of the rack
 * and across restarts: the verdict is kept in the rack's Redis (the metadata
 * db, `pylon:diverged`), written by the rack leader that found it and read
 * by every node of the rack every second. While it is there the rack applies
 * nothing and serves no reads (they go to other racks); the operator clears
 * it by rebuilding the rack's Redis (emptied, it is rebuilt from the log,
 * which also removes the key) or by deleting the key once the data is put
 * right by hand (README: Divergence).
 */

import { getLogger } from "@logtape/logtape";
import { type Clock, realClock } from "../clock.ts";

const log = getLogger(["pylon", "divergence"]);

/** How often every node reads the kept verdict. */
export const GUARD_POLL_MS = 1_000;

/** Where the verdict is kept: the rack's Redis, metadata db. */
export interface VerdictStore {
  /** The kept verdict's text, or undefined when there is none; rejects when Redis cannot say. */
  read(): Promise<string | undefined>;
  write(text: string): Promise<void>;
}

/** This rack's verdict, kept and watched. */
export class DivergenceGuard {
  #store: VerdictStore;
  #clock: Clock;
  #reason: string | undefined;
  /** Whether the verdict in memory is known written to Redis. */
  #kept = false;
  #stopTimer: (() => void) | undefined;
  #polling = false;

  constructor(store: VerdictStore, clock: Clock = realClock) {
    this.#store = store;
    this.#clock = clock;
  }

  /** Why this rack must neither apply nor serve reads (it diverged), or undefined. */
  reason(): string | undefined {
    return this.#reason;
  }

  /** This rack diverged: it stops at once, and the verdict is kept for the rack's other nodes. */
  halt(reason: string): void {
    if (this.#reason !== undefined) return;
    this.#reason = reason;
    this.#kept = false;
    log.error("this rack diverged from the world: {reason}", { reason });
    void this.#keep();
  }

  /** Reads the kept verdict now, then every {@linkcode GUARD_POLL_MS}. */
  async start(): Promise<void> {
    await this.poll();
    this.#stopTimer ??= this.#clock.every(GUARD_POLL_MS, () => void this.poll());
  }

  stop(): void {
    this.#stopTimer?.();
  }

  /** One look at the kept verdict (exported for tests). */
  async poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      if (this.#reason !== undefined && !this.#kept) return await this.#keep();
      const kept = await this.#store.read();
      if (kept !== undefined && kept !== this.#reason) {
        if (this.#reason === undefined) {
          log.error("this rack diverged from the world (kept in its Redis): {reason}", {
            reason: kept,
          });
        }
        this.#reason = kept;
        this.#kept = true;
      } else if (kept === undefined && this.#reason !== undefined && this.#kept) {
        log.warning(
          "the divergence verdict was removed from the rack's Redis: applying and serving " +
            "reads again (was: {reason})",
          { reason: this.#reason },
        );
        this.#reason = undefined;
        this.#kept = false;
      }
    } catch {
      // Redis does not answer: nothing changes until it does.
    } finally {
      this.#polling = false;
    }
  }

  async #keep(): Promise<void> {
    const reason = this.#reason;
    if (reason === undefined) return;
    try {
      await this.#store.write(reason);
      if (this.#reason === reason) this.#kept = true;
    } catch {
      // Written at the next poll.
    }
  }
}
