/**
 * Key extraction, as Redis 7.0 does it for `COMMAND GETKEYS` and cluster
 * routing: walk the command's key specs (begin_search index/keyword, then
 * find_keys range/keynum); where a spec cannot say (an `unknown` or
 * `incomplete` spec, `variable_flags`, or arguments the specs reject), fall
 * back to the command's own getkeys procedure, re-implemented here for the
 * commands Redis has one for.
 */

import { atoi, isWord, parseStrictInteger } from "./bytes.ts";
import type { RawKeySpec } from "./raw.ts";
import type { CommandSpec } from "./types.ts";

/** Flags of a key found by a getkeys procedure (as `COMMAND GETKEYSANDFLAGS` reports them). */
type KeyFlags = readonly string[];

const NO_FLAGS: KeyFlags = Object.freeze([]);
const RO_ACCESS: KeyFlags = Object.freeze(["RO", "access"]);
const OW_UPDATE: KeyFlags = Object.freeze(["OW", "update"]);
const RW_ACCESS_UPDATE: KeyFlags = Object.freeze(["RW", "access", "update"]);
const RW_ACCESS_DELETE: KeyFlags = Object.freeze(["RW", "access", "delete"]);

/** Collects key positions, and their flags when `flags` is given. */
interface KeySink {
  positions: number[];
  flags: KeyFlags[] | undefined;
}

function add(sink: KeySink, position: number, flags: KeyFlags): void {
  sink.positions.push(position);
  sink.flags?.push(flags);
}

function clear(sink: KeySink): void {
  sink.positions.length = 0;
  if (sink.flags !== undefined) sink.flags.length = 0;
}

/** A getkeys procedure: fills the sink from the request. */
type KeysProcedure = (argv: readonly Uint8Array[], sink: KeySink) => void;

/** C integer division (truncates toward zero). */
function div(a: number, b: number): number {
  return Math.trunc(a / b);
}

/** `COMMAND [dest] <numkeys> <key> ...` (ZUNIONSTORE, EVAL, LMPOP, ...): Redis's genericGetKeys. */
function numkeysProcedure(
  storeAt: number,
  countAt: number,
  firstAt: number,
  step: number,
): KeysProcedure {
  return (argv, sink) => {
    const count = atoi(argv[countAt] ?? EMPTY);
    if (count < 1 || count > div(argv.length - firstAt, step)) return;
    for (let i = 0; i < count; i++) add(sink, firstAt + i * step, NO_FLAGS);
    if (storeAt > 0) add(sink, storeAt, NO_FLAGS);
  };
}

const EMPTY = new Uint8Array(0);

/** The index of SORT's STORE key (the last STORE wins), skipping LIMIT/GET/BY arguments; -1 if none. */
export function sortStoreIndex(argv: readonly Uint8Array[]): number {
  let store = -1;
  for (let i = 2; i < argv.length; i++) {
    const arg = argv[i]!;
    if (isWord(arg, "limit")) i += 2;
    else if (isWord(arg, "get") || isWord(arg, "by")) i += 1;
    else if (isWord(arg, "store") && i + 1 < argv.length) store = i + 1;
  }
  return store;
}

/** SORT: the sorted key, and the STORE key. */
function sortKeys(argv: readonly Uint8Array[], sink: KeySink): void {
  add(sink, 1, RO_ACCESS);
  const store = sortStoreIndex(argv);
  if (store > 0) add(sink, store, OW_UPDATE);
}

/** SORT_RO: only the sorted key. */
function sortReadOnlyKeys(_argv: readonly Uint8Array[], sink: KeySink): void {
  add(sink, 1, RO_ACCESS);
}

/**
 * MIGRATE: the key argument, or everything after KEYS (only valid when the key
 * argument is empty); AUTH's password and AUTH2's user and password are
 * skipped, so a password spelled "keys" is not taken for the option.
 */
function migrateKeys(argv: readonly Uint8Array[], sink: KeySink): void {
  let first = 3;
  let count = 1;
  for (let i = 6; i < argv.length; i++) {
    const arg = argv[i]!;
    if (isWord(arg, "keys")) {
      if (argv[3]!.length > 0) return;
      first = i + 1;
      count = argv.length - first;
      break;
    }
    if (isWord(arg, "auth")) i += 1;
    else if (isWord(arg, "auth2")) i += 2;
  }
  for (let i = 0; i < count; i++) add(sink, first + i, RW_ACCESS_DELETE);
}

/** The index of GEORADIUS[BYMEMBER]'s STORE or STOREDIST key (the last wins); -1 if none. */
export function georadiusStoreIndex(argv: readonly Uint8Array[]): number {
  let stored = -1;
  for (let i = 5; i < argv.length; i++) {
    const arg = argv[i]!;
    if ((isWord(arg, "store") || isWord(arg, "storedist")) && i + 1 < argv.length) {
      stored = i + 1;
      i++;
    }
  }
  return stored;
}

/** GEORADIUS[BYMEMBER]: the key, and the store key. */
function georadiusKeys(argv: readonly Uint8Array[], sink: KeySink): void {
  add(sink, 1, NO_FLAGS);
  const stored = georadiusStoreIndex(argv);
  if (stored > 0) add(sink, stored, NO_FLAGS);
}

/**
 * Scans XREAD/XREADGROUP options up to STREAMS as Redis does; returns the
 * index of STREAMS (-1 if the options end first) and whether BLOCK was given.
 */
function scanXreadOptions(argv: readonly Uint8Array[]): { streams: number; block: boolean } {
  let block = false;
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i]!;
    if (isWord(arg, "block")) {
      block = true;
      i++;
    } else if (isWord(arg, "count")) i++;
    else if (isWord(arg, "group")) i += 2;
    else if (isWord(arg, "noack")) continue;
    else if (isWord(arg, "streams")) return { streams: i, block };
    else break;
  }
  return { streams: -1, block };
}

/** Whether an XREAD/XREADGROUP request asks to block (BLOCK before STREAMS). */
export function xreadBlocks(argv: readonly Uint8Array[]): boolean {
  return scanXreadOptions(argv).block;
}

/** XREAD/XREADGROUP: the first half of what follows the STREAMS option. */
function xreadKeys(argv: readonly Uint8Array[], sink: KeySink): void {
  const { streams } = scanXreadOptions(argv);
  if (streams < 0) return;
  const rest = argv.length - streams - 1;
  if (rest === 0 || rest % 2 !== 0) return;
  for (let i = streams + 1; i < argv.length - rest / 2; i++) add(sink, i, NO_FLAGS);
}

/** SET: the key, read-write when GET is among the options. */
function setKeys(argv: readonly Uint8Array[], sink: KeySink): void {
  for (let i = 3; i < argv.length; i++) {
    if (isWord(argv[i]!, "get")) {
      add(sink, 1, RW_ACCESS_UPDATE);
      return;
    }
  }
  add(sink, 1, OW_UPDATE);
}

/** Whether BITFIELD's operations are all GETs (OVERFLOW aside); a syntax error counts as a write. */
export function bitfieldReadOnly(argv: readonly Uint8Array[]): boolean {
  for (let i = 2; i < argv.length; i++) {
    const arg = argv[i]!;
    const remaining = argv.length - i - 1;
    if (isWord(arg, "get") && remaining >= 2) i += 2;
    else if ((isWord(arg, "set") || isWord(arg, "incrby")) && remaining >= 3) return false;
    else if (isWord(arg, "overflow") && remaining >= 1) i += 1;
    else return false;
  }
  return true;
}

/** BITFIELD: the key, read-only when every operation is a GET. */
function bitfieldKeys(argv: readonly Uint8Array[], sink: KeySink): void {
  add(sink, 1, bitfieldReadOnly(argv) ? RO_ACCESS : RW_ACCESS_UPDATE);
}

/** Redis 7.0's getkeys procedures, by command. */
const PROCEDURES: ReadonlyMap<string, KeysProcedure> = new Map([
  ["sort", sortKeys],
  ["sort_ro", sortReadOnlyKeys],
  ["migrate", migrateKeys],
  ["georadius", georadiusKeys],
  ["georadiusbymember", georadiusKeys],
  ["xread", xreadKeys],
  ["xreadgroup", xreadKeys],
  ["set", setKeys],
  ["bitfield", bitfieldKeys],
  ["zunionstore", numkeysProcedure(1, 2, 3, 1)],
  ["zinterstore", numkeysProcedure(1, 2, 3, 1)],
  ["zdiffstore", numkeysProcedure(1, 2, 3, 1)],
  ["zunion", numkeysProcedure(0, 1, 2, 1)],
  ["zinter", numkeysProcedure(0, 1, 2, 1)],
  ["zdiff", numkeysProcedure(0, 1, 2, 1)],
  ["zintercard", numkeysProcedure(0, 1, 2, 1)],
  ["sintercard", numkeysProcedure(0, 1, 2, 1)],
  ["eval", numkeysProcedure(0, 2, 3, 1)],
  ["evalsha", numkeysProcedure(0, 2, 3, 1)],
  ["eval_ro", numkeysProcedure(0, 2, 3, 1)],
  ["evalsha_ro", numkeysProcedure(0, 2, 3, 1)],
  ["fcall", numkeysProcedure(0, 2, 3, 1)],
  ["fcall_ro", numkeysProcedure(0, 2, 3, 1)],
  ["lmpop", numkeysProcedure(0, 1, 2, 1)],
  ["blmpop", numkeysProcedure(0, 2, 3, 1)],
  ["zmpop", numkeysProcedure(0, 1, 2, 1)],
  ["bzmpop", numkeysProcedure(0, 2, 3, 1)],
]);

/** A key spec prepared for matching (keyword lowercased, flags read once). */
interface CompiledSpec {
  readonly spec: RawKeySpec;
  readonly notKey: boolean;
  readonly incomplete: boolean;
  /** The begin_search keyword, lowercase. */
  readonly keyword: string;
}

/** Everything key extraction needs to know about one command. */
interface KeyPlan {
  readonly specs: readonly CompiledSpec[];
  /** Some spec is a real key (not `not_key`). */
  readonly hasKeySpec: boolean;
  /** Some spec has `variable_flags`: Redis prefers the procedure then. */
  readonly variableFlags: boolean;
  readonly procedure: KeysProcedure | undefined;
}

const plans = new WeakMap<CommandSpec, KeyPlan>();

function planFor(command: CommandSpec): KeyPlan {
  let plan = plans.get(command);
  if (plan === undefined) {
    const specs = command.keySpecs.map((spec) => ({
      spec,
      notKey: spec.flags.includes("not_key"),
      incomplete: spec.flags.includes("incomplete"),
      keyword: spec.begin_search.type === "keyword" ? spec.begin_search.keyword.toLowerCase() : "",
    }));
    plan = {
      specs,
      hasKeySpec: specs.some((s) => !s.notKey),
      variableFlags: specs.some((s) => s.spec.flags.includes("variable_flags")),
      procedure: PROCEDURES.get(command.name),
    };
    plans.set(command, plan);
  }
  return plan;
}

/** Redis's getKeysUsingKeySpecs: false when a spec is invalid or incomplete (the sink is then cleared). */
function keysFromSpecs(
  plan: KeyPlan,
  arity: number,
  argv: readonly Uint8Array[],
  sink: KeySink,
): boolean {
  const argc = argv.length;
  for (const compiled of plan.specs) {
    if (compiled.notKey) continue;
    const { spec } = compiled;
    const begin = spec.begin_search;
    let first = 0;
    if (begin.type === "index") {
      first = begin.index;
    } else if (begin.type === "keyword") {
      const forward = begin.startfrom > 0;
      const start = forward ? begin.startfrom : argc + begin.startfrom;
      const end = forward ? argc - 1 : 0;
      for (let i = start; i !== end; i = start <= end ? i + 1 : i - 1) {
        if (i >= argc || i < 1) break;
        if (isWord(argv[i]!, compiled.keyword)) {
          first = i + 1;
          break;
        }
      }
      if (first === 0) continue;
    } else {
      clear(sink);
      return false;
    }

    const find = spec.find_keys;
    let last: number;
    let step: number;
    if (find.type === "range") {
      step = find.keystep;
      if (find.lastkey >= 0) last = first + find.lastkey;
      else if (find.limit === 0) last = argc + find.lastkey;
      else last = first + (div(argc - first, find.limit) + find.lastkey);
    } else if (find.type === "keynum") {
      step = find.keystep;
      const at = first + find.keynumidx;
      const count = at < argc ? parseStrictInteger(argv[at]!) : undefined;
      if (count === undefined || count < 0) {
        clear(sink);
        return false;
      }
      first += find.firstkey;
      last = first + count - 1;
    } else {
      clear(sink);
      return false;
    }

    if (last >= argc || last < first || first >= argc) {
      clear(sink);
      return false;
    }
    for (let i = first; i <= last; i += step) {
      // Redis skips positions past the end for variable-arity commands and
      // lets the command report the syntax error.
      if (i >= argc || i < first) {
        if (arity < 0) continue;
        throw new Error(`Key spec of '${spec.begin_search.type}' runs past the arguments`);
      }
      add(sink, i, spec.flags);
    }
    if (compiled.incomplete) {
      clear(sink);
      return false;
    }
  }
  return true;
}

function extract(command: CommandSpec, argv: readonly Uint8Array[], sink: KeySink): void {
  const plan = planFor(command);
  if (plan.hasKeySpec && !plan.variableFlags) {
    if (keysFromSpecs(plan, command.arity, argv, sink)) return;
  }
  plan.procedure?.(argv, sink);
}

/** Whether Redis considers that the command takes keys (`COMMAND GETKEYS` refuses it otherwise). */
export function hasKeys(command: CommandSpec): boolean {
  const plan = planFor(command);
  return plan.procedure !== undefined || plan.hasKeySpec;
}

/** Indices into argv of the keys of this request (argv[0] is the command name). */
export function commandKeys(command: CommandSpec, argv: Uint8Array[]): number[] {
  const sink: KeySink = { positions: [], flags: undefined };
  extract(command, argv, sink);
  return sink.positions;
}

/**
 * The keys' positions, or undefined when the arguments do not say where they
 * are (a request Redis refuses); for callers that must not throw.
 */
export function commandKeysIfKnown(
  command: CommandSpec,
  argv: Uint8Array[],
): number[] | undefined {
  try {
    return commandKeys(command, argv);
  } catch {
    return undefined;
  }
}

/** Key positions with the access flags Redis reports for each (`COMMAND GETKEYSANDFLAGS`). */
export function commandKeysAndFlags(
  command: CommandSpec,
  argv: readonly Uint8Array[],
): { position: number; flags: readonly string[] }[] {
  const sink: KeySink = { positions: [], flags: [] };
  extract(command, argv, sink);
  return sink.positions.map((position, i) => ({ position, flags: sink.flags![i]! }));
}
