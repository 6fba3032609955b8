/**
 * Strong (linearizable) requests, for contentious keys and for connections
 * that ask for them.
 *
 * - A strong read first takes the log's end, read after the request arrived
 *   (Kafka's high watermark, or the embedded log's end): every write answered
 *   before the read began is below it. The read is then served by a rack whose
 *   Redis has applied up to that end (this rack's, else a peer's), checked in
 *   the same breath as the read. So it sees every completed write, and a later
 *   read never sees less.
 * - A strong write is answered (with the reply Redis gave at apply) only once
 *   a quorum of racks has applied it: each other rack is asked to read its own
 *   Redis's applied position. Short of the quorum by the deadline, the client
 *   gets an error saying the write is in the log and how many racks confirmed
 *   it.
 * - `WAIT numracks timeout` counts the racks that applied the connection's
 *   last write.
 */

import type { Need } from "../applier/rack_progress.ts";
import type { LogBounds } from "../log/op_log.ts";

/** What strong requests need from the node around them. */
export interface StrongParts {
  /** The log's partitions and their bounds, read now. */
  log: { readonly partitions: number; bounds(partition: number): Promise<LogBounds> };
  /** This rack's applied positions; true once `need` is reached, false at the deadline. */
  reached(need: Need, timeoutMs: number): Promise<boolean>;
  /** The other racks, and whether one has applied `need` (undefined: a one-rack world). */
  racks?: {
    otherRacks(): string[];
    appliedOn(rack: string, need: Need, timeoutMs: number): Promise<boolean>;
  };
  /** The racks a strong write needs: a majority, all, or a count. */
  quorum(): "majority" | "all" | number;
}

/** How long one ask of another rack may take before it is asked again. */
const ASK_MS = 2_000;
/** Pause between asks of a rack that has not applied yet. */
const RETRY_MS = 50;

/** The log's end for strong reads, and other racks' confirmations for strong writes and WAIT. */
export class StrongConsistency {
  /** Per other rack, the highest position (partition 0) it confirmed having applied. */
  readonly confirmedBy: Record<string, number> = {};
  #parts: StrongParts;
  #running: Promise<Need> | undefined;
  #next: Promise<Need> | undefined;

  constructor(parts: StrongParts) {
    this.#parts = parts;
  }

  /** Racks in the world, this one included. */
  racks(): number {
    return 1 + (this.#parts.racks?.otherRacks().length ?? 0);
  }

  /** Racks a strong write must be applied on before its reply. */
  quorum(): number {
    const quorum = this.#parts.quorum();
    const racks = this.racks();
    if (quorum === "all") return racks;
    if (quorum === "majority") return Math.floor(racks / 2) + 1;
    return quorum;
  }

  /**
   * What a strong read arriving now must see: every partition's end, read by
   * a probe that starts after this call (reads arriving together share one).
   */
  readNeed(): Promise<Need> {
    if (this.#next !== undefined) return this.#next;
    if (this.#running === undefined) return this.#start();
    // The probe under way may have read the ends before this read arrived: take the next one.
    this.#next = this.#running.catch(() => undefined).then(() => {
      this.#next = undefined;
      return this.#start();
    });
    return this.#next;
  }

  #start(): Promise<Need> {
    const probe = (async () => {
      const need = new Map<number, number>();
      const { log } = this.#parts;
      const bounds = await Promise.all(
        Array.from({ length: log.partitions }, (_, p) => log.bounds(p)),
      );
      bounds.forEach((b, p) => {
        if (b.end > 0) need.set(p, b.end);
      });
      return need as Need;
    })();
    this.#running = probe;
    void probe.catch(() => undefined).then(() => {
      if (this.#running === probe) this.#running = undefined;
    });
    return probe;
  }

  /**
   * Waits until `wanted` racks (this one included) have applied `need`, or the
   * deadline; resolves with how many had, of how many racks there are.
   */
  confirm(
    need: Need,
    wanted: number,
    timeoutMs: number,
  ): Promise<{ confirmed: number; racks: number }> {
    const others = this.#parts.racks?.otherRacks() ?? [];
    const racks = 1 + others.length;
    const deadline = performance.now() + timeoutMs;
    let confirmed = 0;
    let pending = racks;
    let settled = false;
    return new Promise((resolve) => {
      const count = (applied: boolean) => {
        if (applied) confirmed++;
        pending--;
        if (!settled && (confirmed >= wanted || pending === 0)) {
          settled = true;
          resolve({ confirmed, racks });
        }
      };
      if (wanted <= 0) {
        settled = true;
        resolve({ confirmed: 0, racks });
      }
      void this.#parts.reached(need, timeoutMs).then(count, () => count(false));
      for (const rack of others) {
        void (async () => {
          while (!settled) {
            const remaining = deadline - performance.now();
            if (remaining <= 0) return false;
            const ask = Math.min(remaining, ASK_MS);
            if (await this.#parts.racks!.appliedOn(rack, need, ask)) {
              const position = need.get(0);
              if (position !== undefined) {
                this.confirmedBy[rack] = Math.max(
                  this.confirmedBy[rack] ?? 0,
                  position,
                );
              }
              return true;
            }
            await new Promise((r) => setTimeout(r, Math.min(RETRY_MS, remaining)));
          }
          return false;
        })().then(count, () => count(false));
      }
    });
  }
}

/** The error of a strong write short of its quorum: in the log, confirmed by some racks, never OK. */
export function quorumError(
  placement: { partition: number; offset: number },
  outcome: { confirmed: number; racks: number },
  wanted: number,
  timeoutMs: number,
): string {
  return `ERR the write is in the log (partition ${placement.partition}, offset ` +
    `${placement.offset}) but only ${outcome.confirmed} of ${outcome.racks} racks confirmed ` +
    `applying it within ${timeoutMs} ms; strong consistency needs ${wanted} (it will be applied ` +
    `on every rack)`;
}
