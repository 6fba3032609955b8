/**
 * Time and chance from the log, inside scripts. Every rack runs an op's
 * script on its own Redis; whatever the script asks Redis about time or
 * chance must come back the same everywhere. So each script applied as an op
 * runs behind a prologue:
 *
 * ```
 * EVAL <PROLOGUE><client's body, charged> numkeys keys... args... <T> <seed> <budget>
 * ```
 *
 * T is the op's log time (ms since the epoch) and the seed comes from the op's
 * id, both the same on every rack; the budget is the op's script budget in
 * steps, and the client's body has a step charge at the start of each loop
 * and function body (script_budget.ts). The prologue is one line with no
 * newline, and so is each charge, so the client's lines keep their numbers in
 * Redis's error messages (after a `#!lua` shebang line it goes at the start
 * of line 2). It takes T, the seed and the budget off ARGV (the body sees the
 * client's ARGV) and shadows `redis` with a
 * local table whose `call` and `pcall` decide from T and the seed (the
 * handlers in wrapper_lua.ts say how, command by command):
 *
 * - before each call, every argument that can name a key and is logically
 *   expired at T (src/determinism/expiry.ts) is deleted;
 * - `TIME` answers T; expiry setters are made absolute from T and shifted by
 *   H, and a key whose new expiry is not after T is deleted; TTL readers
 *   answer relative to T;
 * - `XADD key *` gets the id Redis would give at T; XREADGROUP, XCLAIM and
 *   XAUTOCLAIM record delivery time T and decide min-idle-time from T and the
 *   delivery time read exactly; XPENDING's idle times are T-based;
 * - `SPOP`, `SRANDMEMBER`, `ZRANDMEMBER`, `HRANDFIELD`, `RANDOMKEY` choose
 *   with the seed over the members in bytewise order; replies whose order is
 *   a hash table's (`SMEMBERS`, `HGETALL`, `KEYS`, ...) come bytewise sorted;
 * - what cannot be made the same (`OBJECT IDLETIME`, `XINFO CONSUMERS`,
 *   `SCAN`, `DUMP`, ...) is refused with an error naming it.
 *
 * Anything the wrapper is not sure Redis accepts goes to Redis unchanged, so
 * errors are Redis's own words for the command the script called; it does so
 * only where Redis's answer does not depend on time or chance (an invalid
 * request, a missing key, a wrong type).
 *
 * Top-level commands that need the same decisions (`SPOP`, `XADD *`,
 * `XCLAIM`, `XAUTOCLAIM`, `XREADGROUP`) run as a one-call script through the
 * same wrapper ({@linkcode commandAsScript}).
 *
 * What it costs: the prologue is about 35 KB (send it once with SCRIPT
 * LOAD and apply EVALSHA: EVAL would hash it on every run) and a run builds
 * about 20 Lua closures, plus a group of handlers at the first call that
 * needs one; each call checks its key arguments' expiry (one PEXPIRETIME per
 * name, once per run). A random choice reads the whole key (O(N), O(N log N)
 * to sort); RANDOMKEY, KEYS and DBSIZE read and check every key of the db;
 * an exact delivery time costs three calls (TIME, XPENDING, TIME), XCLAIM
 * one such read and one XRANGE per id, XAUTOCLAIM one read of up to COUNT x
 * 10 + 1 pending entries and one XRANGE per entry it scans, XPENDING .. IDLE
 * a read of its whole range.
 *
 * What the applier must guarantee: an op that records a delivery time (a
 * stream read or claim) is applied only once the rack's Redis clock has
 * reached its T (Redis sets a delivery time later than its clock to its
 * clock); the wrapper refuses such a call otherwise, before changing
 * anything, and that refusal is this rack's alone.
 *
 * What stays open, stated: a script that reaches the real API around the
 * wrapper (`getmetatable(redis).__newindex`) is not wrapped (the random
 * commands stay denied to it by ACL; `TIME` does not); `_G` and its
 * metatable lead only to the wrapper, and `loadstring` and `load` are refused
 * (the code they make would escape the budget); a read-only script (`EVAL_RO`,
 * `no-writes`) cannot delete a logically expired key it reads, so the
 * applier must expire its declared keys first ({@linkcode EXPIRE_DUE}); a
 * script that keeps `redis.call` in a variable, catches an error it raised
 * with `pcall` and calls it again gets "cannot resume dead coroutine" (see
 * wrapper_lua.ts: `call` runs in a coroutine so that errors name the
 * script's line); a RESP3 set the wrapper makes (SPOP with a count) lists its
 * members in a Lua table's order, the same on every rack but not Redis's; the
 * emulated SPOP's keyspace event is SREM's;
 * a stored expiry beyond 2^53 ms (year 287,000) reads back rounded to a
 * double inside a script, as Redis's own integers do in Lua.
 */

import { createHash } from "node:crypto";
import { equalsIgnoreCase, isWord, parseStrictInteger } from "../command/bytes.ts";
import { xreadBlocks } from "../command/keys.ts";
import { loadRawCommands } from "../command/raw.ts";
import { concatBytes } from "../resp/bytes.ts";
import { arrayItems, mapItems } from "../resp/frames.ts";
import type { Protocol } from "../resp/value.ts";
import { EVAL_ENTRY, WRAPPER_CORE } from "./wrapper_lua.ts";
import {
  DEFAULT_BUDGET_STEPS,
  instrument,
  REDIS_CALL_STEPS,
  REPLY_ELEMENT_STEPS,
  STEPS_NAME,
  STEPS_PER_MS,
  STOP_NAME,
  WHY_NAME,
} from "./script_budget.ts";

export { EXPIRE_DUE } from "./expiry.ts";

/** What an op carries for determinism: its log time and its seed, the same on every rack. */
export interface LogContext {
  /** The op's log time T, ms since the epoch. */
  logTimeMs: number;
  /** The op's seed: a decimal integer (see {@linkcode opSeed}). */
  seed: string;
  /**
   * The op's script budget in steps (script_budget.ts); undefined: the
   * default, {@linkcode DEFAULT_BUDGET_STEPS}.
   */
  budgetSteps?: number | undefined;
  /**
   * The op's partition and the log's partition count, when it has several:
   * a script then touches keys of that partition only (wrapper_lua.ts).
   */
  partitions?: { own: number; count: number } | undefined;
}

/**
 * The seed of command `index` of op `opId`: the same on every rack, another
 * for every command (31 bits, a decimal integer Lua reads exactly).
 */
export function opSeed(opId: string, index: number): string {
  const digest = createHash("sha256").update(`pylon-seed/${opId}/${index}`).digest();
  return String(digest.readUInt32BE(0) >>> 1);
}

/**
 * Where each command's keys are, for the wrapper's expiry check before each
 * call: `;name=first,last,step` (Redis's argv positions), `=0` no keys, `=M`
 * movable keys (every argument checked), `=S` look up `name|subcommand`.
 * From Redis's own command table, commands scripts may call.
 */
function keySpecs(): string {
  const parts: string[] = [""];
  for (const command of loadRawCommands()) {
    if (command.flags.includes("noscript")) continue;
    let spec: string;
    if (command.subcommands.length > 0) spec = "S";
    else if (command.flags.includes("movablekeys")) spec = "M";
    else if (command.first_key === 0) spec = "0";
    else spec = `${command.first_key},${command.last_key},${command.step}`;
    parts.push(`${command.name}=${spec}`);
  }
  parts.push("");
  return parts.join(";");
}

/**
 * Lua source pressed onto one line: whole-line `--` comments dropped, the
 * rest joined with spaces (the wrapper's source keeps to what that allows).
 */
export function pressLua(source: string): string {
  return source.split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("--"))
    .join(" ");
}

/** The wrapper's core, pressed onto one line, key positions and the budget's rates filled in. */
export const WRAPPER_CORE_PRESSED = pressLua(
  WRAPPER_CORE.replace("@KEY_SPECS@", keySpecs())
    .replace("@STEPS_PER_MS@", String(STEPS_PER_MS))
    .replace("@REDIS_CALL_STEPS@", String(REDIS_CALL_STEPS))
    .replace("@REPLY_ELEMENT_STEPS@", String(REPLY_ELEMENT_STEPS)),
);

/**
 * The one-line prologue of a script applied as an op: declares the script
 * budget's counter and stop (script_budget.ts), binds the local `redis` to
 * the wrapper, fed with the last three ARGV entries (T, seed, budget), which
 * it removes, shadows `pcall`, `xpcall`, `coroutine`, `loadstring` and
 * `load` for the budget, and shadows `_G` so that `_G.redis` (and the
 * others) are the wrapper's too, its metatable hidden (its `__index` is the
 * real globals). Ends in a space, no newline.
 */
export const PROLOGUE = `local ${STEPS_NAME}, ${STOP_NAME}, ${WHY_NAME}; ` +
  `local redis, pcall, xpcall, coroutine, loadstring, load = (function() ${WRAPPER_CORE_PRESSED} ${
    pressLua(EVAL_ENTRY)
  } end)(); local _G = setmetatable({ redis = redis, pcall = pcall, xpcall = xpcall, ` +
  `coroutine = coroutine, loadstring = loadstring, load = load }, ` +
  `{ __index = _G, __newindex = _G, __metatable = getmetatable(_G) }); rawset(_G, '_G', _G); `;

const encoder = new TextEncoder();
const PROLOGUE_BYTES = encoder.encode(PROLOGUE);
const NEWLINE = 0x0a;

/**
 * The body to EVAL for a client's script body: its loops and functions
 * charged for the script budget (script_budget.ts), the prologue in front,
 * or, after a `#!` shebang line (which Redis requires first), at the start of
 * line 2. A shebang without a line end is left as it is (Redis refuses it).
 * A body that names a name reserved for the budget never runs: in its place
 * runs a script that answers the refusal, alike on every rack.
 */
export function scriptBody(clientBody: Uint8Array): Uint8Array {
  if (clientBody[0] === 0x23 && clientBody[1] === 0x21 && clientBody.indexOf(NEWLINE) < 0) {
    return clientBody;
  }
  const charged = instrument(clientBody);
  if ("refusal" in charged) return refusalBody(charged.refusal);
  return placeProlog(charged.code);
}

/** A script that answers the error `text` (which must not hold `]==]`). */
function refusalBody(text: string): Uint8Array {
  return encoder.encode(`return redis.error_reply([==[${text}]==])`);
}

/** The prologue placed in front of `code`, or at the start of line 2 after a shebang line. */
function placeProlog(code: Uint8Array): Uint8Array {
  if (code[0] === 0x23 && code[1] === 0x21) {
    const end = code.indexOf(NEWLINE);
    if (end < 0) return code;
    return concatBytes([code.subarray(0, end + 1), PROLOGUE_BYTES, code.subarray(end + 1)]);
  }
  return concatBytes([PROLOGUE_BYTES, code]);
}

/**
 * EVAL's arguments after the body, the op's T, seed and budget appended:
 * `numkeys keys... args... T seed budget`. Undefined when `numkeys` is not
 * what Redis accepts for these arguments (not an integer, negative, more than
 * the arguments): then the client's own request must go to Redis unchanged,
 * for its own error (appending would change the count it checks).
 */
export function scriptArgs(
  argvTail: readonly Uint8Array[],
  context: LogContext,
): Uint8Array[] | undefined {
  checkContext(context);
  const numkeys = argvTail[0] === undefined ? undefined : parseStrictInteger(argvTail[0]);
  if (numkeys === undefined || numkeys < 0 || numkeys > argvTail.length - 1) return undefined;
  return [...argvTail, ...contextArgs(context)];
}

/** The op's T, seed and budget as the wrapper takes them off the end of ARGV. */
export function contextArgs(context: LogContext): Uint8Array[] {
  return [
    encoder.encode(String(context.logTimeMs)),
    encoder.encode(context.seed),
    encoder.encode(
      String(context.budgetSteps ?? DEFAULT_BUDGET_STEPS) +
        (context.partitions !== undefined && context.partitions.count > 1
          ? `:${context.partitions.own}/${context.partitions.count}`
          : ""),
    ),
  ];
}

function checkContext(context: LogContext): void {
  if (!Number.isSafeInteger(context.logTimeMs) || context.logTimeMs < 0) {
    throw new RangeError(`A log time must be ms since the epoch, got '${context.logTimeMs}'`);
  }
  if (!/^(0|[1-9][0-9]{0,14})$/.test(context.seed)) {
    throw new RangeError(`A seed must be a decimal integer below 10^15, got '${context.seed}'`);
  }
  const budget = context.budgetSteps;
  if (budget !== undefined && (!Number.isSafeInteger(budget) || budget < 0)) {
    throw new RangeError(`A script budget must be a whole number of steps, got '${budget}'`);
  }
}

const EVAL = encoder.encode("EVAL");
const EVAL_RO = encoder.encode("EVAL_RO");

/**
 * An `EVAL` or `EVAL_RO` request as the op applies it: the wrapped body, the
 * client's keys and args, then T, the seed and the budget. The request unchanged when its
 * numkeys is invalid (Redis's own error) or it is not one of the two.
 */
export function wrapEval(argv: readonly Uint8Array[], context: LogContext): Uint8Array[] {
  const name = argv[0];
  if (name === undefined || argv[1] === undefined) return [...argv];
  const readOnly = equalsIgnoreCase(name, "eval_ro");
  if (!readOnly && !equalsIgnoreCase(name, "eval")) return [...argv];
  const tail = scriptArgs(argv.slice(2), context);
  if (tail === undefined) return [...argv];
  return [readOnly ? EVAL_RO : EVAL, scriptBody(argv[1]), ...tail];
}

/** The sha1 Redis names a body by. */
function sha1(body: Uint8Array): string {
  return createHash("sha1").update(body).digest("hex");
}

/**
 * A script's reply as the client's own script would give it: Redis names the
 * script in runtime errors (`... script: <sha1>, on @user_script:3.`), and the
 * wrapped body (whose sha1 the caller may know) has another sha1 than the
 * client's. Other replies unchanged.
 */
export function restoreScriptReply(
  reply: Uint8Array,
  clientBody: Uint8Array,
  wrappedSha?: string,
): Uint8Array {
  if (reply[0] !== 0x2d && reply[0] !== 0x21) return reply;
  const wrapped = wrappedSha ?? sha1(scriptBody(clientBody));
  const text = new TextDecoder().decode(reply);
  const at = text.indexOf(`script: ${wrapped}`);
  if (at < 0) return reply;
  // Both sha1s are 40 digits: a blob error's length header still holds.
  return encoder.encode(
    text.slice(0, at) + `script: ${sha1(clientBody)}` + text.slice(at + 8 + wrapped.length),
  );
}

/** Which top-level command runs through the wrapper. */
type Wrapped = "spop" | "xadd" | "xclaim" | "xautoclaim" | "xreadgroup";

/** The index of XADD's id argument (as Redis's option loop finds it), or -1. */
function xaddIdIndex(argv: readonly Uint8Array[]): number {
  let i = 2;
  while (i < argv.length) {
    const arg = argv[i]!;
    const more = argv.length - 1 - i;
    if (arg[0] === 0x2a && (arg.length === 1 || arg[1] === 0)) return i;
    if ((isWord(arg, "maxlen") || isWord(arg, "minid")) && more > 0) {
      const next = argv[i + 1]!;
      const approx = (next[0] === 0x7e || next[0] === 0x3d) && (next.length === 1 || next[1] === 0);
      if (more >= 2 && approx) i++;
      i += 2;
    } else if (isWord(arg, "limit") && more > 0) {
      i += 2;
    } else if (isWord(arg, "nomkstream")) {
      i += 1;
    } else {
      return i;
    }
  }
  return -1;
}

/** Whether `argv` is a top-level command the wrapper must decide, and which. */
function wrappedCommand(argv: readonly Uint8Array[]): Wrapped | undefined {
  const name = argv[0];
  if (name === undefined) return undefined;
  if (equalsIgnoreCase(name, "spop")) {
    return argv.length === 2 || argv.length === 3 ? "spop" : undefined;
  }
  if (equalsIgnoreCase(name, "xadd")) {
    if (argv.length < 5) return undefined;
    const id = xaddIdIndex(argv);
    const arg = id < 0 ? undefined : argv[id];
    return arg !== undefined && arg[0] === 0x2a ? "xadd" : undefined;
  }
  if (equalsIgnoreCase(name, "xclaim")) return argv.length >= 6 ? "xclaim" : undefined;
  if (equalsIgnoreCase(name, "xautoclaim")) return argv.length >= 6 ? "xautoclaim" : undefined;
  // A BLOCK left in the log is invalid (valid ones are dropped when logged): Redis's own error.
  if (equalsIgnoreCase(name, "xreadgroup")) {
    return argv.length >= 7 && !xreadBlocks(argv) ? "xreadgroup" : undefined;
  }
  return undefined;
}

/** The budget of a top-level command run through the wrapper: none to speak of. */
const NO_BUDGET_STEPS = Number.MAX_SAFE_INTEGER;

/** Runs the client's command, ARGV, through the wrapper and answers Redis's reply. */
const CALL_BODY = "return redis.pcall(unpack(ARGV))";
/** The same for a RESP3 client: the script reads and answers RESP3 types. */
const CALL_BODY_RESP3 = "redis.setresp(3) return redis.pcall(unpack(ARGV))";
/**
 * XREADGROUP for a RESP3 client: read in RESP2, where a missing entry is
 * `false` (Lua arrays cannot hold RESP3's nil), answered as a map; `false`
 * reaches a RESP3 client as `_`, as Redis sends it.
 */
const XREADGROUP_BODY_RESP3 = "local r = redis.pcall(unpack(ARGV)) " +
  "if type(r) == 'table' and r.err == nil then local m = {} " +
  "for _, s in ipairs(r) do m[s[1]] = s[2] end return {map = m} end return r";

/**
 * The argv of an `EVAL` that runs one top-level command of an op through the
 * wrapper, so its time and chance come from the op: `SPOP`, `XADD` with a `*`
 * id, `XCLAIM`, `XAUTOCLAIM`, `XREADGROUP`. Undefined when the command needs
 * no wrapper (any other command, an explicit or `<ms>-*` XADD id) or has a
 * wrong number of arguments (Redis's own error, as it would answer it): then
 * send it as it is. Errors pass through as Redis's replies
 * (`redis.pcall`); a RESP3 client's script reads RESP3 (`redis.setresp(3)`).
 * Apply {@linkcode restoreCommandReply} to the reply. Commands of more than
 * 7,999 arguments get Lua's "too many results to unpack".
 */
export function commandAsScript(
  argv: readonly Uint8Array[],
  protocol: Protocol,
  context: LogContext,
): Uint8Array[] | undefined {
  checkContext(context);
  const wrapped = wrappedCommand(argv);
  if (wrapped === undefined) return undefined;
  const body = protocol === 3
    ? (wrapped === "xreadgroup" ? XREADGROUP_BODY_RESP3 : CALL_BODY_RESP3)
    : CALL_BODY;
  // Pylon's own bodies, one command each: no budget, which would only stop a large reply (an
  // SPOP of millions) after the command ran, losing it.
  return [
    EVAL,
    placeProlog(encoder.encode(body)),
    encoder.encode("0"),
    ...argv,
    ...contextArgs({ ...context, budgetSteps: NO_BUDGET_STEPS }),
  ];
}

const NULL_ARRAY = encoder.encode("*-1\r\n");

function isNullBulk(frame: Uint8Array): boolean {
  return frame.length === 5 && frame[0] === 0x24 && frame[1] === 0x2d && frame[2] === 0x31;
}

function header(type: string, count: number): Uint8Array {
  return encoder.encode(`${type}${count}\r\n`);
}

/** XREADGROUP's stream keys, in the order of its STREAMS arguments. */
function streamKeys(argv: readonly Uint8Array[]): string[] {
  const at = argv.findIndex((arg, i) => i > 0 && equalsIgnoreCase(arg, "streams"));
  if (at < 0) return [];
  const rest = argv.slice(at + 1);
  const decoder = new TextDecoder();
  return rest.slice(0, Math.floor(rest.length / 2)).map((key) => decoder.decode(key));
}

/** A RESP2 XREADGROUP reply with Redis's null arrays where Lua could only give null bulks. */
function restoreXreadgroup2(reply: Uint8Array): Uint8Array {
  if (isNullBulk(reply)) return NULL_ARRAY;
  const streams = reply[0] === 0x2a ? arrayItems(reply) : null;
  if (streams === null) return reply;
  const parts: Uint8Array[] = [header("*", streams.length)];
  for (const stream of streams) {
    const [key, entries] = arrayItems(stream) ?? [];
    if (key === undefined || entries === undefined || entries[0] !== 0x2a) {
      parts.push(stream);
      continue;
    }
    const list = arrayItems(entries) ?? [];
    parts.push(header("*", 2), key, header("*", list.length));
    for (const entry of list) {
      const fields = arrayItems(entry) ?? [];
      if (fields.length === 2 && isNullBulk(fields[1]!)) {
        parts.push(header("*", 2), fields[0]!, NULL_ARRAY);
      } else {
        parts.push(entry);
      }
    }
  }
  return concatBytes(parts);
}

/** A RESP3 XREADGROUP map with its streams in the order the request named them. */
function restoreXreadgroup3(argv: readonly Uint8Array[], reply: Uint8Array): Uint8Array {
  const items = mapItems(reply);
  if (items === undefined) return reply;
  const order = streamKeys(argv);
  const decoder = new TextDecoder();
  const entries: { key: string; frames: Uint8Array[] }[] = [];
  for (let i = 0; i < items.length; i += 2) {
    const keyFrame = items[i]!;
    const crlf = keyFrame.indexOf(0x0d);
    entries.push({
      key: decoder.decode(keyFrame.subarray(crlf + 2, keyFrame.length - 2)),
      frames: [keyFrame, items[i + 1]!],
    });
  }
  entries.sort((a, b) => order.indexOf(a.key) - order.indexOf(b.key));
  return concatBytes([header("%", entries.length), ...entries.flatMap((entry) => entry.frames)]);
}

/**
 * The reply of a {@linkcode commandAsScript} EVAL as Redis gives it to the
 * command itself, byte for byte, where a script's reply cannot say it:
 * XREADGROUP's null arrays (Lua has only null bulks for RESP2) and, in RESP3,
 * its map of streams in the requested order. Any other reply unchanged.
 */
export function restoreCommandReply(
  argv: readonly Uint8Array[],
  protocol: Protocol,
  reply: Uint8Array,
): Uint8Array {
  if (wrappedCommand(argv) !== "xreadgroup") return reply;
  if (reply[0] === 0x2d || reply[0] === 0x21) return reply;
  return protocol === 2 ? restoreXreadgroup2(reply) : restoreXreadgroup3(argv, reply);
}
