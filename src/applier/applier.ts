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
import { arrayItems, bulkPayload, frameText, isErrorFrame } from "../resp/frames.ts";
import { decodeOp, encodeOp, type Op, OpFormatError, opOf } from "../log/op.ts";
import { newOpId } from "../log/op_id.ts";
import type { LogReader, LogRecord, OpLog } from "../log/op_log.ts";
import type { CommandRunner } from "../redis/command_runner.ts";
import { type Clock, realClock } from "../clock.ts";
import type { HandBack } from "./hand_back.ts";
import {
  checkRackRedis,
  encodeMarker,
  MARKER_KEY,
  MarkerReadRefused,
  type RackMarker,
} from "../identity/rack_marker.ts";
import { classifyRedisError } from "./redis_errors.ts";
import { type Rewind, rewindCommand } from "./rewind.ts";
import { IdentityError } from "../identity/node_identity.ts";
import { EXIT, fatal } from "../observe/fatal.ts";
import { ignored } from "../observe/ignored.ts";
import { applyBatchSeconds, since } from "../observe/metrics.ts";
import { failpoint } from "../failpoints.ts";
import {
  type Batch,
  connectionAfter,
  type ConnectionState,
  endsBatch,
  type Fence,
  type OpReply,
  parsePosition,
  planBatch,
  planScriptSteps,
  settleBatch,
  type Settlement,
  skippedOps,
} from "./batch_plan.ts";
import { type ScriptOps, ScriptRegistry } from "./script_ops.ts";
import type { RackProgress } from "./rack_progress.ts";
import { expiredSinceWatch, WatchRecordsGone, WatchVerdicts } from "./watch.ts";
import { Backoff, backoffSchedule } from "../backoff.ts";
import { lastOpKey, logTimeKey, positionKey, REBUILD_KEY } from "../meta_keys.ts";
import { judgeStart, NeedsRebuild, trimmed } from "../rebuild/judge.ts";
import { logTimes, parseLogTime } from "./log_time.ts";
import { Sweeper, type SweeperStats } from "./sweeper.ts";
import { haltedReason, haltRack, RackHalted } from "./halt.ts";
import {
  contractFrom,
  describeViolations,
  judgeRack,
  type RackContract,
} from "../cluster/rack_contract.ts";
import { readRackSettings } from "../redis/rack_settings.ts";
import { conditionReason, rackConditionMet } from "../observe/rack_conditions.ts";
import { overrunAfterMs, overrunReason } from "./script_overrun.ts";
import type { OutcomeHook } from "./outcome_hook.ts";
import { readiedKeys } from "./wakes.ts";
import type { Readied } from "../write/key_waiters.ts";

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
  /**
   * The world's contract for a rack's Redis (src/cluster/rack_contract.ts),
   * checked at every session's start and every {@linkcode CONTRACT_CHECK_MS}
   * after. Undefined: not checked (simulations).
   */
  contract?: ContractSource;
  /**
   * The divergence checker (src/divergence/): fingerprints each batch's
   * replies, halts the applier when the rack diverged, and stands it still
   * at stops. Undefined: none (simulations).
   */
  outcomes?: OutcomeHook;
  /**
   * After each batch: the keys its ops readied for clients waiting in
   * blocking commands (src/applier/wakes.ts), in log order, after the
   * batch's replies were handed back.
   */
  readied?: (ops: Readied[]) => void;
  /** This rack: tries of pops accepted here keep claims (src/applier/claims.ts). */
  claims?: { rack: string };
  /** Told when a partition finds the rack's Redis needs a rebuild (src/rebuild/rebuilder.ts). */
  rebuild?: { needed(partition: number, reason: string): void };
}

/** Where the applier finds the world's contract for its rack's Redis. */
export interface ContractSource {
  /** The contract the world recorded; undefined until one is. */
  current(): RackContract | undefined;
  /**
   * Offers the contract this rack's Redis would found (the world keeps the
   * first recorded); `replace`: records it over the world's.
   */
  propose(contract: RackContract, replace?: boolean): void;
  /** Whether every node of the world is in this rack: its Redis alone says what the world's is. */
  soleRack(): boolean;
}

/** How often an applying rack checks its Redis against the world's contract again. */
const CONTRACT_CHECK_MS = 5_000;
/** How long a session waits for the world to record a contract before it retries. */
const CONTRACT_WAIT_MS = 3_000;

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
   * `paused`: this rack's Redis refuses writes (out of memory, read-only,
   * ...), or a script op keeps it busy past its budget
   * (src/applier/script_overrun.ts); `halted`: its data may differ from the
   * other racks' (src/applier/halt.ts); `diverged`: its outcomes or data
   * differ from the world's (src/divergence/); `rebuild`: it lacks ops the
   * log no longer holds and waits for a rebuild from a peer
   * (src/rebuild/judge.ts). See `lastError`.
   */
  state:
    | "starting"
    | "applying"
    | "waiting"
    | "paused"
    | "halted"
    | "error"
    | "diverged"
    | "rebuild";
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

/**
 * The rack's halt (it diverged) was cleared, usually by emptying its Redis to
 * rebuild it: the session starts over and checks the Redis again, and reads
 * go elsewhere until it has caught up.
 */
class HaltCleared extends Error {
  override name = "HaltCleared";
  constructor() {
    super("the divergence halt was cleared; checking the rack's Redis again");
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

/** How often a halted (diverged) applier looks whether the halt was cleared. */
const HALT_POLL_MS = 250;

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
  #options: Required<
    Omit<
      ApplierOptions,
      "sweepDbs" | "ticks" | "contract" | "outcomes" | "readied" | "claims" | "rebuild"
    >
  >;
  #contract: ContractSource | undefined;
  /** When this session last checked the contract (its clock), and the commands found missing. */
  #contractCheckedAt = 0;
  #missingCommands: string[] = [];
  #contractUnverifiedWarned = false;
  #claims: ApplierOptions["claims"];
  #readied: ApplierOptions["readied"];
  #ticks: ApplierOptions["ticks"];
  #outcomes: OutcomeHook | undefined;
  /** A kept script body by sha, for the outcome fingerprints. */
  #scriptBody = (sha: string) => this.#scripts?.body(sha);
  #rebuild: ApplierOptions["rebuild"];
  /** When this applier last appended a tick (its wall clock). */
  #lastTickAt = 0;
  #reader: LogReader | undefined;
  /** A rewind not made yet (its Redis refused it or the connection broke): made first. */
  #pendingRewind: Rewind | undefined;
  /** Records read past a batch cut short after a script op (src/applier/batch_plan.ts endsBatch). */
  #carried: LogRecord[] = [];
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
  /** The log time at the log's end as last learned (src/applier/batch_plan.ts skippedOps). */
  #headTimeMs = 0;
  /** The id of the last op applied, as stored with the position ("" when none or not an op). */
  #lastOpId = "";
  /** Redis's clock minus this node's wall clock, as last read (ms); undefined: not read yet. */
  #redisClockOffset: number | undefined;
  /**
   * Tries before this offset keep no claim: a Redis with no stored position
   * (new, or back empty) is rebuilt from the log, and the tries it replays
   * were answered long ago (a claim would put back what a client has).
   */
  #claimFrom = 0;

  constructor(log: OpLog, options: ApplierOptions & { master: MasterSource; partition: number }) {
    const {
      partition,
      master,
      contract: _contract,
      outcomes,
      readied,
      claims,
      rebuild,
      ...rest
    } = options;
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
    this.#contract = options.contract;
    this.#outcomes = outcomes;
    this.#readied = readied;
    this.#claims = claims;
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
        const halted = error instanceof RackHalted;
        const paused = error instanceof RackCondition;
        const rebuild = error instanceof NeedsRebuild;
        if (this.#status.lastError !== message) {
          // An alert once per condition, not per retry.
          const fields = { partition: this.partition, error: message };
          if (halted || paused) rackConditionMet(conditionReason(message));
          if (halted) log.error("partition {partition}: {error}", fields);
          else if (rebuild) {
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
        this.#status.state = halted ? "halted" : rebuild ? "rebuild" : paused ? "paused" : "error";
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
    }).catch((error) => {
      // Out of memory, loading, ...: Redis refuses even a read in MULTI.
      if (error instanceof MarkerReadRefused && classifyRedisError(error.reply) === "rack") {
        throw new RackCondition(error.reply);
      }
      throw error;
    });
    const halted = await haltedReason(connection);
    if (halted !== undefined) throw new RackHalted(halted);
    await this.#checkContract(connection, true);
    await this.#rewind(connection);
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
    const storedPosition = parsePosition(stored!);
    const mark = bulkPayload(rebuilding!);
    const verdict = judgeStart({
      partition: this.partition,
      found: mark === undefined
        ? found
        : { kind: "unfinished", rebuild: new TextDecoder().decode(mark) },
      stored: storedPosition,
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
    this.#lastOpId = new TextDecoder().decode(bulkPayload(lastOp!) ?? new Uint8Array());
    let position = verdict.from;
    const catchUpTo = bounds.end;
    this.#claimFrom = storedPosition === undefined ? catchUpTo : 0;
    if (position > bounds.end) {
      throw new IdentityError(
        `Redis at ${where} says partition ${this.partition} is applied up to ${position}, ` +
          `but the log ends at ${bounds.end}: this Redis belongs to another log`,
      );
    }
    this.#headTimeMs = Math.max(this.#logTime, await this.#acceptTimeAt(bounds.end - 1));
    const lastId = bulkPayload(lastOp!);
    if (lastId !== undefined && lastId.length > 0 && position - 1 >= bounds.start) {
      await this.#verifyLastOp(position - 1, new TextDecoder().decode(lastId), where);
    }
    this.#moveTo(position, "stored position");
    this.#status.state = "applying";
    this.#status.lastError = undefined;
    if (position >= catchUpTo) this.#status.catchingUp = false;

    while (!this.#stopped && !connection.closed) {
      let recordsMax = this.#options.batchRecordsMax;
      const hook = this.#outcomes;
      if (hook !== undefined) {
        if (await this.#halted(hook)) continue;
        const stop = hook.nextStop(this.partition, position);
        if (stop === position) {
          await hook.atStop(this.partition, position, this.#logTime, connection);
          this.#state.db = -1; // the stop may leave the connection in another db
          continue;
        }
        // Batches end at the next stop.
        recordsMax = Math.min(recordsMax, stop - position);
      }
      let records = this.#carried.length > 0
        ? this.#carried.splice(0, recordsMax)
        : await this.#reader!.next({
          recordsMax,
          bytesMax: this.#options.batchBytesMax,
          waitMs: 200,
        });
      if (this.#options.clock.now() - this.#contractCheckedAt >= CONTRACT_CHECK_MS) {
        await this.#checkContract(connection, false);
      }
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
      let ops: (Op | undefined)[] = records.map((r) => {
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
      // A script op ends its batch: one killed by SCRIPT KILL sent to this rack's Redis is then
      // the batch's last op, and the rack goes back to just before it instead of halting.
      const cut = ops.findIndex((op) => op !== undefined && endsBatch(op));
      if (cut >= 0 && cut < ops.length - 1) {
        // Ahead of what is still carried (a stop may have bounded the batch taken from it).
        this.#carried = [...records.slice(cut + 1), ...this.#carried];
        records = records.slice(0, cut + 1);
        ops = ops.slice(0, cut + 1);
      }
      const next = records[records.length - 1]!.offset + 1;
      const outcome = await this.#applyBatch(connection, ops, next);
      if (outcome.kind === "moved") {
        position = outcome.stored;
        this.#moveTo(position, "another applier moved the position");
        // Its log time moved with it (the WATCH on the position is not disturbed by this GET).
        const [, time, last] = await connection.run([
          encodeCommand(["SELECT", String(this.#options.metaDb)]),
          encodeCommand(["GET", logTimeKey(this.partition)]),
          encodeCommand(["GET", lastOpKey(this.partition)]),
        ]);
        this.#lastOpId = new TextDecoder().decode(bulkPayload(last!) ?? new Uint8Array());
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
   * Checks the rack's Redis against the world's contract; a Redis that does
   * not meet it is not applied to (a rack condition naming each setting, its
   * value and the world's). With no contract recorded yet, this rack offers
   * its own and waits a little for the world to record one. `commands`: read
   * which commands it lacks too (they change only with a restart, which
   * starts a new session).
   */
  async #checkContract(connection: CommandRunner, commands: boolean): Promise<void> {
    const source = this.#contract;
    if (source === undefined) return;
    // CONFIG GET and INFO are read in RESP2, the shapes the reader parses.
    if (this.#state.protocol !== 2) {
      await connection.run([encodeCommand(["HELLO", "2"])]);
      this.#state.protocol = 2;
    }
    const settings = await readRackSettings(connection, { commands });
    if (commands) this.#missingCommands = settings.missingCommands ?? [];
    else settings.missingCommands = this.#missingCommands;
    const clock = this.#options.clock;
    const deadline = clock.now() + CONTRACT_WAIT_MS;
    let contract = source.current();
    if (settings.config === undefined) this.#unverified();
    if (contract === undefined) {
      const founded = contractFrom(settings, this.#options.metaDb);
      // A Redis that shows no settings cannot found the contract: another rack will.
      if (founded === undefined) return;
      source.propose(founded);
    }
    while (contract === undefined) {
      if (clock.now() > deadline || this.#stopped) {
        throw new Error("waiting for the world to record its contract for racks' Redis");
      }
      await new Promise<void>((resolve) => clock.after(50, resolve));
      contract = source.current();
    }
    const violations = judgeRack(contract, settings, this.#options.metaDb);
    if (violations.length > 0) {
      // The world's only rack changed its Redis (more databases, another limit): no other rack
      // applies the log differently, so the contract follows it, from this point of the log on.
      const founded = source.soleRack() ? contractFrom(settings, this.#options.metaDb) : undefined;
      if (founded === undefined || judgeRack(founded, settings, this.#options.metaDb).length > 0) {
        throw new RackCondition(describeViolations(violations));
      }
      log.info(
        "partition {partition}: the world's only rack records its Redis's settings as the contract: {change}",
        {
          partition: this.partition,
          change: describeViolations(violations),
        },
      );
      source.propose(founded, true);
      while (JSON.stringify(source.current()) !== JSON.stringify(founded)) {
        if (clock.now() > deadline || this.#stopped) {
          throw new Error("waiting for the world to record its contract for racks' Redis");
        }
        await new Promise<void>((resolve) => clock.after(50, resolve));
      }
    }
    this.#contractCheckedAt = clock.now();
  }

  /**
   * The accept time of the op at `offset` (0 when there is none or it cannot
   * be read at once): a rack catching up learns how far the log's time has
   * gone, so it can tell old messages from live ones by the log's times alone.
   */
  async #acceptTimeAt(offset: number): Promise<number> {
    if (offset < 0 || this.#options.publishMaxAgeMs === Infinity) return 0;
    const reader = this.#log.reader(this.partition, offset);
    try {
      const [record] = await reader.next({ recordsMax: 1, bytesMax: 1, waitMs: 1_000 });
      return record === undefined ? 0 : decodeOp(record.value).acceptedAtMs;
    } catch {
      return 0; // Not an op, or gone: no message is then taken for old.
    } finally {
      await reader.close();
    }
  }

  /** Says once per node that this rack's Redis settings cannot be checked (CONFIG refused). */
  #unverified(): void {
    if (this.#contractUnverifiedWarned) return;
    this.#contractUnverifiedWarned = true;
    log.warning(
      "partition {partition}: the rack's Redis refuses CONFIG, so its settings cannot be checked " +
        "against the world's contract (README: what a rack's Redis must be); applying anyway, on " +
        "the operator's word that they match",
      { partition: this.partition },
    );
  }

  /**
   * While the rack is halted (it diverged from the world: src/divergence/),
   * nothing is applied; true when it is. Applying resumes where it stopped
   * once the halt is cleared.
   */
  async #halted(hook: OutcomeHook): Promise<boolean> {
    const reason = hook.halted();
    if (reason === undefined) {
      if (this.#status.state === "diverged") throw new HaltCleared();
      return false;
    }
    this.#status.state = "diverged";
    this.#status.lastError = reason;
    await new Promise<void>((resolve) => this.#options.clock.after(HALT_POLL_MS, resolve));
    return true;
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
    this.#carried = [];
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
      if (expiredSinceWatch(op, times[i]!) || await this.#overtaken(op, next - ops.length + i)) {
        overtaken.add(op);
      }
    }
    this.#headTimeMs = Math.max(this.#headTimeMs, after);
    const skipped = skippedOps(ops, {
      overtaken,
      times,
      headTimeMs: this.#headTimeMs,
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
      partitions: this.#log.partitions,
      metaDb,
      markerCommand: this.#markerCommand,
      scripts,
      connection: this.#state,
      ...(this.#claims === undefined
        ? {}
        : { claims: { rack: this.#claims.rack, fromOffset: this.#claimFrom } }),
    });

    const startedAt = performance.now();
    const endWatch = this.#watchOverrun(batch);
    let frames: Uint8Array[];
    try {
      frames = await connection.run(plan.commands);
    } finally {
      endWatch();
    }
    applyBatchSeconds.observe(since(startedAt));
    const settled = settleBatch(plan, frames);
    this.#state = connectionAfter(plan, settled);
    switch (settled.kind) {
      case "applied":
        if (settled.rackError !== undefined) {
          return await this.#rackErrorInside(connection, batch, settled);
        }
        this.#logTime = after;
        this.#status.logTimeMs = after;
        this.#lastOpId = lastOpIdOf(ops, this.#lastOpId);
        this.#deliver(settled.replies);
        this.#outcomes?.applied(
          this.partition,
          next - ops.length,
          ops,
          settled.replies,
          this.#scriptBody,
        );
        this.#wake(batch, settled.replies);
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
        // the log time move (its outcome is fingerprinted as no reply, by the batch below).
        for (const { op, reply } of settled.replies) this.#settle(op, reply);
        this.#logTime = after;
        return await this.#applyBatch(connection, [undefined], next);
    }
  }

  /**
   * Makes the pending rewind (src/applier/rewind.ts); until it is made, this
   * applier applies nothing more (each session starts with it). Another
   * applier that moved the position since leaves nothing to go back from.
   */
  async #rewind(connection: CommandRunner): Promise<void> {
    const rewind = this.#pendingRewind;
    if (rewind === undefined) return;
    const [reply] = await connection.run([rewindCommand(rewind)]);
    if (isErrorFrame(reply!)) {
      const text = frameText(reply!);
      const why = `going back to offset ${rewind.position} failed: ${text}`;
      throw classifyRedisError(text) === "rack" ? new RackCondition(why) : new Error(why);
    }
    this.#pendingRewind = undefined;
  }

  /** The log's verdict on a watched op; records it needs gone from the log pause this rack. */
  async #overtaken(op: Op, offset: number): Promise<boolean> {
    try {
      return await this.#watches.overtaken(op, offset);
    } catch (error) {
      if (error instanceof WatchRecordsGone) throw new RackCondition(error.message);
      throw error;
    }
  }

  /**
   * A rack condition inside an EXEC that ran (batch_plan.ts RackErrorInside).
   * When only the batch's last op failed, and changed nothing, the rack goes
   * back to just before it — position, log time and last op stored as they
   * were — the ops before it are answered, and the applier pauses: that op is
   * applied again once the condition clears. Otherwise the commands after the
   * failure ran on data this rack alone has, so the rack is halted
   * ({@linkcode haltRack}): it stops applying and serving reads until its Redis
   * is rebuilt.
   */
  async #rackErrorInside(
    connection: CommandRunner,
    batch: Batch,
    settled: Extract<Settlement, { kind: "applied" }>,
  ): Promise<Outcome> {
    const error = settled.rackError!;
    const at = error.rewindTo;
    if (at === undefined) {
      const reason = `${error.where} got '${error.condition}' inside an applied transaction ` +
        `(partition ${this.partition}, batch ending at offset ${batch.next}): commands after it ` +
        `ran, so this rack's data may differ from the other racks'`;
      await haltRack(connection, this.#options.metaDb, reason);
      throw new RackHalted(reason);
    }
    const first = batch.next - batch.ops.length;
    const timeBefore = at === 0 ? this.#logTime : batch.times[at - 1]!;
    const lastBefore = lastOpIdOf(batch.ops.slice(0, at), this.#lastOpId);
    // The ops before it are applied whatever follows.
    this.#deliver(settled.replies.filter(({ op }) => batch.ops.indexOf(op) < at));
    this.#pendingRewind = {
      partition: this.partition,
      metaDb: this.#options.metaDb,
      stored: batch.next,
      position: first + at,
      logTimeMs: timeBefore,
      lastOpId: lastBefore,
    };
    await this.#rewind(connection);
    const failed = batch.ops[at]!;
    this.#logTime = timeBefore;
    this.#status.logTimeMs = timeBefore;
    this.#lastOpId = lastBefore;
    this.#options.progress.advance(this.partition, first + at);
    this.#status.position = first + at;
    throw new RackCondition(
      `${error.condition} (op ${failed.id} at offset ${first + at}, inside the applied ` +
        `transaction; the op is applied again once this clears)`,
    );
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

  /**
   * Watches a batch that runs scripts or functions (src/applier/script_overrun.ts):
   * past their budgets plus grace the partition shows as paused, with the
   * reason, until the batch ends. Returns the function that ends the watch.
   */
  #watchOverrun(batch: Batch): () => void {
    const afterMs = overrunAfterMs(
      batch.ops.filter((op) => op === undefined || !batch.skipped.has(op)),
    );
    if (afterMs === undefined) return () => {};
    const startedAt = this.#options.clock.now();
    let overran = false;
    const cancel = this.#options.clock.after(afterMs, () => {
      overran = true;
      const reason = overrunReason(afterMs);
      this.#status.state = "paused";
      this.#status.lastError = reason;
      log.error("partition {partition}: {reason}", { partition: this.partition, reason });
    });
    return () => {
      cancel();
      if (!overran) return;
      const ms = Math.round(this.#options.clock.now() - startedAt);
      log.warning("partition {partition}: the overrunning batch ended after {ms} ms; applying on", {
        partition: this.partition,
        ms,
      });
      this.#status.state = "applying";
      this.#status.lastError = undefined;
    };
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

  /** Tells the waiting clients which keys the batch's ops readied (ops that ran, in log order). */
  #wake(batch: Batch, replies: readonly OpReply[]): void {
    const readied = this.#readied;
    if (readied === undefined) return;
    const first = batch.next - batch.ops.length;
    const at = new Map<Op, number>();
    batch.ops.forEach((op, i) => {
      if (op !== undefined && op.commands.length > 0) at.set(op, first + i);
    });
    const ops: Readied[] = [];
    for (const { op, reply } of replies) {
      const offset = at.get(op);
      if (offset === undefined || batch.skipped.has(op)) continue;
      const keys = readiedKeys(op, reply);
      if (keys === "all" || keys.length > 0) ops.push({ partition: this.partition, offset, keys });
    }
    if (ops.length === 0) return;
    ops.sort((a, b) => a.offset - b.offset);
    try {
      readied(ops);
    } catch (error) {
      ignored("wake_waiters", error);
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

/** The last op id a batch of `ops` stores (`previous` when there are none), as planBatch stores it. */
function lastOpIdOf(ops: readonly (Op | undefined)[], previous: string): string {
  return ops.length === 0 ? previous : ops[ops.length - 1]?.id ?? "";
}

/** The outcome of a batch whose position someone else moved. */
function fenced(fence: Exclude<Fence, { kind: "held" }>): Outcome {
  if (fence.kind === "vanished") throw new MetadataVanished();
  return { kind: "moved", stored: fence.stored };
}
