/**
 * The write path as a client connection sees it: a write is checked
 * (arity, syntax, partition, reserved db), rewritten so every rack applies it
 * identically, logged as an op, and answered with the reply Redis gave when
 * the op was applied — or, for commands an operator opted into `ack=log`
 * (constant replies only), with `+OK` as soon as the log holds it.
 *
 * A write is never acknowledged before the log has it; a log failure or a
 * timeout is an error that says the write may or may not be applied.
 */

import {
  CROSSSLOT_ERROR,
  dbArguments,
  keyHashSlot,
  partitionFor,
  rewriteForLog,
  slotPartition,
} from "../command/mod.ts";
import { encodeOp, type Op, type OpWatch } from "../log/op.ts";
import { newOpId } from "../log/op_id.ts";
import { LogError, type OpLog, type Placement } from "../log/op_log.ts";

export type { Placement } from "../log/op_log.ts";
export type { WriteCommand, WriteRequest, WriteSubmitter } from "../log/write_request.ts";
import type { WriteRequest, WriteSubmitter } from "../log/write_request.ts";
import type { PendingWrites } from "./pending_writes.ts";
import { encodeError, REPLY } from "../resp/encoder.ts";
import { ignored } from "../observe/ignored.ts";
import { refused, sinceTurn, turnNow, writeSeconds } from "../observe/metrics.ts";
import { answerWhen } from "./answer_policy.ts";
import { type Clock, realClock } from "../clock.ts";
import { budgetSteps, SCRIPT_TIME_MAX_MS_DEFAULT } from "../determinism/script_budget.ts";

/** Options of {@linkcode WritePath}. */
export interface WritePathOptions {
  nodeId: string;
  rack: string;
  /** Pylon's metadata db, which clients may not name. */
  metaDb: number;
  /**
   * The metadata db the world's contract records (src/cluster/rack_contract.ts):
   * on a rack whose own differs (a rack the contract refuses), clients may not
   * name that one either — every other rack keeps its metadata there.
   */
  worldMetaDb?: () => number | undefined;
  /** Commands answered `+OK` once logged (only those whose reply is constant). */
  ackLog: ReadonlySet<string>;
  /** A client waits this long for a write's reply before getting an error. */
  writeTimeoutMs: number;
  /**
   * The budget of the scripts and functions an op runs, in ms, carried in
   * the op as steps (src/determinism/script_budget.ts); default: the option's.
   */
  scriptTimeMaxMs?: number;
  /**
   * Writes waiting for their replies, over every connection and peer: past it a
   * write is refused before it is logged, so a stalled log cannot grow the node
   * without bound (per connection, 1,024 × 10,000 clients would be 10 million).
   */
  writesInFlightMax: number;
  /** Write deadlines (default: the real clock; simulations pass their own). */
  clock?: Clock;
  /**
   * A reply the rack leader kept in Redis because it could not hand it back
   * (the peer link was down): asked for before a write is given up on.
   */
  storedReply?: (opId: string) => Promise<Uint8Array | undefined>;
  /**
   * A watched transaction's check against the log before it is logged
   * (src/applier/watch.ts checkWatchAtAccept); undefined: racks decide all of it.
   */
  checkWatch?: (watch: OpWatch, partition: number) => Promise<"aborted" | "logged">;
}

/** Counters for `PYLON INFO`. */
export interface WriteStats {
  accepted: number;
  acknowledged: number;
  refused: number;
  failed: number;
  timedOut: number;
}

const DB_OUT_OF_RANGE = "ERR DB index is out of range";
const NULL_ARRAY = new TextEncoder().encode("*-1\r\n");
const NULL_RESP3 = new TextEncoder().encode("_\r\n");

/** Commands that run a script or a function: their op carries a script budget. */
const SCRIPT_RUNNERS = new Set(["eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"]);

// Label lookups once, not per write.
const answeredSeconds = writeSeconds.labels("answered");
const loggedSeconds = writeSeconds.labels("logged");
const appliedSeconds = writeSeconds.labels("applied");

/** How long a settled write waits for the log's acknowledgement of where it put it. */
const PLACEMENT_WAIT_MS = 1_000;

/** Checks, logs and answers writes. */
export class WritePath implements WriteSubmitter {
  #log: OpLog;
  #pending: PendingWrites;
  #options: WritePathOptions;
  #clock: Clock;
  #stats: WriteStats = { accepted: 0, acknowledged: 0, refused: 0, failed: 0, timedOut: 0 };

  constructor(log: OpLog, pending: PendingWrites, options: WritePathOptions) {
    this.#log = log;
    this.#pending = pending;
    this.#options = options;
    this.#clock = options.clock ?? realClock;
  }

  /**
   * Changes the write timeout, the bound on writes in flight and the script
   * budget (a reload); later writes use them.
   */
  configure(
    changes: { writeTimeoutMs: number; writesInFlightMax: number; scriptTimeMaxMs?: number },
  ): void {
    this.#options = { ...this.#options, ...changes };
  }

  stats(): WriteStats {
    return { ...this.#stats };
  }

  /**
   * Submits one write. `reply` is called exactly once with the bytes for the
   * client. The returned promise settles when the write is applied, failed or
   * given up on, so the connection can order its later reads after it; it
   * resolves with where the log put the op (once the log said so), so the
   * connection's later reads can wait until their rack has applied it.
   */
  submit(
    request: WriteRequest,
    reply: (bytes: Uint8Array) => void,
  ): Promise<Placement | undefined> {
    const refusal = this.#check(request);
    if (typeof refusal === "string") {
      this.#stats.refused++;
      refused(
        refusal.startsWith("CROSSSLOT")
          ? "crossslot"
          : refusal === DB_OUT_OF_RANGE
          ? "reserved_db"
          : "partition",
      );
      reply(encodeError(refusal));
      return Promise.resolve(undefined);
    }
    if (this.#pending.size >= this.#options.writesInFlightMax) {
      this.#stats.refused++;
      refused("writes_in_flight");
      reply(encodeError(
        `ERR Pylon has ${this.#options.writesInFlightMax} writes awaiting their replies, its ` +
          `limit (writes-in-flight-max); this write was not logged, retry later`,
      ));
      return Promise.resolve(undefined);
    }
    const partition = refusal.partition;
    const now = Date.now();
    const op: Op = {
      id: newOpId(now),
      origin: this.#options.nodeId,
      rack: this.#options.rack,
      db: request.db,
      protocol: request.protocol,
      transaction: request.transaction,
      acceptedAtMs: now,
      commands: request.commands.map((c) => rewriteForLog(c.command, c.argv, now)),
    };
    if (request.commands.some((c) => SCRIPT_RUNNERS.has(c.command.name))) {
      // Every rack stops its scripts at the same step: the budget is the op's, not each rack's.
      op.scriptBudgetSteps = budgetSteps(
        this.#options.scriptTimeMaxMs ?? SCRIPT_TIME_MAX_MS_DEFAULT,
      );
    }
    if (request.watch !== undefined) {
      // A position this node does not know yet counts as the start: more aborts, never a wrong run.
      op.watch = {
        db: request.watch.db,
        keys: request.watch.keys,
        from: request.watch.from[partition] ?? 0,
      };
      if (request.watch.expiries !== undefined) op.watch.expiries = request.watch.expiries;
    }
    const checkWatch = this.#options.checkWatch;
    if (op.watch !== undefined && checkWatch !== undefined) {
      const watch = op.watch;
      return checkWatch(watch, partition).then((found) => {
        if (found === "aborted") {
          // Not checkable from the log now: nil, as EXEC answers an abort; never logged.
          request.handedOver?.();
          reply(request.protocol === 3 ? NULL_RESP3 : NULL_ARRAY);
          return undefined;
        }
        return this.#logOp(op, partition, request, reply);
      }, (error: unknown) => {
        request.handedOver?.();
        this.#stats.failed++;
        reply(encodeError(
          `ERR the WATCH could not be checked against the log (${error}); ` +
            `the transaction was not logged`,
        ));
        return undefined;
      });
    }
    return this.#logOp(op, partition, request, reply);
  }

  /** Logs `op` and answers it once applied (or once logged, for an `ack=log` command). */
  #logOp(
    op: Op,
    partition: number,
    request: WriteRequest,
    reply: (bytes: Uint8Array) => void,
  ): Promise<Placement | undefined> {
    request.opId?.(op.id);
    const ackOnLog = answerWhen(request, this.#options.ackLog) === "logged";
    this.#stats.accepted++;

    const deadlineMs = this.#clock.now() + this.#options.writeTimeoutMs;
    let answered = false;
    const startedAt = turnNow();
    const answer = (bytes: Uint8Array) => {
      if (answered) return;
      answered = true;
      answeredSeconds.observe(sinceTurn(startedAt));
      reply(bytes);
    };
    const done = Promise.withResolvers<void>();
    this.#pending.register(
      op.id,
      partition,
      deadlineMs,
      (bytes) => {
        // Its reply exists: the rack applied it (answered at once, unless answered when logged).
        appliedSeconds.observe(sinceTurn(startedAt));
        this.#stats.acknowledged++;
        answer(bytes);
        done.resolve();
      },
      () => {
        const lookup = this.#options.storedReply?.(op.id) ?? Promise.resolve(undefined);
        void lookup.catch((error) => {
          ignored("stored_reply_lookup", error);
          return undefined;
        }).then((stored) => {
          if (stored !== undefined) {
            this.#stats.acknowledged++;
            answer(stored);
          } else {
            this.#stats.timedOut++;
            answer(encodeError(
              `ERR Pylon did not get this write's reply within ${this.#options.writeTimeoutMs} ms; ` +
                `it may or may not be applied`,
            ));
          }
          done.resolve();
        });
      },
    );
    let placement: Placement | undefined;
    const placed = this.#log.append(partition, encodeOp(op), deadlineMs).then(
      (offset) => {
        loggedSeconds.observe(sinceTurn(startedAt));
        placement = { partition, offset };
        this.#pending.placed(op.id, offset);
        if (ackOnLog) answer(REPLY.ok);
      },
      (error: unknown) => {
        this.#pending.forget(op.id);
        this.#stats.failed++;
        const reason = error instanceof Error ? error.message : String(error);
        const maybe = !(error instanceof LogError) || error.maybeAppended;
        answer(encodeError(
          maybe
            ? `ERR Pylon could not confirm the write was logged (${reason}); it may or may not be applied`
            : `ERR write not logged: ${reason}`,
        ));
        done.resolve();
      },
    );
    request.handedOver?.();
    // A reply can come (a hand-back from the rack leader) a moment before the log's own
    // acknowledgement: wait briefly for the placement, which later reads on other racks need.
    return done.promise.then(async () => {
      if (placement === undefined) {
        let cancel: (() => void) | undefined;
        await Promise.race([
          placed,
          new Promise<void>((resolve) => {
            cancel = this.#clock.after(PLACEMENT_WAIT_MS, resolve);
          }),
        ]);
        cancel?.();
      }
      return placement;
    });
  }

  /** Gives up on writes past their deadline (on the path's clock); call a few times a second. */
  expire(nowMs: number): void {
    this.#pending.expire(nowMs);
  }

  /** The partition of a valid write, or the error that refuses it. */
  #check(request: WriteRequest): { partition: number } | string {
    let partition: number | undefined;
    // Arguments are not checked here beyond arity (checked when routed): a malformed write is
    // logged and every rack's Redis answers it with its own error, the same everywhere, changing
    // nothing. Only Redis knows its exact words for every case (and some depend on the data).
    for (const { argv, command } of request.commands) {
      const worldMetaDb = this.#options.worldMetaDb?.();
      if (
        dbArguments(command, argv).some((db) => db === this.#options.metaDb || db === worldMetaDb)
      ) {
        return DB_OUT_OF_RANGE;
      }
      const placed = partitionFor(command, argv, this.#log.partitions);
      if ("error" in placed) return placed.error;
      if (partition !== undefined && placed.partition !== partition) {
        return "CROSSSLOT Keys in request don't hash to the same slot";
      }
      partition = placed.partition;
    }
    // Watched keys are checked in the transaction's own partition's log: they must live there.
    for (const key of request.watch?.keys ?? []) {
      const placed = slotPartition(keyHashSlot(key), this.#log.partitions);
      if (partition !== undefined && placed !== partition) return CROSSSLOT_ERROR;
      partition ??= placed;
    }
    return { partition: partition ?? 0 };
  }
}
