/**
 * The applier: reads ops from the log in order and applies them to the rack's
 * Redis master, in batches, exactly once.
 *
 * Each batch is one MULTI .. EXEC that ends by storing the partition's next
 * position (in Pylon's metadata db), so data and position change together.
 * Right after EXEC the applier WATCHes the position key and reads it: if
 * another applier (a racing or deposed one) moves the position, the next EXEC
 * is aborted and the applier resumes from the stored position instead. After
 * a Redis restart or a Sentinel failover it resumes from the position found
 * in whatever Redis is master now, which re-applies exactly what that master
 * is missing.
 *
 * A session starts only on a Redis that holds every op before its stored
 * position: one that lacks ops the log no longer holds (empty or unmarked
 * while the log's start was removed, behind retention, or a rebuild that did
 * not finish) is never applied to from a later op; its partitions wait in
 * state `rebuild` until a peer's snapshot replaced it (src/rebuild/judge.ts
 * decides, src/rebuild/rebuilder.ts rebuilds).
 *
 * Inside the transaction `HELLO 2|3` switches to each op's client protocol,
 * so the reply in EXEC's array is Redis's own bytes for that client.
 *
 * This file does the I/O and the sequencing: the connection, the reader,
 * retries, pausing. What a batch sends (the transaction drawn in
 * batch_plan.ts's header), whose reply each command gives, and what Redis's
 * answer means (applied, fenced, a rack condition, a refusal) are decided
 * without I/O by `planBatch` and `settleBatch` there; whether a watched
 * transaction was overtaken is decided from the log by watch.ts.
 */

import { getLogger } from "@logtape/logtape";
import { equalsIgnoreCase } from "../command/bytes.ts";
import { describe, type HostPort } from "../net/address.ts";
import { encodeCommand } from "../resp/encoder.ts";
import { arrayItems, bulkPayload, frameText } from "../resp/frames.ts";
import { decodeOp, encodeOp, type Op, OpFormatError, opOf } from "../log/op.ts";
import { newOpId } from "../log/op_id.ts";
import type { LogReader, OpLog } from "../log/op_log.ts";
import type { CommandRunner } from "../redis/command_runner.ts";
import { type Clock, realClock } from "../clock.ts";
import type { HandBack } from "./hand_back.ts";
import {
  checkRackRedis,
  encodeMarker,
  MARKER_KEY,
  type RackMarker,
} from "../identity/rack_marker.ts";
import { IdentityError } from "../identity/node_identity.ts";
import { EXIT, fatal } from "../observe/fatal.ts";
import { ignored } from "../observe/ignored.ts";
import { applyBatchSeconds, since } from "../observe/metrics.ts";
import { failpoint } from "../failpoints.ts";
import {
  type Batch,
  connectionAfter,
  type ConnectionState,
  type Fence,
  type OpReply,
  parsePosition,
  planBatch,
  planScriptSteps,
  settleBatch,
  skippedOps,
} from "./batch_plan.ts";
import { type ScriptOps, ScriptRegistry } from "./script_ops.ts";
import type { RackProgress } from "./rack_progress.ts";
import { expiredSinceWatch, WatchVerdicts } from "./watch.ts";
import { Backoff, backoffSchedule } from "../backoff.ts";
import { lastOpKey, logTimeKey, positionKey, REBUILD_KEY } from "../meta_keys.ts";
import { judgeStart, NeedsRebuild, trimmed } from "../rebuild/judge.ts";
import { logTimes, parseLogTime } from "./log_time.ts";
import { Sweeper, type SweeperStats } from "./sweeper.ts";

const log = getLogger(["pylon", "applier"]);

/** Options of {@linkcode Applier}. */
export interface ApplierOptions {
  /** Where each applied op's reply goes (src/applier/hand_back.ts). */
  replies: HandBack;
  /** The Redis db Pylon keeps its positions in; clients cannot select it. */
  metaDb: number;
  /** The marker the rack's Redis must carry (claimed when it is empty). */
  marker: RackMarker;
  /** This rack's applied positions, advanced after every batch. */
  progress: RackProgress;
  batchRecordsMax?: number;
  batchBytesMax?: number;
  /** Retry delays and deadlines (default: the real clock; simulations pass their own). */
  clock?: Clock;
  /**
   * A message (an op of PUBLISH/SPUBLISH alone) accepted longer ago than this
   * is not published: pub/sub is fire-and-forget, and a rack catching up must
   * not flood its subscribers with old messages (default: no limit).
   */
  publishMaxAgeMs?: number;
  /** Wall-clock time in ms since the epoch, as ops' accept times are (default `Date.now`). */
  wallNow?: () => number;
  /**
   * How scripts run as ops (src/applier/script_ops.ts): as a restricted user,
   * reseeded, EVALSHA from the kept bodies. Undefined: as the ops say (simulations).
   */
  scriptOps?: ScriptOps | undefined;
  /**
   * The client dbs the sweeper removes expired keys from (src/applier/sweeper.ts);
   * undefined: no sweeper (simulations).
   */
  sweepDbs?: () => number[];
  /**
   * Ticks: while the partition is idle, this applier appends an op with no
   * command every `intervalMs` of its clock, so log time (and with it expiry)
   * moves on when no one writes. Undefined: no ticks (simulations).
   */
  ticks?: { nodeId: string; rack: string; intervalMs: number };
  /** Told when a partition finds the rack's Redis needs a rebuild (src/rebuild/rebuilder.ts). */
  rebuild?: { needed(partition: number, reason: string): void };
}

/** Where the applier finds the master, and how it connects to it. */
export interface MasterSource {
  address(): HostPort | undefined;
  onChange(fn: () => void): void;
  connect(address: HostPort): Promise<CommandRunner>;
}

/** One partition's progress, for `PYLON INFO`. */
export interface PartitionStatus {
  partition: number;
  /**
   * `paused`: this rack's Redis refuses writes (out of memory, read-only, ...);
   * `rebuild`: it lacks ops the log no longer holds and waits for a rebuild
   * from a peer (src/rebuild/judge.ts). See `lastError`.
   */
  state: "starting" | "applying" | "waiting" | "paused" | "error" | "rebuild";
  /** Next offset to apply (everything below is applied), once known. */
  position: number | undefined;
  appliedOps: number;
  batches: number;
  lastError: string | undefined;
  /** Accept time of the last applied op (for lag in milliseconds). */
  lastAcceptedAtMs: number | undefined;
  /** The partition's log time after the last batch applied (src/applier/log_time.ts), once known. */
  logTimeMs: number | undefined;
  /**
   * True from the start of each session with Redis until the log is applied
   * up to where it ended when the session began: until then this rack's
   * Redis may be far behind (new, restarted empty, or back from an outage).
   */
  catchingUp: boolean;
}

/** Delays between the applier's sessions with Redis after one broke. */
const RECONNECT = backoffSchedule("applier session", [50, 100, 250, 500, 1_000, 2_000]);

/** How long the applier waits for the log to return the last applied op when it checks it. */
const VERIFY_WAIT_MS = 10_000;

/**
 * The stored position disappeared under the applier (FLUSHDB of the metadata
 * db, a Redis that restarted empty behind the same connection): replaying from
 * the log's start could apply ops twice onto data that survived, so the
 * session starts over and checks the Redis again (an empty Redis is rebuilt,
 * one with data but no metadata is refused).
 */
class MetadataVanished extends Error {
  override name = "MetadataVanished";
  constructor() {
    super("Pylon's position in Redis vanished; checking the Redis again");
  }
}

/** Redis refused the batch for a reason of this rack's own (see redis_errors.ts). */
class RackCondition extends Error {
  override name = "RackCondition";
  constructor(text: string) {
    super(`the rack's Redis refuses writes: ${text}`);
  }
}

/** A broken rule of the applier's own: the node must stop rather than apply on. */
class ApplierInvariantError extends Error {
  override name = "ApplierInvariantError";
}

/** Applies every partition of a log to the rack's Redis. */
export class Applier {
  #partitions: PartitionApplier[];
  #sweeper: Sweeper | undefined;

  #live: readonly Readonly<PartitionStatus>[] | undefined;

  constructor(log: OpLog, options: ApplierOptions & { master: MasterSource }) {
    const master = options.master;
    this.#partitions = Array.from(
      { length: log.partitions },
      (_, partition) => new PartitionApplier(log, { ...options, partition }),
    );
    master.onChange(() => {
      for (const p of this.#partitions) p.masterMoved();
    });
    const dbs = options.sweepDbs;
    if (dbs !== undefined) {
      this.#sweeper = new Sweeper({
        address: () => master.address(),
        connect: (address) => master.connect(address),
        dbs,
        // Swept only as far as every partition's log time: no later op can be earlier.
        logTime: () => {
          const times = this.liveStatus().map((p) => p.logTimeMs);
          return times.some((t) => t === undefined) ? undefined : Math.min(...times as number[]);
        },
        clock: options.clock ?? realClock,
      });
    }
  }

  /** Starts applying every partition, and sweeping expired keys. */
  start(): void {
    for (const p of this.#partitions) p.start();
    this.#sweeper?.start();
  }

  /** What the sweeper did (undefined without one). */
  sweeperStats(): SweeperStats | undefined {
    return this.#sweeper?.stats();
  }

  /** Progress of every partition (copies). */
  status(): PartitionStatus[] {
    return this.#partitions.map((p) => p.status());
  }

  /** Progress of every partition as it changes (not copied: rack health asks at every read). */
  liveStatus(): readonly Readonly<PartitionStatus>[] {
    return this.#live ??= this.#partitions.map((p) => p.liveStatus());
  }

  /** Stops after the batch in flight. */
  async stop(): Promise<void> {
    await Promise.all([...this.#partitions.map((p) => p.stop()), this.#sweeper?.stop()]);
  }
}

/** How a batch ended: applied, or not applied because another applier moved the position. */
type Outcome = { kind: "applied" } | { kind: "moved"; stored: number };

const APPLIED: Outcome = { kind: "applied" };

/** How long a batch waits for the rack's Redis clock to reach its log time before pausing. */
const REDIS_CLOCK_WAIT_MS_MAX = 5_000;

/** Commands that record a stream delivery time (scripts and functions may call them). */
const DELIVERY_TIME_COMMANDS = ["xreadgroup", "xclaim", "xautoclaim", "eval", "evalsha", "fcall"];

/** Whether `op` may record a stream delivery time (src/applier/applier.ts). */
function recordsDeliveryTime(op: Op): boolean {
  return op.commands.some((argv) =>
    argv[0] !== undefined && DELIVERY_TIME_COMMANDS.some((name) => equalsIgnoreCase(argv[0]!, name))
  );
}

class PartitionApplier {
  readonly partition: number;
  #log: OpLog;
  #master: MasterSource;
  #options: Required<Omit<ApplierOptions, "sweepDbs" | "ticks" | "rebuild">>;
  #ticks: ApplierOptions["ticks"];
  #rebuild: ApplierOptions["rebuild"];
  /** When this applier last appended a tick (its wall clock). */
  #lastTickAt = 0;
  #reader: LogReader | undefined;
  #connection: CommandRunner | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  #status: PartitionStatus;
  /** Re-asserts the rack's marker in every batch. */
  #markerCommand: Uint8Array;
  /** Whether watched transactions were overtaken (facts of the log, kept a while). */
  #watches: WatchVerdicts;
  /** Scripts as ops (src/applier/script_ops.ts); undefined: applied as the ops say. */
  #scripts: ScriptRegistry | undefined;
  /** Protocol and db after the last command sent on the connection. */
  #state: ConnectionState = { protocol: 2, db: 0 };
  /** The partition's log time after the last op applied (src/applier/log_time.ts). */
  #logTime = 0;
  /** Redis's clock minus this node's wall clock, as last read (ms); undefined: not read yet. */
  #redisClockOffset: number | undefined;

  constructor(log: OpLog, options: ApplierOptions & { master: MasterSource; partition: number }) {
    const { partition, master, rebuild, ...rest } = options;
    this.#rebuild = rebuild;
    this.partition = partition;
    this.#log = log;
    this.#master = master;
    this.#options = {
      batchRecordsMax: 512,
      batchBytesMax: 4 * 1024 * 1024,
      clock: realClock,
      publishMaxAgeMs: Infinity,
      wallNow: Date.now,
      scriptOps: undefined,
      ...rest,
    };
    this.#ticks = options.ticks;
    this.#watches = new WatchVerdicts(log, partition);
    this.#markerCommand = encodeCommand(["SET", MARKER_KEY, encodeMarker(options.marker)]);
    const scriptOps = this.#options.scriptOps;
    this.#scripts = scriptOps === undefined
      ? undefined
      : new ScriptRegistry(scriptOps, options.metaDb);
    this.#status = {
      partition,
      state: "starting",
      position: undefined,
      appliedOps: 0,
      batches: 0,
      lastError: undefined,
      lastAcceptedAtMs: undefined,
      logTimeMs: undefined,
      catchingUp: true,
    };
  }

  status(): PartitionStatus {
    return { ...this.#status };
  }

  liveStatus(): Readonly<PartitionStatus> {
    return this.#status;
  }

  start(): void {
    this.#running ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#connection?.close();
    await this.#reader?.close();
    await this.#running;
  }

  /** The master changed: drop the connection; the loop reconnects to the new one. */
  masterMoved(): void {
    this.#connection?.close();
  }

  async #run(): Promise<void> {
    const backoff = new Backoff(RECONNECT);
    while (!this.#stopped) {
      try {
        await this.#session();
        backoff.reset();
      } catch (error) {
        if (this.#stopped) break;
        if (error instanceof IdentityError) {
          fatal(`applier of partition ${this.partition}`, error, EXIT.refused);
        }
        if (error instanceof ApplierInvariantError) {
          fatal(`applier of partition ${this.partition}`, error);
        }
        const message = (error as Error).message;
        const paused = error instanceof RackCondition;
        const rebuild = error instanceof NeedsRebuild;
        if (this.#status.lastError !== message) {
          // An alert once per condition, not per retry.
          const fields = { partition: this.partition, error: message };
          if (rebuild) {
            log.error(
              "partition {partition}: {error}; nothing is applied to it and its reads go to " +
                "other racks until it is rebuilt",
              fields,
            );
          } else if (paused) {
            log.error(
              "partition {partition}: {error}; applying is paused (no op skipped, no client " +
                "answered with it) and resumes where it stopped once Redis takes writes",
              fields,
            );
          } else log.warning("partition {partition}: {error}; retrying", fields);
        }
        this.#status.state = rebuild ? "rebuild" : paused ? "paused" : "error";
        this.#status.lastError = message;
        this.#status.catchingUp = true;
        if (rebuild) {
          // This Redis's log time is not the rack's any more: nothing is swept by it.
          this.#status.logTimeMs = undefined;
          this.#rebuild?.needed(this.partition, error.reason);
        }
        this.#connection?.close();
        const delay = backoff.next()!;
        await new Promise<void>((resolve) => this.#options.clock.after(delay, resolve));
      }
    }
  }

  /** One connection's life: find the stored position, then apply batches until something breaks. */
  async #session(): Promise<void> {
    const address = this.#master.address();
    if (address === undefined) throw new Error("no Redis master known");
    const connection = await this.#master.connect(address);
    this.#connection = connection;
    this.#state = { protocol: 2, db: 0 };
    this.#redisClockOffset = undefined;
    const meta = this.#options.metaDb;
    const where = describe(address);
    const found = await checkRackRedis(connection, this.#options.marker, meta, where, {
      claim: true,
      unmarked: "report",
    });
    // A rebuild's mark read after the WATCH: a rebuild that begins later writes the position,
    // so this session's first batch finds it moved (src/rebuild/loader.ts).
    const [, stored, lastOp, logTime, rebuilding] = await connection.run([
      encodeCommand(["WATCH", positionKey(this.partition)]),
      encodeCommand(["GET", positionKey(this.partition)]),
      encodeCommand(["GET", lastOpKey(this.partition)]),
      encodeCommand(["GET", logTimeKey(this.partition)]),
      encodeCommand(["GET", REBUILD_KEY]),
    ]);
    this.#state.db = meta;
    this.#status.catchingUp = true;
    const bounds = await this.#log.bounds(this.partition);
    const mark = bulkPayload(rebuilding!);
    const verdict = judgeStart({
      partition: this.partition,
      found: mark === undefined
        ? found
        : { kind: "unfinished", rebuild: new TextDecoder().decode(mark) },
      stored: parsePosition(stored!),
      bounds,
      logTrimmed: found.kind === "unmarked"
        ? trimmed(
          await Promise.all(
            Array.from({ length: this.#log.partitions }, (_, p) => this.#log.bounds(p)),
          ),
        )
        : bounds.start > 0,
    });
    if (verdict.kind === "rebuild") throw new NeedsRebuild(verdict.reason);
    if (verdict.kind === "refuse") throw new IdentityError(verdict.reason);
    this.#logTime = parseLogTime(bulkPayload(logTime!));
    this.#status.logTimeMs = this.#logTime;
    let position = verdict.from;
    const catchUpTo = bounds.end;
    if (position > bounds.end) {
      throw new IdentityError(
        `Redis at ${where} says partition ${this.partition} is applied up to ${position}, ` +
          `but the log ends at ${bounds.end}: this Redis belongs to another log`,
      );
    }
    const lastId = bulkPayload(lastOp!);
    if (lastId !== undefined && lastId.length > 0 && position - 1 >= bounds.start) {
      await this.#verifyLastOp(position - 1, new TextDecoder().decode(lastId), where);
    }
    this.#moveTo(position, "stored position");
    this.#status.state = "applying";
    this.#status.lastError = undefined;
    if (position >= catchUpTo) this.#status.catchingUp = false;

    while (!this.#stopped && !connection.closed) {
      const records = await this.#reader!.next({
        recordsMax: this.#options.batchRecordsMax,
        bytesMax: this.#options.batchBytesMax,
        waitMs: 200,
      });
      if (records.length === 0) {
        this.#status.state = "waiting";
        this.#maybeTick();
        continue;
      }
      this.#status.state = "applying";
      if (records[0]!.offset !== position) {
        throw new ApplierInvariantError(
          `reader returned offset ${records[0]!.offset}, expected ${position}`,
        );
      }
      const next = records[records.length - 1]!.offset + 1;
      const ops: (Op | undefined)[] = records.map((r) => {
        try {
          return opOf(r.value);
        } catch (error) {
          if (!(error instanceof OpFormatError)) throw error;
          // Every rack skips the same undecodable record, so they stay identical.
          log.error(
            "partition {partition} offset {offset}: skipping a record that is not an op: {error}",
            {
              partition: this.partition,
              offset: r.offset,
              error: error.message,
            },
          );
          return undefined;
        }
      });
      const outcome = await this.#applyBatch(connection, ops, next);
      if (outcome.kind === "moved") {
        position = outcome.stored;
        this.#moveTo(position, "another applier moved the position");
        // Its log time moved with it (the WATCH on the position is not disturbed by this GET).
        const [, time] = await connection.run([
          encodeCommand(["SELECT", String(this.#options.metaDb)]),
          encodeCommand(["GET", logTimeKey(this.partition)]),
        ]);
        this.#state.db = this.#options.metaDb;
        this.#logTime = parseLogTime(bulkPayload(time!));
        this.#status.logTimeMs = this.#logTime;
        continue;
      }
      position = next;
      this.#options.progress.advance(this.partition, position);
      this.#status.position = position;
      if (position >= catchUpTo) this.#status.catchingUp = false;
    }
  }

  /**
   * Reads the op at `offset` and checks it is the one Redis says was applied
   * last: a log re-created under the same name holds other ops there.
   */
  async #verifyLastOp(offset: number, expected: string, where: string): Promise<void> {
    if (this.#reader === undefined) this.#reader = this.#log.reader(this.partition, offset);
    else this.#reader.seek(offset);
    const deadline = this.#options.clock.now() + VERIFY_WAIT_MS;
    while (!this.#stopped) {
      const [record] = await this.#reader.next({ recordsMax: 1, bytesMax: 1, waitMs: 200 });
      if (record !== undefined) {
        let found: string;
        try {
          found = decodeOp(record.value).id;
        } catch {
          found = "(not an op)";
        }
        if (found !== expected) {
          throw new IdentityError(
            `Redis at ${where} says op ${expected} was applied last, at offset ${offset} of ` +
              `partition ${this.partition}, but the log holds ${found} there: this Redis was ` +
              `applied from another log (was the topic re-created?). Empty it (FLUSHALL) to ` +
              `rebuild it from this log.`,
          );
        }
        return;
      }
      if (this.#options.clock.now() > deadline) {
        throw new Error(`the log did not return offset ${offset} within ${VERIFY_WAIT_MS} ms`);
      }
    }
  }

  /** Seeks the reader to `position` (creating it on first use). */
  #moveTo(position: number, why: string): void {
    if (this.#reader === undefined) this.#reader = this.#log.reader(this.partition, position);
    else this.#reader.seek(position);
    this.#status.position = position;
    // Authoritative, even when lower than before (a Redis that came back empty).
    this.#options.progress.reset(this.partition, position);
    log.info("partition {partition}: applying from offset {position} ({why})", {
      partition: this.partition,
      position,
      why,
    });
  }

  /**
   * Applies one batch (planned and settled in batch_plan.ts). Returns
   * "applied", or "moved" with the stored position when another applier
   * advanced it (this batch was then not applied).
   */
  async #applyBatch(
    connection: CommandRunner,
    ops: (Op | undefined)[],
    next: number,
  ): Promise<Outcome> {
    const { times, after } = logTimes(this.#logTime, ops);
    const overtaken = new Set<Op>();
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i];
      if (op?.watch === undefined) continue;
      if (
        expiredSinceWatch(op, times[i]!) ||
        await this.#watches.overtaken(op, next - ops.length + i)
      ) {
        overtaken.add(op);
      }
    }
    const skipped = skippedOps(ops, {
      overtaken,
      nowMs: this.#options.wallNow(),
      publishMaxAgeMs: this.#options.publishMaxAgeMs,
    });
    const batch: Batch = { ops, skipped, next, times, timeAfter: after };
    const scripts = this.#scripts;
    const metaDb = this.#options.metaDb;
    const steps = planScriptSteps(batch, { scripts, metaDb, connection: this.#state });
    if (steps !== undefined) {
      const frames = await connection.run(steps.plan.commands);
      this.#state = steps.after;
      const refusal = scripts!.prepared(steps.plan, frames);
      // Never run a script unrestricted: the rack waits until Redis lets Pylon make the user.
      if (refusal !== undefined) throw new RackCondition(refusal);
    }
    await this.#untilRedisClockReaches(connection, batch);
    const plan = planBatch(batch, {
      partition: this.partition,
      metaDb,
      markerCommand: this.#markerCommand,
      scripts,
      connection: this.#state,
    });

    const startedAt = performance.now();
    const frames = await connection.run(plan.commands);
    applyBatchSeconds.observe(since(startedAt));
    const settled = settleBatch(plan, frames);
    this.#state = connectionAfter(plan, settled);
    switch (settled.kind) {
      case "applied":
        this.#logTime = after;
        this.#status.logTimeMs = after;
        this.#deliver(settled.replies);
        return settled.fence.kind === "held" ? APPLIED : fenced(settled.fence);
      case "fenced":
        return fenced(settled.fence);
      case "rackCondition":
        throw new RackCondition(settled.condition);
      case "broken":
        throw new ApplierInvariantError(settled.message);
      case "oneByOne":
      case "refused":
        log.warning("partition {partition}: transaction refused ({error})", {
          partition: this.partition,
          error: settled.refusal,
        });
        if (settled.kind === "oneByOne") {
          return await this.#applyOneByOne(connection, ops, next - ops.length);
        }
        // Refused by Redis itself: that is the op's reply on every rack; only the position and
        // the log time move.
        for (const { op, reply } of settled.replies) this.#settle(op, reply);
        this.#logTime = after;
        return await this.#applyBatch(connection, [undefined], next);
    }
  }

  /**
   * Redis keeps a stream entry's delivery time no later than its own clock,
   * so an op that records one (XREADGROUP, XCLAIM, XAUTOCLAIM, or a script or
   * function that may) runs only once the rack's Redis clock has reached the
   * op's log time: else Redis would store an earlier time on this rack than
   * on the others. The offset of Redis's clock is read once per session and
   * again whenever a batch seems ahead of it; the wait is bounded.
   */
  async #untilRedisClockReaches(connection: CommandRunner, batch: Batch): Promise<void> {
    let needed = -Infinity;
    batch.ops.forEach((op, i) => {
      if (op !== undefined && !batch.skipped.has(op) && recordsDeliveryTime(op)) {
        needed = Math.max(needed, batch.times[i]!);
      }
    });
    if (needed === -Infinity) return;
    const clock = this.#options.clock;
    const deadline = clock.now() + REDIS_CLOCK_WAIT_MS_MAX;
    for (let fresh = false;; fresh = true) {
      if (this.#redisClockOffset === undefined || fresh) {
        const [time] = await connection.run([encodeCommand(["TIME"])]);
        const [seconds, micros] = (arrayItems(time!) ?? []).map((f) => Number(frameText(f)));
        this.#redisClockOffset = seconds! * 1000 + Math.floor(micros! / 1000) -
          this.#options.wallNow();
      }
      const ahead = needed - (this.#options.wallNow() + this.#redisClockOffset);
      if (ahead < 0) return;
      if (clock.now() > deadline) {
        throw new RackCondition(
          `its clock is ${ahead + 1} ms behind the log's time (an op records a stream delivery ` +
            `time); sync the rack's clock (NTP)`,
        );
      }
      await new Promise<void>((resolve) => clock.after(Math.min(ahead + 1, 100), resolve));
    }
  }

  /** Slow path after EXECABORT: each op in its own transaction. */
  async #applyOneByOne(
    connection: CommandRunner,
    ops: (Op | undefined)[],
    first: number,
  ): Promise<Outcome> {
    // From a known state: RESP2, the metadata db, and the position WATCHed again (EXEC unwatched it).
    this.#state.protocol = 2;
    const reset = await connection.run([
      encodeCommand(["HELLO", "2"]),
      encodeCommand(["SELECT", String(this.#options.metaDb)]),
      encodeCommand(["WATCH", positionKey(this.partition)]),
      encodeCommand(["GET", positionKey(this.partition)]),
    ]);
    this.#state.db = this.#options.metaDb;
    const stored = parsePosition(reset[3]!);
    if (stored === undefined) throw new MetadataVanished();
    if (stored !== first) return { kind: "moved", stored };
    for (let i = 0; i < ops.length; i++) {
      const outcome = await this.#applyBatch(connection, [ops[i]], first + i + 1);
      if (outcome.kind === "moved") return outcome;
    }
    return APPLIED;
  }

  /** Hands each op's reply to its waiting client, or stores it for its origin node. */
  #deliver(replies: readonly OpReply[]): void {
    this.#scripts?.applied();
    for (const { op, reply } of replies) this.#settle(op, reply);
    this.#status.batches++;
    const stores = this.#options.replies.takeStores();
    if (stores.length > 0) {
      // Best effort, after the transaction: the origin node fetches these if another node applied its ops.
      try {
        failpoint("applier.store_reply");
        this.#connection?.run(stores).catch((error) => ignored("reply_store", error));
      } catch (error) {
        ignored("reply_store", error);
      }
    }
  }

  /**
   * While the partition is idle and caught up, an op with no command is
   * appended once its log time is `intervalMs` behind this node's clock: an
   * idle world's keys still expire, on every rack at the same point of the log.
   * Every rack leader may append one; the first applied makes the others wait.
   */
  #maybeTick(): void {
    const ticks = this.#ticks;
    if (ticks === undefined || this.#status.catchingUp) return;
    const now = this.#options.wallNow();
    if (now - this.#logTime < ticks.intervalMs || now - this.#lastTickAt < ticks.intervalMs) return;
    this.#lastTickAt = now;
    const tick: Op = {
      id: newOpId(now),
      origin: ticks.nodeId,
      rack: ticks.rack,
      db: 0,
      protocol: 2,
      transaction: false,
      acceptedAtMs: now,
      commands: [],
    };
    const deadline = this.#options.clock.now() + ticks.intervalMs * 5;
    this.#log.append(this.partition, encodeOp(tick), deadline).catch((error) =>
      ignored("log_tick", error)
    );
  }

  /** One op applied: its reply goes where {@linkcode HandBack} says. */
  #settle(op: Op, reply: Uint8Array): void {
    this.#status.appliedOps++;
    this.#status.lastAcceptedAtMs = op.acceptedAtMs;
    this.#options.replies.applied(op, reply);
  }
}

/** The outcome of a batch whose position someone else moved. */
function fenced(fence: Exclude<Fence, { kind: "held" }>): Outcome {
  if (fence.kind === "vanished") throw new MetadataVanished();
  return { kind: "moved", stored: fence.stored };
}
