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
 * Inside the transaction `HELLO 2|3` switches to each op's client protocol,
 * so the reply in EXEC's array is Redis's own bytes for that client.
 */

import { commandKeysIfKnown, dbArguments, findCommand } from "../command/mod.ts";
import { equalsIgnoreCase } from "../command/bytes.ts";
import { getLogger } from "@logtape/logtape";
import type { HostPort } from "../config.ts";
import { encodeCommand } from "../resp/encoder.ts";
import { arrayItems, bulkPayload, frameText, isErrorFrame } from "../resp/frames.ts";
import { concatBytes } from "../resp/bytes.ts";
import { decodeOp, type Op, OpFormatError, opOf } from "../log/op.ts";
import type { LogReader, OpLog } from "../log/op_log.ts";
import { describe } from "../redis/client.ts";
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
import { classifyRedisError } from "./redis_errors.ts";
import { type ScriptOps, ScriptRegistry } from "./script_ops.ts";
import type { RackProgress } from "./rack_progress.ts";
import { lastOpKey, positionKey } from "../meta_keys.ts";
import { Backoff, backoffSchedule } from "../backoff.ts";

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
  /** `paused`: this rack's Redis refuses writes (out of memory, read-only, ...); see `lastError`. */
  state: "starting" | "applying" | "waiting" | "paused" | "error";
  /** Next offset to apply (everything below is applied), once known. */
  position: number | undefined;
  appliedOps: number;
  batches: number;
  lastError: string | undefined;
  /** Accept time of the last applied op (for lag in milliseconds). */
  lastAcceptedAtMs: number | undefined;
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
  }

  /** Starts applying every partition. */
  start(): void {
    for (const p of this.#partitions) p.start();
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
    await Promise.all(this.#partitions.map((p) => p.stop()));
  }
}

/** How a batch ended: applied, or not applied because another applier moved the position. */
type Outcome = { kind: "applied" } | { kind: "moved"; stored: number };

const EXECABORT = new TextEncoder().encode(
  "-EXECABORT Transaction discarded because of previous errors.\r\n",
);

/** What one command in a batch's transaction is, so its reply goes to the right place. */
type Slot =
  | { kind: "setup" }
  | { kind: "op"; op: Op; index: number };

const SETUP: Slot = { kind: "setup" };

class PartitionApplier {
  readonly partition: number;
  #log: OpLog;
  #master: MasterSource;
  #options: Required<ApplierOptions>;
  #reader: LogReader | undefined;
  #connection: CommandRunner | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  #status: PartitionStatus;
  /** Re-asserts the rack's marker in every batch. */
  #markerCommand: Uint8Array;
  /** Whether the watched transaction at an offset was aborted (a fact of the log, kept a while). */
  #verdicts = new Map<number, boolean>();
  /** Scripts as ops (src/applier/script_ops.ts); undefined: applied as the ops say. */
  #scripts: ScriptRegistry | undefined;
  /** Connection state: protocol and db after the last command sent. */
  #protocol: 2 | 3 = 2;
  #db = 0;

  constructor(log: OpLog, options: ApplierOptions & { master: MasterSource; partition: number }) {
    const { partition, master, ...rest } = options;
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
        if (this.#status.lastError !== message) {
          // An alert once per condition, not per retry.
          const fields = { partition: this.partition, error: message };
          if (paused) {
            log.error(
              "partition {partition}: {error}; applying is paused (no op skipped, no client " +
                "answered with it) and resumes where it stopped once Redis takes writes",
              fields,
            );
          } else log.warning("partition {partition}: {error}; retrying", fields);
        }
        this.#status.state = paused ? "paused" : "error";
        this.#status.lastError = message;
        this.#status.catchingUp = true;
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
    this.#protocol = 2;
    this.#db = 0;
    const meta = this.#options.metaDb;
    await checkRackRedis(connection, this.#options.marker, meta, describe(address));
    const [, stored, lastOp] = await connection.run([
      encodeCommand(["WATCH", positionKey(this.partition)]),
      encodeCommand(["GET", positionKey(this.partition)]),
      encodeCommand(["GET", lastOpKey(this.partition)]),
    ]);
    this.#db = meta;
    this.#status.catchingUp = true;
    const bounds = await this.#log.bounds(this.partition);
    let position = parsePosition(stored!) ?? bounds.start;
    const catchUpTo = bounds.end;
    if (position > bounds.end) {
      throw new IdentityError(
        `Redis at ${
          describe(address)
        } says partition ${this.partition} is applied up to ${position}, ` +
          `but the log ends at ${bounds.end}: this Redis belongs to another log`,
      );
    }
    if (position < bounds.start) {
      throw new Error(
        `partition ${this.partition} is applied up to ${position} but the log now starts at ` +
          `${bounds.start}: this rack fell behind the log's retention (see README, catch-up)`,
      );
    }
    const lastId = bulkPayload(lastOp!);
    if (lastId !== undefined && lastId.length > 0 && position - 1 >= bounds.start) {
      await this.#verifyLastOp(position - 1, new TextDecoder().decode(lastId), describe(address));
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
   * Applies one batch. Returns "applied", or "moved" with the stored position
   * when another applier advanced it (this batch was then not applied).
   */
  async #applyBatch(
    connection: CommandRunner,
    ops: (Op | undefined)[],
    next: number,
  ): Promise<Outcome> {
    const meta = this.#options.metaDb;
    // Ops not run, each with its reply: watched transactions the log says were overtaken (nil, as
    // Redis answers EXEC then), alike on every rack; messages too old to publish (no receiver).
    const skipped = new Map<Op, Uint8Array>();
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i];
      if (op?.watch !== undefined && await this.#overtaken(op, next - ops.length + i)) {
        skipped.set(op, op.protocol === 3 ? NULL_RESP3 : NULL_ARRAY);
      }
    }
    const now = this.#options.wallNow();
    for (const op of ops) {
      if (op !== undefined && this.#staleMessage(op, now)) skipped.set(op, NO_RECEIVERS);
    }
    const commands: Uint8Array[] = [encodeCommand(["MULTI"])];
    const slots: Slot[] = [];
    const queue = (command: Uint8Array, slot: Slot) => {
      commands.push(command);
      slots.push(slot);
    };
    const selectDb = (db: number) => {
      if (db === this.#db) return;
      queue(encodeCommand(["SELECT", String(db)]), SETUP);
      this.#db = db;
    };
    const scripts = this.#scripts;
    const plan = scripts?.plan(
      ops.flatMap((op) => op === undefined || skipped.has(op) ? [] : op.commands),
    );
    if (plan !== undefined) {
      const frames = await connection.run(plan.commands);
      if (plan.wanted.length > 0) this.#db = meta;
      const refusal = scripts!.prepared(plan, frames);
      // Never run a script unrestricted: the rack waits until Redis lets Pylon make the user.
      if (refusal !== undefined) throw new RackCondition(refusal);
    }
    for (const op of ops) {
      if (op === undefined || skipped.has(op)) continue;
      if (op.protocol !== this.#protocol) {
        queue(encodeCommand(["HELLO", String(op.protocol)]), SETUP);
        this.#protocol = op.protocol;
      }
      selectDb(op.db);
      // Kept script bodies are written after the op's commands: a SELECT inside its MULTI moves it.
      const metaCommands: Uint8Array[] = [];
      op.commands.forEach((argv, index) => {
        // FLUSHALL empties the metadata db too: bodies are kept again when next run.
        if (equalsIgnoreCase(argv[0]!, "flushall")) scripts?.forget();
        const own: Slot = { kind: "op", op, index };
        const asScript = plan !== undefined &&
          scripts!.queue(
            argv,
            { opId: op.id, index },
            (command, isOwn) => queue(command, isOwn ? own : SETUP),
            metaCommands,
          );
        if (asScript) return;
        queue(encodeCommand(argv), own);
        // SELECT inside a client's MULTI: where the connection is now is the reply's business.
        if (equalsIgnoreCase(argv[0]!, "select")) this.#db = -1;
      });
      for (const command of metaCommands) {
        selectDb(meta);
        queue(command, SETUP);
      }
    }
    if (this.#db !== meta) queue(encodeCommand(["SELECT", String(meta)]), SETUP);
    this.#db = meta;
    queue(encodeCommand(["SET", positionKey(this.partition), String(next)]), SETUP);
    const last = ops[ops.length - 1];
    queue(encodeCommand(["SET", lastOpKey(this.partition), last?.id ?? ""]), SETUP);
    // A FLUSHALL op in the batch wiped the marker with everything else: it is part of the state.
    queue(this.#markerCommand, SETUP);
    commands.push(
      encodeCommand(["EXEC"]),
      encodeCommand(["WATCH", positionKey(this.partition)]),
      encodeCommand(["GET", positionKey(this.partition)]),
    );

    const startedAt = performance.now();
    const frames = await connection.run(commands);
    applyBatchSeconds.observe(since(startedAt));
    const exec = frames[frames.length - 3]!;
    const stored = parsePosition(frames[frames.length - 1]!);
    const queued = frames.slice(1, 1 + slots.length);

    if (isErrorFrame(exec)) {
      // A condition of this rack (out of memory, read-only, loading, ...) is not the ops' outcome:
      // nothing was applied; pause and apply the same ops again once Redis takes writes.
      const condition = [exec, ...queued].filter(isErrorFrame).map(frameText)
        .find((text) => classifyRedisError(text) === "rack");
      if (condition !== undefined) throw new RackCondition(condition);
      // EXECABORT: a command was refused when queued (it should have been caught before logging).
      const refusal = queued.find(isErrorFrame);
      log.warning("partition {partition}: transaction refused ({error})", {
        partition: this.partition,
        error: refusal === undefined ? frameText(exec) : frameText(refusal),
      });
      if (ops.length > 1) return await this.#applyOneByOne(connection, ops, next - ops.length);
      // One op, refused by Redis itself: that is its reply on every rack; only the position moves.
      const op = ops[0];
      if (op !== undefined) this.#settle(op, op.transaction ? EXECABORT : (refusal ?? exec));
      return await this.#applyBatch(connection, [undefined], next);
    }
    const items = arrayItems(exec);
    if (items !== null && items.length !== slots.length) {
      throw new ApplierInvariantError(
        `EXEC returned ${items.length} replies for ${slots.length} queued commands`,
      );
    }
    if (items === null) {
      // WATCH fired: another applier moved the position before this EXEC.
      if (stored === undefined) throw new MetadataVanished();
      return { kind: "moved", stored };
    }
    if (stored !== next) {
      // Moved between this EXEC and the WATCH after it: this batch applied, then someone else wrote.
      this.#deliver(slots, items, skipped);
      if (stored === undefined) throw new MetadataVanished();
      return { kind: "moved", stored };
    }
    this.#deliver(slots, items, skipped);
    return { kind: "applied" };
  }

  /** Slow path after EXECABORT: each op in its own transaction. */
  async #applyOneByOne(
    connection: CommandRunner,
    ops: (Op | undefined)[],
    first: number,
  ): Promise<Outcome> {
    // The aborted transaction left the connection unchanged: reset what we track.
    this.#protocol = 2;
    const reset = await connection.run([
      encodeCommand(["HELLO", "2"]),
      encodeCommand(["SELECT", String(this.#options.metaDb)]),
      encodeCommand(["WATCH", positionKey(this.partition)]),
      encodeCommand(["GET", positionKey(this.partition)]),
    ]);
    this.#db = this.#options.metaDb;
    const stored = parsePosition(reset[3]!);
    if (stored === undefined) throw new MetadataVanished();
    if (stored !== first) return { kind: "moved", stored };
    for (let i = 0; i < ops.length; i++) {
      const outcome = await this.#applyBatch(connection, [ops[i]], first + i + 1);
      if (outcome.kind === "moved") return outcome;
    }
    return { kind: "applied" };
  }

  /** Whether `op` only publishes, and too long ago to be published now. */
  #staleMessage(op: Op, now: number): boolean {
    const maxAge = this.#options.publishMaxAgeMs;
    if (op.transaction || now - op.acceptedAtMs <= maxAge) return false;
    return op.commands.every((argv) => isPublish(argv[0]));
  }

  /** Hands each op's reply to its waiting client, or stores it for its origin node. */
  #deliver(slots: Slot[], items: Uint8Array[], skipped: ReadonlyMap<Op, Uint8Array>): void {
    this.#scripts?.applied();
    for (const [op, reply] of skipped) this.#settle(op, reply);
    const replies = new Map<Op, Uint8Array[]>();
    slots.forEach((slot, i) => {
      if (slot.kind !== "op") return;
      const list = replies.get(slot.op) ?? [];
      list[slot.index] = items[i]!;
      replies.set(slot.op, list);
    });
    for (const [op, parts] of replies) {
      this.#settle(op, op.transaction ? wrapArray(parts) : parts[0]!);
    }
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
   * Whether an op in the log at or after the watch's position and before
   * `offset` (this op's own) touched a watched key: decided from the log
   * alone, so every rack decides alike. A watch older than
   * {@linkcode WATCH_SCAN_OPS_MAX} ops is overtaken by definition.
   */
  async #overtaken(op: Op, offset: number): Promise<boolean> {
    const known = this.#verdicts.get(offset);
    if (known !== undefined) return known;
    const verdict = await this.#decideOvertaken(op, offset);
    this.#verdicts.set(offset, verdict);
    // Verdicts are facts of the log; only recent ones can be asked for again.
    if (this.#verdicts.size > VERDICTS_KEPT) {
      for (const at of this.#verdicts.keys()) {
        if (this.#verdicts.size <= VERDICTS_KEPT / 2) break;
        this.#verdicts.delete(at);
      }
    }
    return verdict;
  }

  async #decideOvertaken(op: Op, offset: number): Promise<boolean> {
    const watch = op.watch!;
    const from = Math.max(0, watch.from);
    if (offset - from > WATCH_SCAN_OPS_MAX) return true;
    if (from >= offset) return false;
    const bounds = await this.#log.bounds(this.partition);
    // Ops the log no longer holds cannot be checked: abort rather than guess.
    if (from < bounds.start) return true;
    const keys = new Set(watch.keys.map((k) => UTF8.decode(k)));
    const reader = this.#log.reader(this.partition, from);
    try {
      let at = from;
      while (at < offset) {
        const records = await reader.next({
          recordsMax: Math.min(512, offset - at),
          bytesMax: 4 * 1024 * 1024,
          waitMs: 1_000,
        });
        if (records.length === 0) throw new Error(`the log did not return offset ${at}`);
        for (const record of records) {
          if (record.offset >= offset) return false;
          at = record.offset + 1;
          let earlier: Op;
          try {
            earlier = decodeOp(record.value);
          } catch {
            continue; // skipped by every rack alike
          }
          if (!touchesWatched(earlier, watch.db, keys)) continue;
          // A watched transaction that was itself aborted changed nothing.
          if (earlier.watch !== undefined && await this.#overtaken(earlier, record.offset)) {
            continue;
          }
          return true;
        }
      }
      return false;
    } finally {
      await reader.close();
    }
  }

  /** One op applied: its reply goes where {@linkcode HandBack} says. */
  #settle(op: Op, reply: Uint8Array): void {
    this.#status.appliedOps++;
    this.#status.lastAcceptedAtMs = op.acceptedAtMs;
    this.#options.replies.applied(op, reply);
  }
}

const NO_RECEIVERS = new TextEncoder().encode(":0\r\n");

/** PUBLISH or SPUBLISH, in any case. */
function isPublish(name: Uint8Array | undefined): boolean {
  return name !== undefined &&
    (equalsIgnoreCase(name, "publish") || equalsIgnoreCase(name, "spublish"));
}

/** The most ops between a WATCH and its EXEC that are checked; past it the EXEC aborts. */
const WATCH_SCAN_OPS_MAX = 100_000;
/** Verdicts on watched transactions kept for the ones after them. */
const VERDICTS_KEPT = 10_000;

const UTF8 = new TextDecoder();
const NULL_ARRAY = new TextEncoder().encode("*-1\r\n");
const NULL_RESP3 = new TextEncoder().encode("_\r\n");

/** Whether `op` wrote one of `keys` in `db`, or flushed or swapped that db. */
export function touchesWatched(op: Op, db: number, keys: ReadonlySet<string>): boolean {
  const text = UTF8;
  let current = op.db;
  for (const argv of op.commands) {
    const name = text.decode(argv[0]).toLowerCase();
    if (name === "select") {
      current = Number(text.decode(argv[1]));
      continue;
    }
    if (name === "flushall") return true;
    if (name === "flushdb" && current === db) return true;
    const command = findCommand(name);
    if (command === undefined) continue;
    const dbs = dbArguments(command, argv);
    if (name === "swapdb" && dbs.includes(db)) return true;
    if (current !== db && !dbs.includes(db)) continue;
    const positions = commandKeysIfKnown(command, argv);
    // Keys that cannot be found: aborting the watcher is never wrong.
    if (positions === undefined) return true;
    for (const position of positions) {
      if (keys.has(text.decode(argv[position]))) return true;
    }
  }
  return false;
}

function parsePosition(frame: Uint8Array): number | undefined {
  if (frame[0] !== 36 || frame[1] === 45) return undefined;
  const value = Number(frameText(frame));
  return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/** `*n` followed by the replies: EXEC's reply to a client transaction. */
function wrapArray(parts: Uint8Array[]): Uint8Array {
  return concatBytes([new TextEncoder().encode(`*${parts.length}\r\n`), ...parts]);
}
