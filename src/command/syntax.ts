/**
 * Syntax checks for writes before they are logged, so the log never holds a
 * command Redis would refuse for its shape. A request is matched against its
 * command's grammar (src/command/grammar.ts, from `COMMAND DOCS`) by a
 * Thompson NFA that follows every way of reading the arguments at once — the
 * backtracking that optional and repeated arguments need, in time linear in
 * the number of arguments and without recursion. The commands with expiries
 * are checked by mirrors of Redis's own parsers instead (src/command/options.ts),
 * which also give Redis's exact error texts.
 *
 * The rule: never refuse what Redis accepts. Where the docs are ambiguous the
 * grammar is loosened; what slips through is refused by Redis when the op is
 * applied, the same way on every rack.
 */

import {
  isBitfieldType,
  isBitOffset,
  isFloat,
  isInt64,
  isLexBound,
  isScoreBound,
  isStreamId,
  isWord,
  parseInt64,
} from "./bytes.ts";
import {
  type ArgCheck,
  commandPattern,
  type Form,
  keyCountLayout,
  type Pattern,
} from "./grammar.ts";
import { arityAccepts } from "./route.ts";
import {
  expireTime,
  expiryError,
  type ExpiryUnit,
  expiryValue,
  NOT_A_FLOAT,
  NOT_AN_INTEGER,
  parseExpireFlags,
  parseRestoreOptions,
  parseStringOptions,
  restoreTtl,
  SYNTAX_ERROR,
} from "./options.ts";
import type { CommandSpec } from "./types.ts";

// --- The NFA -------------------------------------------------------------------

/** Instructions: consume one argument that passes a check, fork, jump, accept. */
const ARG = 0;
const SPLIT = 1;
const JUMP = 2;
const MATCH = 3;

/** A compiled grammar: parallel arrays indexed by instruction. */
interface Program {
  readonly ops: Uint8Array;
  /** SPLIT/JUMP: the first target. */
  readonly first: Int32Array;
  /** SPLIT: the second target. */
  readonly second: Int32Array;
  /** ARG: the check. */
  readonly checks: readonly (ArgCheck | undefined)[];
  /** Working memory of match(), reused by every call (match() never yields, so never shared). */
  readonly scratch: Scratch;
}

/** match()'s buffers: two thread lists, a closure stack, and per-instruction marks. */
interface Scratch {
  readonly marks: Int32Array;
  readonly stack: Int32Array;
  current: StateSet;
  next: StateSet;
  /** Marks equal to it were set in this step; it only grows (reset before it overflows). */
  generation: number;
}

/** Generations after which the marks are cleared rather than risk wrapping. */
const GENERATION_MAX = 2 ** 30;

/** Compiles a pattern to NFA instructions (Thompson's construction). */
export function compile(pattern: Pattern): Program {
  const ops: number[] = [];
  const first: number[] = [];
  const second: number[] = [];
  const checks: (ArgCheck | undefined)[] = [];
  const emit = (op: number, a = -1, b = -1, check?: ArgCheck): number => {
    ops.push(op);
    first.push(a);
    second.push(b);
    checks.push(check);
    return ops.length - 1;
  };
  const emitPattern = (p: Pattern): void => {
    switch (p.kind) {
      case "arg":
        emit(ARG, -1, -1, p.check);
        return;
      case "seq":
        for (const item of p.items) emitPattern(item);
        return;
      case "alt": {
        // split L1, next; L1: a; jump end; next: split L2, next2; ...; last: z; end:
        const jumps: number[] = [];
        p.options.forEach((option, i) => {
          const last = i === p.options.length - 1;
          const split = last ? -1 : emit(SPLIT);
          if (split >= 0) first[split] = ops.length;
          emitPattern(option);
          if (!last) {
            jumps.push(emit(JUMP));
            second[split] = ops.length;
          }
        });
        for (const jump of jumps) first[jump] = ops.length;
        return;
      }
      case "optional": {
        const split = emit(SPLIT, -1, -1);
        first[split] = ops.length;
        emitPattern(p.item);
        second[split] = ops.length;
        return;
      }
      case "repeat": {
        if (p.min === 0) {
          const split = emit(SPLIT);
          first[split] = ops.length;
          emitPattern(p.item);
          emit(JUMP, split);
          second[split] = ops.length;
        } else {
          const start = ops.length;
          emitPattern(p.item);
          emit(SPLIT, start, ops.length + 1);
        }
        return;
      }
    }
  };
  emitPattern(pattern);
  emit(MATCH);
  const size = ops.length;
  return {
    ops: Uint8Array.from(ops),
    first: Int32Array.from(first),
    second: Int32Array.from(second),
    checks,
    scratch: {
      marks: new Int32Array(size).fill(-1),
      stack: new Int32Array(size),
      current: new StateSet(size),
      next: new StateSet(size),
      generation: 0,
    },
  };
}

function passesForm(form: Form, arg: Uint8Array): boolean {
  switch (form) {
    case "stream-id":
      return isStreamId(arg) || isLexEnd(arg);
    case "score-bound":
      return isScoreBound(arg);
    case "lex-bound":
      return isLexBound(arg);
    case "bitfield-type":
      return isBitfieldType(arg);
    case "bitfield-offset":
      return isBitOffset(arg, true);
    case "bit-offset":
      return isBitOffset(arg, false);
    case "bit":
      return arg.length === 1 && (arg[0] === 0x30 || arg[0] === 0x31);
  }
}

/** `-` or `+` alone: the smallest and largest stream ids, where Redis's parser allows them. */
function isLexEnd(arg: Uint8Array): boolean {
  return (arg[0] === 0x2d || arg[0] === 0x2b) && (arg.length === 1 || arg[1] === 0);
}

function passes(check: ArgCheck, arg: Uint8Array): boolean {
  switch (check.kind) {
    case "any":
      return true;
    case "token":
      return isWord(arg, check.word);
    case "integer":
      return isInt64(arg);
    case "double":
      return isFloat(arg);
    case "form":
      return passesForm(check.form, arg);
  }
}

/** Where a match failed: the argument index (argv.length when arguments ran out) and what could have come. */
export interface Mismatch {
  readonly at: number;
  readonly expected: readonly ArgCheck[];
}

/** One thread list of the simulation: the ARG and MATCH instructions alive at an argument. */
class StateSet {
  readonly pcs: Int32Array;
  size = 0;
  constructor(capacity: number) {
    this.pcs = new Int32Array(capacity);
  }
}

/**
 * Runs the NFA over `argv[start..]`: `undefined` when some reading of the
 * arguments reaches the end of the grammar, else where every reading failed.
 */
export function match(
  program: Program,
  argv: readonly Uint8Array[],
  start: number,
): Mismatch | undefined {
  const scratch = program.scratch;
  const { marks, stack } = scratch;
  if (scratch.generation > GENERATION_MAX) {
    marks.fill(-1);
    scratch.generation = 0;
  }
  let generation = ++scratch.generation;
  let current = scratch.current;
  let next = scratch.next;
  current.size = 0;

  // Adds pc and everything reachable from it without consuming an argument.
  // Instructions are marked when pushed, so each enters the stack (and the
  // set) at most once a step: neither outgrows the program.
  const addClosure = (set: StateSet, pc: number): void => {
    let top = 0;
    const push = (at: number) => {
      if (marks[at] === generation) return;
      marks[at] = generation;
      stack[top++] = at;
    };
    push(pc);
    while (top > 0) {
      const at = stack[--top]!;
      const op = program.ops[at]!;
      if (op === JUMP) {
        push(program.first[at]!);
      } else if (op === SPLIT) {
        push(program.second[at]!);
        push(program.first[at]!);
      } else {
        set.pcs[set.size++] = at;
      }
    }
  };

  addClosure(current, 0);
  for (let i = start; i < argv.length; i++) {
    const arg = argv[i]!;
    generation = ++scratch.generation;
    next.size = 0;
    for (let k = 0; k < current.size; k++) {
      const pc = current.pcs[k]!;
      if (program.ops[pc] === ARG && passes(program.checks[pc]!, arg)) addClosure(next, pc + 1);
    }
    if (next.size === 0) return { at: i, expected: expectedChecks(program, current) };
    [current, next] = [next, current];
  }
  for (let k = 0; k < current.size; k++) {
    if (program.ops[current.pcs[k]!] === MATCH) return undefined;
  }
  return { at: argv.length, expected: expectedChecks(program, current) };
}

function expectedChecks(program: Program, set: StateSet): ArgCheck[] {
  const checks: ArgCheck[] = [];
  for (let k = 0; k < set.size; k++) {
    const check = program.checks[set.pcs[k]!];
    if (check !== undefined) checks.push(check);
  }
  return checks;
}

/** Redis's error for an argument that is not of a form. */
const FORM_ERRORS: Readonly<Record<Form, string>> = {
  "stream-id": "ERR Invalid stream ID specified as stream command argument",
  "score-bound": "ERR min or max is not a float",
  "lex-bound": "ERR min or max not valid string range item",
  "bitfield-type":
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
  "bitfield-offset": "ERR bit offset is not an integer or out of range",
  "bit-offset": "ERR bit offset is not an integer or out of range",
  "bit": "ERR bit is not an integer or out of range",
};

/**
 * The error Redis most likely gives for a mismatch: where a number or a form
 * was due (and no token fits), its error; else `ERR syntax error`.
 */
export function mismatchMessage(mismatch: Mismatch, argc: number): string {
  if (mismatch.at < argc) {
    for (const check of mismatch.expected) {
      if (check.kind === "integer") return NOT_AN_INTEGER;
      if (check.kind === "double") return NOT_A_FLOAT;
      if (check.kind === "form") return FORM_ERRORS[check.form];
    }
  }
  return SYNTAX_ERROR;
}

// --- Mirrors of Redis's parsers --------------------------------------------------

/** A check that mirrors Redis's own parser for a command: the error text, or `undefined`. */
type Validator = (argv: readonly Uint8Array[], name: string) => string | undefined;

function checkSet(argv: readonly Uint8Array[], name: string): string | undefined {
  const options = parseStringOptions(argv, "set");
  if (options === undefined) return SYNTAX_ERROR;
  if (options.expiry === undefined) return undefined;
  const unit: ExpiryUnit = options.expiry === "ex" || options.expiry === "exat" ? "s" : "ms";
  const value = expiryValue(argv[options.expiryAt]!, unit);
  return "error" in value ? expiryError(value.error, name) : undefined;
}

/** GETEX: only the options' shape; Redis reads the expiry after looking the key up (nil if missing). */
function checkGetex(argv: readonly Uint8Array[]): string | undefined {
  return parseStringOptions(argv, "getex") === undefined ? SYNTAX_ERROR : undefined;
}

function checkSetex(unit: ExpiryUnit): Validator {
  return (argv, name) => {
    const value = expiryValue(argv[2]!, unit);
    return "error" in value ? expiryError(value.error, name) : undefined;
  };
}

function checkExpire(unit: ExpiryUnit): Validator {
  return (argv, name) => {
    const flags = parseExpireFlags(argv);
    if ("error" in flags) return flags.error;
    const time = expireTime(argv[2]!, unit);
    return "error" in time ? expiryError(time.error, name) : undefined;
  };
}

/** RESTORE: its options, then its TTL (Redis may say BUSYKEY first; it refuses either way). */
function checkRestore(argv: readonly Uint8Array[]): string | undefined {
  const options = parseRestoreOptions(argv);
  if ("error" in options) return options.error;
  const ttl = restoreTtl(argv[2]!);
  return typeof ttl === "bigint" ? undefined : ttl.error;
}

/** Commands checked by a mirror of Redis's parser rather than by their grammar. */
const VALIDATORS: ReadonlyMap<string, Validator> = new Map<string, Validator>([
  ["set", checkSet],
  ["getex", checkGetex],
  ["setex", checkSetex("s")],
  ["psetex", checkSetex("ms")],
  ["expire", checkExpire("s")],
  ["pexpire", checkExpire("ms")],
  ["expireat", checkExpire("s")],
  ["pexpireat", checkExpire("ms")],
  ["restore", checkRestore],
]);

/** Whether a command is checked by a mirror of Redis's own parser (exact, with Redis's texts). */
export function hasParserMirror(command: CommandSpec): boolean {
  return VALIDATORS.has(command.name);
}

// --- checkSyntax -------------------------------------------------------------------

/** A command's compiled grammar, and where its `numkeys` is if it has one. */
interface Plan {
  readonly program: Program;
  readonly numkeysAt: number | undefined;
}

const plans = new WeakMap<CommandSpec, Plan>();

function planFor(command: CommandSpec): Plan {
  let plan = plans.get(command);
  if (plan === undefined) {
    const layout = keyCountLayout(command);
    plan = layout === undefined
      ? { program: compile(commandPattern(command)), numkeysAt: undefined }
      : { program: compile(layout.pattern), numkeysAt: layout.numkeysAt };
    plans.set(command, plan);
  }
  return plan;
}

/** Commands that word a `numkeys` below 1 their own way. */
const INPUT_KEY_NEEDED: ReadonlySet<string> = new Set([
  "zunionstore",
  "zinterstore",
  "zdiffstore",
  "zunion",
  "zinter",
  "zdiff",
]);

/** Reads `numkeys` as Redis does, and takes the keys it counts out of argv (or says why Redis refuses). */
function countKeysOut(
  command: CommandSpec,
  argv: Uint8Array[],
  numkeysAt: number,
): Uint8Array[] | string {
  const count = parseInt64(argv[numkeysAt]!);
  if (count === undefined) return NOT_AN_INTEGER;
  if (count < 1n) {
    return INPUT_KEY_NEEDED.has(command.name)
      ? `ERR at least 1 input key is needed for '${command.name}' command`
      : "ERR numkeys should be greater than 0";
  }
  if (count > BigInt(argv.length - numkeysAt - 1)) return SYNTAX_ERROR;
  return argv.toSpliced(numkeysAt + 1, Number(count));
}

/**
 * Checks a request's arguments (argv[0] is the command name, argv[1] the
 * subcommand's for subcommands) against the command's documented grammar:
 * `undefined` when they fit, else the error in Redis's words (`ERR syntax
 * error`, `ERR value is not an integer or out of range`, ...). It never
 * refuses what Redis accepts; some requests it lets through Redis refuses when
 * applying them (see src/command/grammar.ts).
 */
export function checkSyntax(command: CommandSpec, argv: Uint8Array[]): string | undefined {
  if (!arityAccepts(command.arity, argv.length)) {
    return `ERR wrong number of arguments for '${command.name}' command`;
  }
  const validator = VALIDATORS.get(command.name);
  if (validator !== undefined) return validator(argv, command.name);
  const start = command.container === undefined ? 1 : 2;
  const plan = planFor(command);
  let args = argv;
  if (plan.numkeysAt !== undefined) {
    const counted = countKeysOut(command, argv, plan.numkeysAt);
    if (typeof counted === "string") return counted;
    args = counted;
  }
  const mismatch = match(plan.program, args, start);
  return mismatch === undefined ? undefined : mismatchMessage(mismatch, args.length);
}
