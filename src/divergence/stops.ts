/**
 * Stops: work that must run on the rack's Redis when the applier stands
 * exactly at a log position of a partition, between two batches (the data
 * digest: every rack reads the same keys as of the same op). Registered
 * ahead; the applier ends its batches at the next stop, runs what waits
 * there, and goes on. A stop the applier already went past is answered
 * "passed" with where it is; one it does not reach in time, "timeout".
 */

import type { Clock } from "../clock.ts";
import type { CommandRunner } from "../redis/command_runner.ts";

/** How a stop ended. */
export type StopResult<T> =
  | { kind: "done"; value: T }
  | { kind: "passed"; position: number }
  | { kind: "timeout" }
  | { kind: "failed"; error: string };

/** What runs at a stop. */
export type StopWork<T> = (connection: CommandRunner, logTimeMs: number) => Promise<T>;

interface Stop {
  position: number;
  work: StopWork<unknown>;
  settle: (result: StopResult<unknown>) => void;
}

/** The stops registered with one node's applier, per partition. */
export class ApplyStops {
  #clock: Clock;
  #stops = new Map<number, Stop[]>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Stops waiting, over all partitions. */
  get size(): number {
    let n = 0;
    for (const list of this.#stops.values()) n += list.length;
    return n;
  }

  /**
   * Runs `work` when partition `partition`'s applier stands at `position`;
   * `current` is where it is now (passed at once when beyond `position`).
   */
  add<T>(
    partition: number,
    position: number,
    options: { current: number | undefined; timeoutMs: number; work: StopWork<T> },
  ): Promise<StopResult<T>> {
    const { current, timeoutMs, work } = options;
    if (current !== undefined && current > position) {
      return Promise.resolve({ kind: "passed", position: current });
    }
    return new Promise((resolve) => {
      const list = this.#stops.get(partition) ?? [];
      const stop: Stop = {
        position,
        work: work as StopWork<unknown>,
        settle: (result) => {
          cancel();
          const at = list.indexOf(stop);
          if (at >= 0) list.splice(at, 1);
          resolve(result as StopResult<T>);
        },
      };
      const cancel = this.#clock.after(timeoutMs, () => stop.settle({ kind: "timeout" }));
      list.push(stop);
      this.#stops.set(partition, list);
    });
  }

  /** The first stop at or after `position` (Infinity: none). */
  next(partition: number, position: number): number {
    let first = Infinity;
    for (const stop of this.#stops.get(partition) ?? []) {
      if (stop.position >= position && stop.position < first) first = stop.position;
    }
    return first;
  }

  /** The applier stands at `position`: runs every stop there, one after another; never throws. */
  async runAt(
    partition: number,
    position: number,
    logTimeMs: number,
    connection: CommandRunner,
  ): Promise<void> {
    const due = (this.#stops.get(partition) ?? []).filter((s) => s.position === position);
    for (const stop of due) {
      try {
        stop.settle({ kind: "done", value: await stop.work(connection, logTimeMs) });
      } catch (error) {
        // Its own failure (a refused script): the applier goes on; a lost connection shows there.
        stop.settle({ kind: "failed", error: (error as Error).message });
      }
    }
  }

  /** A batch applied offsets [first, end): stops in it were registered too late to hold. */
  crossed(partition: number, first: number, end: number): void {
    for (const stop of [...(this.#stops.get(partition) ?? [])]) {
      if (stop.position >= first && stop.position < end) {
        stop.settle({ kind: "passed", position: end });
      }
    }
  }

  /** Ends every stop (the node stops): each answers "timeout". */
  clear(): void {
    for (const list of [...this.#stops.values()]) {
      for (const stop of [...list]) stop.settle({ kind: "timeout" });
    }
  }
}
