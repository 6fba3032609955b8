/**
 * One batch of the applier, planned and settled without I/O: which commands
 * make its transaction, whose reply each of them gives, and what Redis's
 * answer means. The applier (applier.ts) sends what {@linkcode planBatch}
 * plans and acts on what {@linkcode settleBatch} decides; the exactly-once
 * argument in its header rests on the shape built here:
 *
 * ```
 * [script steps]      before MULTI, only when the batch runs scripts (planScriptSteps)
 * MULTI
 *   per op that runs, in log order:
 *     HELLO 2|3, SELECT db     when the op's protocol or db differs from the connection's
 *     EVAL <expire due> T ..   the keys it touches that are expired at its log time T go first
 *     the op's commands        scripts as the restricted user, EVALSHA as EVAL of the kept body;
 *                              a pop's try from this rack as its claim script (claims.ts)
 *     EVAL <expire due> T ..   a key it gave an expiry already reached goes at once
 *     HSET pylon:scripts ...   bodies the op keeps, in the metadata db, after the op's own
 *   SELECT metaDb
 *   SET pylon:applied:<p> next            the position, in the same transaction as the data
 *   SET pylon:applied-time:<p> T          the log time after the batch (src/applier/log_time.ts)
 *   SET pylon:applied-op:<p> <last id>    catches a log re-created under the same name
 *   SET pylon:identity <marker>           a FLUSHALL op in the batch wiped it
 * EXEC
 * WATCH pylon:applied:<p>; GET pylon:applied:<p>   the fence of the next batch
 * ```
 *
 * - Data and position change together or not at all: the position is
 *   written inside the ops' own MULTI .. EXEC.
 * - The WATCH after EXEC fences the next batch: if anyone else (a racing or
 *   deposed applier) writes the position before it, its EXEC runs nothing
 *   and answers nil ({@linkcode Settlement} `fenced`), and the applier
 *   resumes from the stored position.
 * - Ops skipped by decision of the log (an overtaken watch, a message too old
 *   to publish) run nothing but are still answered, with the reply Redis
 *   would give; a record that is not an op runs nothing and answers no one.
 *   Every rack skips the same ops.
 * - Each op's replies are EXEC's items at its slots, in its client's
 *   protocol (the HELLO before it): Redis's own bytes, never made up.
 */

import { equalsIgnoreCase } from "../command/bytes.ts";
import type { Op } from "../log/op.ts";
import { concatBytes } from "../resp/bytes.ts";
import { encodeCommand } from "../resp/encoder.ts";
import { arrayItems, frameText, isErrorFrame } from "../resp/frames.ts";
import type { Protocol } from "../resp/value.ts";
import { classifyExecItemError, classifyQueuedError, classifyRedisError } from "./redis_errors.ts";
import { lastOpKey, logTimeKey, positionKey } from "../meta_keys.ts";
import { expireDueCommand, opKeys, reachedKeys } from "./expiry_steps.ts";
import { commandAsScript, opSeed, restoreCommandReply } from "../determinism/prologue.ts";
import { shiftExpiry } from "../determinism/expiry.ts";
import { wrapFunctionLoad, wrapFunctionRestore } from "../determinism/functions.ts";
import { scriptSha } from "./script_ops.ts";
import type { ScriptPlan, ScriptRegistry } from "./script_ops.ts";
import { CLAIM_SCRIPT, claimedTry } from "./claims.ts";

const CLAIM_BODY = new TextEncoder().encode(CLAIM_SCRIPT);
const CLAIM_SHA = scriptSha(CLAIM_BODY);

/** A stored position from a GET's reply; undefined when there is none (nil, not a number). */
export function parsePosition(frame: Uint8Array): number | undefined {
  if (frame[0] !== 36 || frame[1] === 45) return undefined;
  const value = Number(frameText(frame));
  return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/** The applier's connection as planning tracks it: protocol and db after the last command sent. */
export interface ConnectionState {
  protocol: Protocol;
  /** -1: unknown (a client's SELECT inside its transaction moved it). */
  db: number;
}

/** What one command of a batch's transaction is, so its reply goes to the right place. */
export type Slot =
  | { kind: "setup" }
  | {
    kind: "op";
    op: Op;
    index: number;
    /** Turns Redis's reply to the command as sent into the reply to the command as the client sent it. */
    restore?: (reply: Uint8Array) => Uint8Array;
  };

/** One op's reply, as its client gets it. */
export interface OpReply {
  op: Op;
  reply: Uint8Array;
}

/** The records of one batch. */
export interface Batch {
  /** The records' ops in log order; undefined for a record that is not an op. */
  ops: readonly (Op | undefined)[];
  /** Ops that do not run, each with its reply ({@linkcode skippedOps}). */
  skipped: ReadonlyMap<Op, Uint8Array>;
  /** The offset after the batch's last record: the position stored with it. */
  next: number;
  /** Each record's log time (src/applier/log_time.ts), and the partition's after the batch. */
  times: readonly number[];
  timeAfter: number;
}

/** What a plan needs of its applier besides the batch. */
export interface PlanOptions {
  partition: number;
  /** How many partitions the log has (default 1): scripts then keep to their op's. */
  partitions?: number;
  /** The db holding Pylon's metadata. */
  metaDb: number;
  /** `SET pylon:identity <marker>`, re-asserted by every batch. */
  markerCommand: Uint8Array;
  /**
   * Scripts as ops, the registry this batch was prepared with
   * ({@linkcode planScriptSteps}, then `prepared`); planning continues its
   * batch (`queue`, `forget`). Undefined: scripts run as the ops say.
   */
  scripts: ScriptRegistry | undefined;
  /** The connection before the batch's MULTI. */
  connection: ConnectionState;
  /** Expiry in log order (default on; simulations on a Redis without Lua turn it off). */
  expirySteps?: boolean;
  /**
   * SPOP, XADD *, XCLAIM, XAUTOCLAIM, XREADGROUP through the determinism
   * wrapper (default on; simulations on a Redis without Lua turn it off).
   */
  wrapCommands?: boolean;
  /**
   * Tries of pops accepted in this rack keep what they took as a claim
   * (src/applier/claims.ts), those at or after `fromOffset`; undefined: no
   * claims (simulations).
   */
  claims?: { rack: string; fromOffset: number };
}

/** The commands of one batch and whose reply each is. */
export interface BatchPlan {
  batch: Batch;
  /** MULTI .. EXEC, then the WATCH and GET of the position: sent as one group. */
  commands: Uint8Array[];
  /** One per command between MULTI and EXEC, in order. */
  slots: Slot[];
  /** The connection before MULTI (where it stays if EXEC runs nothing). */
  before: ConnectionState;
  /** The connection once EXEC ran the transaction. */
  after: ConnectionState;
}

const SETUP: Slot = { kind: "setup" };

const utf8 = new TextDecoder();
const EVALSHA = new TextEncoder().encode("EVALSHA");
const SCRIPT = new TextEncoder().encode("SCRIPT");
const LOAD = new TextEncoder().encode("LOAD");

/**
 * A command as the rack's Redis runs it: expiries stored shifted (the rack's
 * Redis never expires a key by its own clock), function libraries loaded
 * behind the determinism prologue (src/determinism/functions.ts).
 */
function appliedForm(argv: Uint8Array[]): Uint8Array[] {
  if (argv.length >= 3 && equalsIgnoreCase(argv[0]!, "function")) {
    if (equalsIgnoreCase(argv[1]!, "load")) return wrapFunctionLoad(argv);
    // A payload Pylon cannot read never reaches the log (the gateway refuses it).
    if (equalsIgnoreCase(argv[1]!, "restore")) return wrapFunctionRestore(argv) ?? argv;
  }
  return shiftExpiry(utf8.decode(argv[0]!), argv);
}

/** The wrapper bodies of top-level commands are few: their shas are computed once. */
const wrapperShas = new Map<string, string>();

function wrapperSha(body: Uint8Array): string {
  const key = utf8.decode(body.subarray(body.length - 200));
  let sha = wrapperShas.get(key);
  if (sha === undefined) {
    sha = scriptSha(body);
    wrapperShas.set(key, sha);
  }
  return sha;
}

const EXECABORT = new TextEncoder().encode(
  "-EXECABORT Transaction discarded because of previous errors.\r\n",
);
const NULL_ARRAY = new TextEncoder().encode("*-1\r\n");
const NULL_RESP3 = new TextEncoder().encode("_\r\n");
const NO_RECEIVERS = new TextEncoder().encode(":0\r\n");

/**
 * The ops of a batch that do not run, each with its reply, alike on every
 * rack: watched transactions the log says were `overtaken` (nil, as Redis
 * answers EXEC then, in the op's protocol), then messages older than
 * `publishMaxAgeMs` by the log's own times (no receiver): a message's log
 * time (`times`, src/applier/log_time.ts) against `headTimeMs`, the log time at
 * the log's end as this rack last learned it. No node's clock is compared
 * with another's: only a rack catching up on old messages drops them.
 */
export function skippedOps(
  ops: readonly (Op | undefined)[],
  options: {
    overtaken: ReadonlySet<Op>;
    times: readonly number[];
    headTimeMs: number;
    publishMaxAgeMs: number;
  },
): Map<Op, Uint8Array> {
  const skipped = new Map<Op, Uint8Array>();
  for (const op of ops) {
    if (op !== undefined && options.overtaken.has(op)) {
      skipped.set(op, op.protocol === 3 ? NULL_RESP3 : NULL_ARRAY);
    }
  }
  ops.forEach((op, i) => {
    if (op === undefined || op.transaction || !op.commands.every((argv) => isPublish(argv[0]))) {
      return;
    }
    if (
      op.commands.length > 0 && options.headTimeMs - options.times[i]! > options.publishMaxAgeMs
    ) {
      skipped.set(op, NO_RECEIVERS);
    }
  });
  return skipped;
}

/** PUBLISH or SPUBLISH, in any case. */
function isPublish(name: Uint8Array | undefined): boolean {
  return name !== undefined &&
    (equalsIgnoreCase(name, "publish") || equalsIgnoreCase(name, "spublish"));
}

/**
 * What runs before the batch's MULTI when an op that runs holds a script
 * (the registry's plan: the restricted user, new bodies compiled, EVALSHA
 * bodies read from the metadata db), and where it leaves the connection;
 * undefined when none does or scripts run as the ops say. Starts the
 * registry's batch: its replies go to `scripts.prepared` before
 * {@linkcode planBatch}.
 */
export function planScriptSteps(
  batch: Batch,
  options: Pick<PlanOptions, "scripts" | "metaDb" | "connection">,
): { plan: ScriptPlan; after: ConnectionState } | undefined {
  const plan = options.scripts?.plan(
    batch.ops.flatMap((op) => op === undefined || batch.skipped.has(op) ? [] : op.commands),
  );
  if (plan === undefined) return undefined;
  const after = plan.wanted.length > 0
    ? { ...options.connection, db: options.metaDb }
    : { ...options.connection };
  return { plan, after };
}

/** The transaction that applies `batch` and stores its position, and whose reply each command is. */
export function planBatch(batch: Batch, options: PlanOptions): BatchPlan {
  const { metaDb, scripts } = options;
  const state: ConnectionState = { ...options.connection };
  const commands: Uint8Array[] = [encodeCommand(["MULTI"])];
  const slots: Slot[] = [];
  const queue = (command: Uint8Array, slot: Slot) => {
    commands.push(command);
    slots.push(slot);
  };
  // Wrapped script bodies run by sha: each loaded once in the transaction, before its first use.
  const loaded = new Set<string>();
  const load = (body: Uint8Array, sha: string) => {
    if (loaded.has(sha)) return;
    loaded.add(sha);
    queue(encodeCommand([SCRIPT, LOAD, body]), SETUP);
  };
  const selectDb = (db: number) => {
    if (db === state.db) return;
    queue(encodeCommand(["SELECT", String(db)]), SETUP);
    state.db = db;
  };
  batch.ops.forEach((op, at) => {
    if (op === undefined || batch.skipped.has(op)) return;
    const time = batch.times[at]!;
    const offset = batch.next - batch.ops.length + at;
    if (op.protocol !== state.protocol) {
      queue(encodeCommand(["HELLO", String(op.protocol)]), SETUP);
      state.protocol = op.protocol;
    }
    selectDb(op.db);
    // Expiry in log order: what is expired at the op's log time is gone before it runs.
    const keys = options.expirySteps === false ? [] : opKeys(op);
    if (keys.length > 0) queue(expireDueCommand(keys, time), SETUP);
    // Kept script bodies are written after the op's commands: a SELECT inside its MULTI moves it.
    const metaCommands: Uint8Array[] = [];
    op.commands.forEach((argv, index) => {
      // FLUSHALL empties the metadata db too: bodies are kept again when next run.
      if (equalsIgnoreCase(argv[0]!, "flushall")) scripts?.forget();
      const at = {
        opId: op.id,
        index,
        logTimeMs: time,
        budgetSteps: op.scriptBudgetSteps,
        partitions: (options.partitions ?? 1) > 1
          ? { own: options.partition, count: options.partitions! }
          : undefined,
      };
      const own = (restore?: (reply: Uint8Array) => Uint8Array): Slot =>
        restore === undefined ? { kind: "op", op, index } : { kind: "op", op, index, restore };
      const asScript = scripts?.queue(
        argv,
        at,
        (command, isOwn, restore) => queue(command, isOwn ? own(restore) : SETUP),
        metaCommands,
        load,
      );
      if (asScript === true) {
        // SCRIPT FLUSH: what the batch loaded before it is gone.
        if (argv.length >= 2 && equalsIgnoreCase(argv[1]!, "flush")) loaded.clear();
        return;
      }
      // A try of a pop accepted in this rack: what it takes is kept until its client has it.
      const claim = options.claims === undefined || offset < options.claims.fromOffset
        ? undefined
        : claimedTry(op, { rack: options.claims.rack, metaDb });
      if (claim !== undefined) {
        load(CLAIM_BODY, CLAIM_SHA);
        queue(encodeCommand([EVALSHA, CLAIM_SHA, ...claim.args]), own(claim.restore));
        return;
      }
      // Time and chance from the log: SPOP, XADD *, XCLAIM, ... through the determinism wrapper.
      const wrapped = options.wrapCommands === false
        ? undefined
        : commandAsScript(argv, op.protocol, {
          logTimeMs: time,
          seed: opSeed(op.id, index),
          budgetSteps: op.scriptBudgetSteps,
        });
      if (wrapped !== undefined) {
        const sha = wrapperSha(wrapped[1]!);
        load(wrapped[1]!, sha);
        queue(
          encodeCommand([EVALSHA, sha, ...wrapped.slice(2)]),
          own((reply) => restoreCommandReply(argv, op.protocol, reply)),
        );
        return;
      }
      queue(encodeCommand(appliedForm(argv)), own());
      // SELECT inside a client's MULTI: where the connection is now is the reply's business.
      if (equalsIgnoreCase(argv[0]!, "select")) state.db = -1;
    });
    // An expiry the op set that its log time has already reached: the key goes now, as in Redis.
    const reached = options.expirySteps === false ? [] : reachedKeys(op, time);
    if (reached.length > 0) queue(expireDueCommand(reached, time), SETUP);
    for (const command of metaCommands) {
      selectDb(metaDb);
      queue(command, SETUP);
    }
  });
  selectDb(metaDb);
  queue(encodeCommand(["SET", positionKey(options.partition), String(batch.next)]), SETUP);
  queue(encodeCommand(["SET", logTimeKey(options.partition), String(batch.timeAfter)]), SETUP);
  const last = batch.ops[batch.ops.length - 1];
  queue(encodeCommand(["SET", lastOpKey(options.partition), last?.id ?? ""]), SETUP);
  // A FLUSHALL op in the batch wiped the marker with everything else: it is part of the state.
  queue(options.markerCommand, SETUP);
  commands.push(
    encodeCommand(["EXEC"]),
    // The fence: the next batch's EXEC runs nothing if anyone writes the position before it.
    encodeCommand(["WATCH", positionKey(options.partition)]),
    encodeCommand(["GET", positionKey(options.partition)]),
  );
  return { batch, commands, slots, before: { ...options.connection }, after: state };
}

/** What the WATCH and GET right after EXEC found of the position. */
export type Fence =
  /** `next`: the position is still this applier's. */
  | { kind: "held" }
  /** Another applier (racing or deposed) moved it; apply on from `stored`. */
  | { kind: "moved"; stored: number }
  /** It is gone (the metadata db was emptied): check the Redis again before applying on. */
  | { kind: "vanished" };

/**
 * A rack condition inside the reply of an EXEC that ran (a script killed by
 * `SCRIPT KILL` sent to this rack's Redis, a setup command refused, ...):
 * the commands around it ran, so the batch cannot simply be applied again.
 * When it hit the batch's last op, a one-command op that then changed
 * nothing, the rack can go back to just before that op (`rewindTo`, its
 * index in the batch) and apply it again once the condition clears; any
 * other case leaves the rack's data possibly unlike the others' (the
 * applier halts it).
 */
export interface RackErrorInside {
  condition: string;
  /** What the failed command was, for the message. */
  where: string;
  rewindTo: number | undefined;
}

/** What Redis's replies to a {@linkcode BatchPlan} mean. */
export type Settlement =
  /**
   * EXEC ran the transaction: every op's reply, skipped ones first, then
   * the ones that ran, each in log order; `fence` says whether the position
   * is still this applier's.
   */
  | { kind: "applied"; replies: OpReply[]; fence: Fence; rackError?: RackErrorInside }
  /** The WATCH fired: the position moved before EXEC, which ran nothing. */
  | { kind: "fenced"; fence: Exclude<Fence, { kind: "held" }> }
  /** A condition of this rack's Redis (out of memory, read-only, ...): nothing ran; pause and retry. */
  | { kind: "rackCondition"; condition: string }
  /** A command was refused when queued (EXECABORT): nothing ran; apply each op alone. */
  | { kind: "oneByOne"; refusal: string }
  /**
   * The batch's only record was refused by Redis itself: nothing ran, and
   * that refusal is its op's reply on every rack (none for a record that is
   * not an op); only the position moves past it.
   */
  | { kind: "refused"; refusal: string; replies: OpReply[] }
  /** Redis answered something the applier's rules exclude: the node must stop. */
  | { kind: "broken"; message: string };

const HELD: Fence = { kind: "held" };
const VANISHED = { kind: "vanished" } as const;

/**
 * What Redis's `frames` (one per command of `plan`) say of the batch.
 * Throws when EXEC's reply is neither an error nor an array.
 */
export function settleBatch(plan: BatchPlan, frames: readonly Uint8Array[]): Settlement {
  const { slots, batch } = plan;
  if (frames.length !== plan.commands.length) {
    return {
      kind: "broken",
      message: `Redis returned ${frames.length} replies for ${plan.commands.length} commands`,
    };
  }
  const exec = frames[frames.length - 3]!;
  const stored = parsePosition(frames[frames.length - 1]!);
  const queued = frames.slice(1, 1 + slots.length);
  if (isErrorFrame(exec)) {
    // A condition of this rack (out of memory, read-only, loading, ...) is not the ops' outcome:
    // nothing was applied; pause and apply the same ops again once Redis takes writes.
    const condition = isErrorFrame(exec) && classifyRedisError(frameText(exec)) === "rack"
      ? frameText(exec)
      : queued.filter(isErrorFrame).map(frameText)
        .find((text) => classifyQueuedError(text) === "rack");
    if (condition !== undefined) return { kind: "rackCondition", condition };
    // EXECABORT: a command was refused when queued (it should have been caught before logging).
    const refusal = queued.find(isErrorFrame);
    const text = frameText(refusal ?? exec);
    if (batch.ops.length > 1) return { kind: "oneByOne", refusal: text };
    // One op, refused by Redis itself: that is its reply on every rack.
    const op = batch.ops[0];
    const replies = op === undefined
      ? []
      : [{ op, reply: op.transaction ? EXECABORT : (refusal ?? exec) }];
    return { kind: "refused", refusal: text, replies };
  }
  const items = arrayItems(exec);
  if (items !== null && items.length !== slots.length) {
    return {
      kind: "broken",
      message: `EXEC returned ${items.length} replies for ${slots.length} queued commands`,
    };
  }
  if (items === null) {
    // WATCH fired: another applier moved the position before this EXEC.
    return { kind: "fenced", fence: stored === undefined ? VANISHED : { kind: "moved", stored } };
  }
  // A position other than `next`: moved between this EXEC and the WATCH after it (this batch
  // applied, then someone else wrote).
  const fence: Fence = stored === batch.next
    ? HELD
    : stored === undefined
    ? VANISHED
    : { kind: "moved", stored };
  const rackError = rackErrorInside(plan, items);
  const replies = opReplies(plan, items);
  return rackError === undefined
    ? { kind: "applied", replies, fence }
    : { kind: "applied", replies, fence, rackError };
}

const SCRIPT_COMMANDS = ["eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"];

/**
 * Whether `op` ends the batch it is read in: a lone script or function call.
 * Killed on this rack alone (`SCRIPT KILL`/`FUNCTION KILL` sent to its Redis),
 * it is then the batch's last op, changed nothing, and the rack can go back to
 * just before it ({@linkcode RackErrorInside}); ops after it in the same EXEC
 * would have run, and the rack would have to halt.
 */
export function endsBatch(op: Op): boolean {
  const name = op.commands[0]?.[0];
  return !op.transaction && op.commands.length === 1 && name !== undefined &&
    SCRIPT_COMMANDS.some((script) => equalsIgnoreCase(name, script));
}

/**
 * The first rack condition among EXEC's items, if any: an error of one of
 * Pylon's own setup commands (a SELECT, HELLO or AUTH refused here leaves
 * what follows in the wrong place), or a rack's error in an op's reply
 * (src/applier/redis_errors.ts classifyExecItemError).
 */
function rackErrorInside(
  plan: BatchPlan,
  items: readonly Uint8Array[],
): RackErrorInside | undefined {
  const ops = plan.batch.ops;
  const lastRunning = ops.findLastIndex((op) => op !== undefined && !plan.batch.skipped.has(op));
  for (let i = 0; i < items.length; i++) {
    if (!isErrorFrame(items[i]!)) continue;
    const text = frameText(items[i]!);
    const slot = plan.slots[i]!;
    if (slot.kind === "setup") {
      const name = setupName(new TextDecoder().decode(plan.commands[1 + i]!.subarray(0, 80)));
      // Expiry steps are scripts over the op's own arguments (a MOVE to a db past the world's
      // number fails there as in the op): their errors are the op's, like a script's.
      if (/^eval/i.test(name) && classifyExecItemError(text, true) === "op") continue;
      return { condition: text, where: `Pylon's ${name}`, rewindTo: undefined };
    }
    const argv = slot.op.commands[slot.index]!;
    const fromScript = SCRIPT_COMMANDS.some((name) => equalsIgnoreCase(argv[0]!, name));
    if (classifyExecItemError(text, fromScript) === "op") continue;
    // Nothing after it ran from the ops (only setup), and a lone command that failed changed nothing.
    const at = ops.indexOf(slot.op);
    const lone = at === lastRunning && slot.op.commands.length === 1 && !slot.op.transaction;
    return {
      condition: text,
      where: `op ${slot.op.id} (${utf8.decode(argv[0]!)})`,
      rewindTo: lone ? at : undefined,
    };
  }
  return undefined;
}

/** The name of a setup command from the start of its RESP encoding (`*2\r\n$6\r\nSELECT...`). */
function setupName(encoded: string): string {
  return encoded.split("\r\n")[2] ?? "command";
}

/**
 * Where the connection is once Redis answered `plan`: moved by the
 * transaction's HELLO and SELECT only if EXEC ran it. A fenced or refused
 * transaction ran nothing, so the connection is where it was before MULTI.
 */
export function connectionAfter(plan: BatchPlan, settlement: Settlement): ConnectionState {
  return { ...(settlement.kind === "applied" ? plan.after : plan.before) };
}

/** Each op's reply from EXEC's items: a client transaction's as one array, as EXEC answers it. */
function opReplies(plan: BatchPlan, items: readonly Uint8Array[]): OpReply[] {
  const replies: OpReply[] = [...plan.batch.skipped].map(([op, reply]) => ({ op, reply }));
  const parts = new Map<Op, Uint8Array[]>();
  plan.slots.forEach((slot, i) => {
    if (slot.kind !== "op") return;
    const list = parts.get(slot.op) ?? [];
    list[slot.index] = slot.restore === undefined ? items[i]! : slot.restore(items[i]!);
    parts.set(slot.op, list);
  });
  for (const [op, list] of parts) {
    replies.push({ op, reply: op.transaction ? wrapArray(list) : list[0]! });
  }
  return replies;
}

/** `*n` followed by the replies: EXEC's reply to a client transaction. */
function wrapArray(parts: Uint8Array[]): Uint8Array {
  return concatBytes([new TextEncoder().encode(`*${parts.length}\r\n`), ...parts]);
}
