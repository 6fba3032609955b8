/**
 * The consistency gate around a connection's reads and writes: which requests
 * are strong, what a strong read must wait for, when a strong write may be
 * answered, and `WAIT`. The connection asks; the gate decides and counts.
 *
 * - A request is strong when it touches a contentious key, or when its
 *   connection asked for `PYLON CONSISTENCY strong`.
 * - A strong read waits for the log's end read after it arrived, and is served
 *   by a rack that has applied up to it.
 * - A strong write is answered (with Redis's reply at apply) once a quorum of
 *   racks applied it; short of it by the deadline, with an error naming its
 *   place in the log — never OK (src/write/answer_policy.ts decides "quorum").
 * - `WAIT numracks timeout` counts the racks that applied the connection's writes.
 */

import type { Need } from "../applier/rack_progress.ts";
import type { CommandSpec } from "../command/mod.ts";
import type { Placement } from "../log/op_log.ts";
import type { WriteRequest } from "../log/write_request.ts";
import { encodeError } from "../resp/encoder.ts";
import { answerWhen } from "../write/answer_policy.ts";
import type { Contentious } from "./contentious.ts";
import { quorumError, type StrongConsistency } from "./strong.ts";

/** Counters for `PYLON INFO` (`# Consistency`) and metrics. */
export interface GateStats {
  reads: number;
  writes: number;
  quorumFailures: number;
  readWaitMs: number;
  writeWaitMs: number;
  waits: number;
}

/** Submits a write somewhere (the write router): `reply` once, resolves with its placement. */
export type Submit = (
  request: WriteRequest,
  reply: (bytes: Uint8Array) => void,
) => Promise<Placement | undefined>;

/** The gate of one node, shared by its connections. */
export class ConsistencyGate {
  readonly service: StrongConsistency;
  #contentious: Contentious;
  #timeoutMs: () => number;
  #stats: GateStats = {
    reads: 0,
    writes: 0,
    quorumFailures: 0,
    readWaitMs: 0,
    writeWaitMs: 0,
    waits: 0,
  };

  constructor(parts: {
    service: StrongConsistency;
    contentious: Contentious;
    /** How long a strong write waits for its quorum (the write timeout). */
    timeoutMs: () => number;
  }) {
    this.service = parts.service;
    this.#contentious = parts.contentious;
    this.#timeoutMs = parts.timeoutMs;
  }

  /** The counters, copied. */
  stats(): GateStats {
    return { ...this.#stats };
  }

  /** Whether a request made of `commands` is strong on a connection (`strong`: it asked for it). */
  isStrong(strong: boolean, commands: readonly { command: CommandSpec; argv: Uint8Array[] }[]) {
    return strong || this.#contentious.touches(commands);
  }

  /** What a strong read arriving now must see: every partition's end, read after it arrived. */
  readNeed(): Promise<Need> {
    this.#stats.reads++;
    return this.service.readNeed();
  }

  /** A strong read was answered `waitedMs` after it arrived. */
  readAnswered(waitedMs: number): void {
    this.#stats.readWaitMs += waitedMs;
  }

  /**
   * Submits a write through `submit`; a strong one's reply is held until a
   * quorum of racks applied it, or replaced by the error saying it was not.
   */
  async write(
    request: WriteRequest,
    reply: (bytes: Uint8Array) => void,
    submit: Submit,
  ): Promise<Placement | undefined> {
    // Only "quorum" is the gate's business; the answer policy ignores ack-log for it.
    if (answerWhen(request, NO_ACK_LOG) !== "quorum") return submit(request, reply);
    let held: Uint8Array | undefined;
    const placement = await submit(request, (bytes) => void (held ??= bytes));
    reply(await this.#confirm(placement, held));
    return placement;
  }

  /**
   * WAIT: how many racks (this one included) have applied `need`, waiting up
   * to `timeoutMs` for `numracks`.
   */
  async waitRacks(need: Need, numracks: number, timeoutMs: number): Promise<number> {
    this.#stats.waits++;
    return (await this.service.confirm(need, numracks, timeoutMs)).confirmed;
  }

  /** A strong write's reply once a quorum of racks applied it, else the error saying so. */
  async #confirm(placement: Placement | undefined, reply: Uint8Array | undefined) {
    this.#stats.writes++;
    // Refused, failed or timed out: it is not (known to be) in the log; its error is the answer.
    if (placement === undefined || reply === undefined) {
      return reply ??
        encodeError("ERR Pylon lost track of this write; it may or may not be applied");
    }
    const wanted = this.service.quorum();
    const timeoutMs = this.#timeoutMs();
    const startedAt = performance.now();
    const need = new Map([[placement.partition, placement.offset + 1]]);
    const outcome = await this.service.confirm(need, wanted, timeoutMs);
    this.#stats.writeWaitMs += performance.now() - startedAt;
    if (outcome.confirmed >= wanted) return reply;
    this.#stats.quorumFailures++;
    return encodeError(quorumError(placement, outcome, wanted, timeoutMs));
  }
}

const NO_ACK_LOG: ReadonlySet<string> = new Set();
