/**
 * Scripts and functions as ops: `EVAL`, `EVALSHA` and `FCALL` run on every
 * rack, so they must do the same thing everywhere and must not reach Pylon's
 * metadata.
 *
 * - They run as a restricted Redis user, `pylon-script-ops`: the applier
 *   switches to it with `AUTH` inside its MULTI, around each script, and back.
 *   Redis checks the commands a script calls against that user, so a script
 *   cannot `SELECT` (nor `SWAPDB`, `MOVE`, `COPY`) into the metadata db, and
 *   cannot call the random commands (`RANDOMKEY`, `SPOP`, `SRANDMEMBER`,
 *   `HRANDFIELD`, `ZRANDMEMBER`): Redis refuses the call alike on every rack.
 *   Scripts applied through the determinism wrapper (src/determinism/) never
 *   reach those: the wrapper chooses members itself, from the op's seed, so a
 *   script that reaches the real API around it (`_G.redis`) is still refused.
 *   `TIME` is allowed: the wrapper answers a script's own `TIME` with the op's
 *   log time, and calls Redis's `TIME` only to read delivery times exactly.
 * - `math.random` in a script is reseeded before it runs from the op's id, so
 *   every rack draws the same numbers (functions run in another Lua state that
 *   cannot be reseeded: `FUNCTION LOAD` of code naming `math.random` is refused
 *   by the gateway).
 * - Redis forgets its scripts when it restarts; `EVALSHA` must not then fail on
 *   one rack and run on the others. Every script body a rack applies (`EVAL`,
 *   `SCRIPT LOAD`) is kept in the metadata db (`pylon:scripts`, sha1 → body),
 *   and `EVALSHA` is applied as `EVAL` of the kept body.
 */

import { createHash } from "node:crypto";
import { encodeCommand } from "../resp/encoder.ts";
import { arrayItems, bulkPayload, frameText, isErrorFrame } from "../resp/frames.ts";
import { equalsIgnoreCase } from "../command/bytes.ts";
import { opSeed, restoreScriptReply, scriptArgs, scriptBody } from "../determinism/prologue.ts";
import { wrapFcall } from "../determinism/functions.ts";
import type { RedisAccess } from "../redis/access.ts";

/** The restricted Redis user scripts applied as ops run as. */
export const SCRIPT_OP_USER = "pylon-script-ops";

/** The hash in the metadata db that keeps every script body applied: sha1 → body. */
export const SCRIPTS_KEY = "pylon:scripts";

/**
 * Another db. TIME and the random commands are allowed: the determinism
 * wrapper answers a script's own calls from the op's log time and seed, and
 * passes to Redis only what does not depend on them (a missing key, a wrong
 * type, arguments Redis refuses), for Redis's own answer.
 */
const DENIED = [
  "-select",
  "-swapdb",
  "-move",
  "-copy",
  // They empty every partition at once: no single partition orders them against the others.
  "-flushall",
  "-flushdb",
  "-@admin",
  // Its reply reaches clients only rewritten (src/gateway/reply_filters.ts).
  "-info",
];

/** What a command does to scripts. */
export type ScriptCommand =
  | { kind: "eval"; body: Uint8Array; sha: string }
  | { kind: "evalsha"; sha: string; readOnly: boolean }
  | { kind: "fcall" }
  | { kind: "load"; body: Uint8Array; sha: string }
  | { kind: "flush" };

const utf8 = new TextDecoder();

/** The sha1 of a script body, as Redis names it (lowercase hex). */
export function scriptSha(body: Uint8Array): string {
  return createHash("sha1").update(body).digest("hex");
}

/**
 * Whether `argv` runs or changes scripts, and how. The read-only forms
 * (`EVAL_RO`, `EVALSHA_RO`, `FCALL_RO`, queued in a transaction) run as the
 * restricted user like the others: a script is never run unrestricted.
 */
export function scriptCommand(argv: readonly Uint8Array[]): ScriptCommand | undefined {
  const name = argv[0];
  if (name === undefined || name.length < 4 || name.length > 10) return undefined;
  if (
    (equalsIgnoreCase(name, "eval") || equalsIgnoreCase(name, "eval_ro")) && argv[1] !== undefined
  ) {
    return { kind: "eval", body: argv[1], sha: scriptSha(argv[1]) };
  }
  if (
    (equalsIgnoreCase(name, "evalsha") || equalsIgnoreCase(name, "evalsha_ro")) &&
    argv[1] !== undefined
  ) {
    const readOnly = name.length === 10;
    return { kind: "evalsha", sha: utf8.decode(argv[1]).toLowerCase(), readOnly };
  }
  if (equalsIgnoreCase(name, "fcall") || equalsIgnoreCase(name, "fcall_ro")) {
    return { kind: "fcall" };
  }
  if (equalsIgnoreCase(name, "script") && argv[1] !== undefined) {
    if (equalsIgnoreCase(argv[1], "load") && argv.length === 3) {
      return { kind: "load", body: argv[2]!, sha: scriptSha(argv[2]!) };
    }
    if (equalsIgnoreCase(argv[1], "flush")) return { kind: "flush" };
  }
  return undefined;
}

/**
 * A seed for `math.randomseed` from an op's id and the command's place in it:
 * the same on every rack, another for every script run.
 */
export function randomSeed(opId: string, index: number): string {
  const digest = createHash("sha256").update(`${opId}/${index}`).digest();
  // 31 bits: Lua's number stays an exact integer and Redis's seed takes it whole.
  return String(digest.readUInt32BE(0) >>> 1);
}

/** The commands the applier needs to run scripts as the restricted user. */
export class ScriptOps {
  /** Creates (or refreshes) the restricted user. */
  readonly setUser: Uint8Array;
  /** Switches the applier's connection to the restricted user. */
  readonly authAsScripts: Uint8Array;
  /** Switches it back to Pylon's own user. */
  readonly authBack: Uint8Array;

  constructor(access: RedisAccess, logId: string) {
    // Only someone who already holds Pylon's Redis password can compute it.
    const password = createHash("sha256")
      .update(`${SCRIPT_OP_USER}|${access.password ?? ""}|${logId}`)
      .digest("hex");
    this.setUser = encodeCommand([
      "ACL",
      "SETUSER",
      SCRIPT_OP_USER,
      "reset",
      "on",
      `>${password}`,
      "~*",
      "&*",
      "+@all",
      ...DENIED,
    ]);
    this.authAsScripts = encodeCommand(["AUTH", SCRIPT_OP_USER, password]);
    // A password-less default user takes any password.
    this.authBack = encodeCommand([
      "AUTH",
      access.username ?? "default",
      access.password ?? "pylon",
    ]);
  }
}

/**
 * The next script on this Redis draws from `seed`. One body for every seed, so
 * Redis caches one script, not one per op.
 */
export function reseedCommand(seed: string): Uint8Array {
  return encodeCommand(["EVAL", "math.randomseed(tonumber(ARGV[1]))", "0", seed]);
}

/** Script bodies a partition's applier keeps in memory, by count and bytes. */
const BODIES_MAX = 1_000;
const BODY_BYTES_MAX = 16 * 1024 * 1024;

/** What runs before a batch that holds scripts; its replies go back to {@linkcode ScriptRegistry.prepared}. */
export interface ScriptPlan {
  commands: Uint8Array[];
  /** New bodies sent to `SCRIPT LOAD` to learn whether they compile. */
  fresh: string[];
  /** EVALSHA shas whose bodies are read from the metadata db (which the plan SELECTs). */
  wanted: string[];
}

/**
 * The scripts side of one partition's applier: plans what runs before a
 * batch, queues each script command as the restricted user, and remembers
 * which bodies the metadata db keeps. Pure: the applier runs the commands.
 */
export class ScriptRegistry {
  #ops: ScriptOps;
  #metaDb: number;
  /** Bodies known kept in the metadata db (sha1 → body, copies). */
  #bodies = new Map<string, Uint8Array>();
  #bytes = 0;
  /** New bodies of the batch being built that Redis compiled. */
  #compiled = new Set<string>();
  /** Bodies the batch being built keeps: known once its EXEC has run. */
  #keeping = new Map<string, Uint8Array>();
  /** Client bodies behind the determinism prologue, by the client body's sha. */
  #wrappings = new Map<string, { body: Uint8Array; sha: string }>();

  constructor(ops: ScriptOps, metaDb: number) {
    this.#ops = ops;
    this.#metaDb = metaDb;
  }

  /**
   * Starts a batch of these commands: what must run before its MULTI (the
   * restricted user made, new bodies compiled, EVALSHA bodies read), or
   * undefined when none of them runs a script.
   */
  plan(commands: readonly Uint8Array[][]): ScriptPlan | undefined {
    this.#compiled.clear();
    this.#keeping.clear();
    const wanted = new Set<string>();
    const fresh = new Map<string, Uint8Array>();
    let any = false;
    for (const argv of commands) {
      const script = scriptCommand(argv);
      if (script === undefined) continue;
      any = true;
      if (script.kind === "evalsha" && !this.#bodies.has(script.sha)) wanted.add(script.sha);
      if ((script.kind === "eval" || script.kind === "load") && !this.#bodies.has(script.sha)) {
        fresh.set(script.sha, script.body);
      }
    }
    if (!any) return undefined;
    return {
      commands: [
        this.#ops.setUser,
        // Redis keeps only scripts that compile, and so does Pylon.
        ...[...fresh.values()].map((body) => encodeCommand(["SCRIPT", "LOAD", body])),
        ...(wanted.size === 0 ? [] : [
          encodeCommand(["SELECT", String(this.#metaDb)]),
          encodeCommand(["HMGET", SCRIPTS_KEY, ...wanted]),
        ]),
      ],
      fresh: [...fresh.keys()],
      wanted: [...wanted],
    };
  }

  /** Reads the plan's replies; the refusal when the restricted user cannot be made. */
  prepared(plan: ScriptPlan, frames: readonly Uint8Array[]): string | undefined {
    if (isErrorFrame(frames[0]!)) {
      return `it refuses to create the restricted user '${SCRIPT_OP_USER}' that scripts run as ` +
        `(${frameText(frames[0]!)})`;
    }
    plan.fresh.forEach((sha, i) => {
      if (!isErrorFrame(frames[1 + i]!)) this.#compiled.add(sha);
    });
    if (plan.wanted.length > 0) {
      const bodies = arrayItems(frames[frames.length - 1]!) ?? [];
      plan.wanted.forEach((sha, i) => {
        const body = bodies[i] === undefined ? undefined : bulkPayload(bodies[i]!);
        if (body !== undefined) this.#remember(sha, body);
      });
    }
    return undefined;
  }

  /**
   * Queues `argv`, command `index` of op `opId` at log time `logTimeMs`, if
   * it runs or changes scripts (false otherwise): `queue` takes each command,
   * whether it is the op's own (its reply is the op's) or Pylon's setup, and
   * how the op's reply is restored; `meta` collects commands for the metadata
   * db, run after the op's own; `load` is asked for each wrapped body the
   * batch runs by its sha (it must be loaded, in the transaction, before).
   *
   * A script whose body compiles runs behind the determinism prologue
   * (src/determinism/prologue.ts: time and chance from the op's log time and
   * seed), its loops and functions charged for the op's script budget
   * (src/determinism/script_budget.ts), by the sha of the wrapped body; one that does not compile, or
   * whose numkeys Redis refuses, goes as the client sent it, for Redis's own
   * error, alike on every rack.
   */
  queue(
    argv: readonly Uint8Array[],
    at: {
      opId: string;
      index: number;
      logTimeMs: number;
      budgetSteps?: number | undefined;
      partitions?: { own: number; count: number } | undefined;
    },
    queue: (command: Uint8Array, own: boolean, restore?: (reply: Uint8Array) => Uint8Array) => void,
    meta: Uint8Array[],
    load: (wrapped: Uint8Array, sha: string) => void,
  ): boolean {
    const script = scriptCommand(argv);
    if (script === undefined) return false;
    const keep = (sha: string, body: Uint8Array) => {
      if (this.#bodies.has(sha) || this.#keeping.has(sha) || !this.#compiled.has(sha)) return;
      meta.push(encodeCommand(["HSET", SCRIPTS_KEY, sha, body]));
      this.#keeping.set(sha, body);
    };
    switch (script.kind) {
      case "eval":
      case "evalsha": {
        const body = script.kind === "eval"
          ? script.body
          : this.#bodies.get(script.sha) ?? this.#keeping.get(script.sha);
        const sha = script.sha;
        const compiles = body !== undefined &&
          (this.#bodies.has(sha) || this.#keeping.has(sha) || this.#compiled.has(sha));
        const tail = compiles
          ? scriptArgs(argv.slice(2), {
            logTimeMs: at.logTimeMs,
            seed: opSeed(at.opId, at.index),
            budgetSteps: at.budgetSteps,
            partitions: at.partitions,
          })
          : undefined;
        const readOnly = script.kind === "eval" ? argv[0]!.length === 7 : script.readOnly;
        queue(reseedCommand(randomSeed(at.opId, at.index)), false);
        queue(this.#ops.authAsScripts, false);
        if (tail === undefined) {
          // Unknown everywhere, not compiling, or a numkeys Redis refuses: Redis's own answer.
          const request = script.kind === "evalsha" && body !== undefined
            ? encodeCommand([readOnly ? "EVAL_RO" : "EVAL", body, ...argv.slice(2)])
            : encodeCommand(argv);
          queue(request, true);
        } else {
          const wrapped = this.#wrapped(sha, body!);
          load(wrapped.body, wrapped.sha);
          queue(
            encodeCommand([readOnly ? "EVALSHA_RO" : "EVALSHA", wrapped.sha, ...tail]),
            true,
            (reply) => restoreScriptReply(reply, body!, wrapped.sha),
          );
        }
        queue(this.#ops.authBack, false);
        if (script.kind === "eval") keep(script.sha, script.body);
        return true;
      }
      case "fcall":
        // Functions are loaded behind the determinism prologue: T and the seed go with the call.
        queue(this.#ops.authAsScripts, false);
        queue(
          encodeCommand(wrapFcall(argv, {
            logTimeMs: at.logTimeMs,
            seed: opSeed(at.opId, at.index),
            budgetSteps: at.budgetSteps,
            partitions: at.partitions,
          })),
          true,
        );
        queue(this.#ops.authBack, false);
        return true;
      case "load":
        queue(encodeCommand(argv), true);
        keep(script.sha, script.body);
        return true;
      case "flush":
        // Redis forgets every script: so does Pylon, bodies kept earlier in this op included.
        queue(encodeCommand(argv), true);
        meta.length = 0;
        meta.push(encodeCommand(["DEL", SCRIPTS_KEY]));
        this.forget();
        return true;
    }
  }

  /** A client body behind the prologue, and its sha (kept for the bodies kept). */
  #wrapped(sha: string, body: Uint8Array): { body: Uint8Array; sha: string } {
    let wrapped = this.#wrappings.get(sha);
    if (wrapped === undefined) {
      const bytes = scriptBody(body);
      wrapped = { body: bytes, sha: scriptSha(bytes) };
      if (this.#wrappings.size >= BODIES_MAX) this.#wrappings.clear();
      this.#wrappings.set(sha, wrapped);
    }
    return wrapped;
  }

  /** A body known kept, by sha (undefined: not known here). */
  body(sha: string): Uint8Array | undefined {
    return this.#bodies.get(sha);
  }

  /** The batch's EXEC ran: the bodies it kept are known from now on. */
  applied(): void {
    for (const [sha, body] of this.#keeping) this.#remember(sha, body);
    this.#keeping.clear();
  }

  /** The metadata db was emptied (FLUSHALL) or the scripts flushed: nothing is known kept. */
  forget(): void {
    this.#bodies.clear();
    this.#bytes = 0;
    this.#keeping.clear();
  }

  #remember(sha: string, body: Uint8Array): void {
    // Bounded: a forgotten body is kept again (HSET) or read again (HMGET) when next used.
    // A copy: the body is a view into a batch of records it must not hold.
    if (this.#bodies.size >= BODIES_MAX || this.#bytes + body.length > BODY_BYTES_MAX) {
      this.#bodies.clear();
      this.#bytes = 0;
    }
    this.#bodies.set(sha, body.slice());
    this.#bytes += body.length;
  }
}
