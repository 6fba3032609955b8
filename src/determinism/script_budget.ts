/**
 * The script budget: no script or function applied as an op runs for ever,
 * and every rack stops an overrunning one at the same point.
 *
 * Why not a clock: every rack runs an op's script on its own Redis, and
 * stopping it by wall clock would stop it at different points on a fast and
 * a slow rack (one completes and writes, the other does not), and Redis
 * cannot kill a script that wrote. Redis's Lua has no `debug` library, so no
 * instruction hook either. So the budget is counted in the script's own
 * source: before a body is loaded, {@linkcode instrument} inserts a step
 * charge at the start of every loop body (after `do` of `while` and `for`,
 * after `repeat`) and of every function body (after its parameter list):
 *
 * ```
 * while true do __pylon_steps = __pylon_steps - 4 if __pylon_steps < 0 then __pylon_stop(__pylon_why) end end
 * ```
 *
 * Each charge is the number of tokens of the loop or function it guards
 * (its header and until-condition included), leaving out the loops and
 * functions nested in it, which charge for themselves: every token a script
 * executes is paid for by the charge of the innermost loop or function
 * holding it, once per iteration or call, so straight-line code inside a loop
 * costs in proportion to its length. The wrapper (wrapper_lua.ts) charges
 * each `redis.call`/`redis.pcall` {@linkcode REDIS_CALL_STEPS} plus its
 * arguments and the length of a table it returns. Counts of source events
 * are the same on every rack, so the script stops at the same step
 * everywhere: writes it made before stay (as after any script error, Redis
 * has no rollback), and the op's reply is the same error on every rack.
 *
 * The counter is a local of the prologue, `__pylon_steps`, which no script
 * can reach or shadow: code naming anything that begins with `__pylon` is
 * refused ({@linkcode reservedName}). Once the budget is spent, every further
 * charge raises again, and the prologue's `pcall`, `xpcall` and
 * `coroutine.resume` re-raise it, so a script cannot catch it and go on; the
 * code `loadstring` and `load` would make runs outside the budget, so they
 * are refused.
 *
 * The budget an op runs with travels in the op (`Op.scriptBudgetSteps`): the
 * accepting node turns its `--script-time-max-ms` into steps at the fixed
 * rate {@linkcode STEPS_PER_MS}, so every rack uses the same number whatever
 * its own settings. The rate is a choice, not a measurement of each machine.
 * Measured as Redis's CPU time on the 2-core test machine (README, script
 * budget), loops run 400,000 to 1,000,000 steps per ms of pure Lua, 200,000
 * to 370,000 calling Redis, and 50,000 to 80,000 when each iteration calls a
 * C function that does some work (`string.format`, `cjson.encode`, an
 * `HGETALL` the wrapper sorts). The constant is the slowest of those,
 * rounded down: no loop measured there runs past its budget, and a tight Lua
 * loop stops after a tenth to a fifth of it.
 *
 * What the budget does not bound: time spent inside one C function (Lua's or
 * Redis's) grows with the size of what it works on, not with steps: a huge
 * `string.rep`, a pattern that backtracks (`string.find` with `.-` over a long
 * string), string functions over a value made huge, `KEYS` on a big db. Those
 * end on their own (the same way on every rack); the applier's wall-clock
 * watch (src/applier/applier.ts) makes a rack whose op runs well past its
 * budget visible, and Pylon does not SCRIPT KILL it (README, script budget).
 */

import { optionDefault } from "../config/options.ts";
import { luaTokens, type Token } from "./lua_tokens.ts";

/** Steps per millisecond of `--script-time-max-ms` (see the header for how it was chosen). */
export const STEPS_PER_MS = 50_000;

/**
 * What a call in the code costs besides its tokens: a call of a C function
 * (`string.format`, `cjson.encode`, `table.concat`) takes about a
 * microsecond, a hundred times a token's work; a call of a Lua function also
 * pays its body's charge.
 */
export const CALL_SITE_STEPS = 20;

/**
 * What one `redis.call` or `redis.pcall` costs besides its arguments (one
 * step each): the wrapper's work around it is several microseconds.
 */
export const REDIS_CALL_STEPS = 800;

/** What each element of a table a `redis.call` returns costs (the wrapper may sort them). */
export const REPLY_ELEMENT_STEPS = 50;

/** `--script-time-max-ms` when none is set. */
export const SCRIPT_TIME_MAX_MS_DEFAULT = optionDefault("script-time-max-ms");

/** The budget of steps for `ms` milliseconds. */
export function budgetSteps(ms: number): number {
  return Math.round(ms * STEPS_PER_MS);
}

/** The budget of an op logged without one (by a node older than the budget). */
export const DEFAULT_BUDGET_STEPS = budgetSteps(SCRIPT_TIME_MAX_MS_DEFAULT);

/**
 * The budget of a function library's own code while FUNCTION LOAD runs it
 * (its top level, not its functions): well under Redis's own 500 ms load
 * timeout, which is a wall clock and would end a slow load on one rack only.
 */
export const LIBRARY_LOAD_STEPS = budgetSteps(50);

/** Names a script may not use: the counter and the stop live under them. */
export const RESERVED_PREFIX = "__pylon";

/** The prologue's counter of steps left. */
export const STEPS_NAME = "__pylon_steps";
/**
 * The prologue's function that raises the budget error: Lua's `error`, a C
 * function, so Redis names the line of the charge that raised it.
 */
export const STOP_NAME = "__pylon_stop";
/** The prologue's budget error (a table `{ err = ... }`), what the stop raises. */
export const WHY_NAME = "__pylon_why";

/** The charge inserted at the start of a loop or function body; spaces keep tokens apart. */
function charge(steps: number): string {
  return ` ${STEPS_NAME} = ${STEPS_NAME} - ${steps} if ${STEPS_NAME} < 0 then ` +
    `${STOP_NAME}(${WHY_NAME}) end `;
}

const CHARGE_PATTERN = new RegExp(
  `^ ${STEPS_NAME} = ${STEPS_NAME} - [0-9]+ if ${STEPS_NAME} < 0 then ` +
    `${STOP_NAME}\\(${WHY_NAME}\\) end `,
);
/** The longest charge text (a weight of up to 16 digits). */
const CHARGE_BYTES_MAX = charge(10 ** 15).length;

/** Where the Lua code of `source` starts: after a `#!` shebang line, which Redis reads itself. */
function codeStart(source: Uint8Array): number {
  if (source[0] !== 0x23 || source[1] !== 0x21) return 0;
  const end = source.indexOf(0x0a);
  return end < 0 ? source.length : end + 1;
}

/**
 * The first name in `source` (Lua code, after a shebang line) that begins
 * with {@linkcode RESERVED_PREFIX}, or undefined. Strings and comments may
 * hold anything. Cheap for code that never mentions the prefix.
 */
export function reservedName(source: Uint8Array): string | undefined {
  if (!containsPrefix(source)) return undefined;
  const start = codeStart(source);
  for (const token of luaTokens(source.subarray(start))) {
    if (token.kind === "name" && token.text.startsWith(RESERVED_PREFIX)) return token.text;
  }
  return undefined;
}

const PREFIX_BYTES = new TextEncoder().encode(RESERVED_PREFIX);

function containsPrefix(source: Uint8Array): boolean {
  let at = source.indexOf(PREFIX_BYTES[0]!);
  while (at >= 0 && at + PREFIX_BYTES.length <= source.length) {
    let same = true;
    for (let i = 1; i < PREFIX_BYTES.length && same; i++) {
      same = source[at + i] === PREFIX_BYTES[i];
    }
    if (same) return true;
    at = source.indexOf(PREFIX_BYTES[0]!, at + 1);
  }
  return false;
}

/** The refusal of code that names a reserved name (the `-ERR` text without its `-`). */
export function reservedNameRefusal(name: string): string {
  return `ERR Pylon refuses this script: the name '${name}' is reserved for Pylon's script ` +
    `budget (names beginning with '${RESERVED_PREFIX}'); rename it`;
}

/** Code with its charges inserted, or why it cannot run under the budget. */
export type Instrumented = { code: Uint8Array } | { refusal: string };

/** A loop or function body: its tokens `[start, end]` and the token its charge follows. */
interface Region {
  start: number;
  end: number;
  after: number;
  /** Tokens of nested regions, each counted as one token here. */
  nested: number;
}

const OPENERS = new Set(["(", "[", "{", "function", "do", "if", "repeat"]);
const CLOSERS: Record<string, string> = { ")": "(", "]": "[", "}": "{", "end": "", "until": "" };
const BINARY = new Set([
  "+",
  "-",
  "*",
  "/",
  "%",
  "^",
  "..",
  "==",
  "~=",
  "<",
  "<=",
  ">",
  ">=",
  "and",
  "or",
]);
const UNARY = new Set(["not", "-", "#"]);
const ATOMS = new Set(["nil", "true", "false", "..."]);

/** An opener or closer's text (brackets are ops, blocks keywords); "" for any other token. */
function structural(token: Token): string {
  return token.kind === "op" || token.kind === "keyword" ? token.text : "";
}

/** For each opener the index of its closer, and the reverse; -1 where there is none. */
function matches(tokens: readonly Token[]): Int32Array {
  const match = new Int32Array(tokens.length).fill(-1);
  const open: number[] = [];
  tokens.forEach((token, i) => {
    const text = structural(token);
    if (OPENERS.has(text)) {
      open.push(i);
      return;
    }
    const opener = CLOSERS[text];
    if (opener === undefined) return;
    // Lenient on code Lua would refuse: a closer pairs with the innermost opener.
    const j = open.pop();
    if (j === undefined) return;
    match[i] = j;
    match[j] = i;
  });
  return match;
}

/** The index after the expression that starts at token `k` (an `until` condition). */
function expressionEnd(tokens: readonly Token[], match: Int32Array, k: number): number {
  const n = tokens.length;
  const past = (j: number) => (match[j]! > j ? match[j]! + 1 : n);
  let operand = true;
  while (k < n) {
    const token = tokens[k]!;
    const text = structural(token);
    if (operand) {
      if (UNARY.has(text)) {
        k++;
      } else if (text === "(" || text === "{" || text === "function") {
        k = past(k);
        operand = false;
      } else if (
        token.kind === "name" || token.kind === "number" || token.kind === "string" ||
        ATOMS.has(text)
      ) {
        k++;
        operand = false;
      } else {
        return k;
      }
    } else if (BINARY.has(text)) {
      k++;
      operand = true;
    } else if (text === "." || text === ":") {
      k += 2;
    } else if (text === "[" || text === "(" || text === "{") {
      k = past(k);
    } else if (token.kind === "string") {
      k++;
    } else {
      return k;
    }
  }
  return n;
}

/** Every loop and function body of `tokens`, in order of their start. */
function regions(tokens: readonly Token[], match: Int32Array): Region[] {
  const found: Region[] = [];
  const n = tokens.length;
  for (let i = 0; i < n; i++) {
    const token = tokens[i]!;
    if (token.kind !== "keyword") continue;
    if (token.text === "function") {
      // The charge follows the parameter list: `function a.b:c(x, ...)`.
      let j = i + 1;
      while (j < n && structural(tokens[j]!) !== "(") j++;
      const close = j < n ? match[j]! : -1;
      if (close > j && match[i]! > i) {
        found.push({ start: i, end: match[i]!, after: close, nested: 0 });
      }
    } else if (token.text === "while" || token.text === "for") {
      // Its `do`: the first at this level (a header may hold brackets and function bodies).
      let j = i + 1;
      while (j < n && !(tokens[j]!.kind === "keyword" && tokens[j]!.text === "do")) {
        const text = structural(tokens[j]!);
        j = (text === "(" || text === "[" || text === "{" || text === "function") &&
            match[j]! > j
          ? match[j]! + 1
          : j + 1;
      }
      if (j < n && match[j]! > j) found.push({ start: i, end: match[j]!, after: j, nested: 0 });
    } else if (token.text === "repeat") {
      const until = match[i]!;
      if (until > i) {
        const end = expressionEnd(tokens, match, until + 1) - 1;
        found.push({ start: i, end: Math.max(end, until), after: i, nested: 0 });
      }
    }
  }
  return found;
}

/**
 * `source` (a script body or a library's code, a `#!` first line kept as it
 * is) with a step charge at the start of every loop and function body, on
 * the same lines (Redis's error messages keep their line numbers); or the
 * refusal of code that names a reserved name. Meant for code Redis compiles:
 * other code comes out in some shape Redis then refuses.
 */
export function instrument(source: Uint8Array): Instrumented {
  const start = codeStart(source);
  const code = source.subarray(start);
  const tokens = luaTokens(code);
  for (const token of tokens) {
    if (token.kind === "name" && token.text.startsWith(RESERVED_PREFIX)) {
      return { refusal: reservedNameRefusal(token.text) };
    }
  }
  const match = matches(tokens);
  const found = regions(tokens, match);
  // Steps of tokens [0, i): one a token, CALL_SITE_STEPS more at a call.
  const upTo = new Float64Array(tokens.length + 1);
  const parameters = new Set(found.map((r) => match[r.after]!));
  tokens.forEach((_, i) => {
    const call = !parameters.has(i) && isCall(tokens, i);
    upTo[i + 1] = upTo[i]! + 1 + (call ? CALL_SITE_STEPS : 0);
  });
  const total = (r: Region) => upTo[r.end + 1]! - upTo[r.start]!;
  // Own steps: a nested region counts as one token of its parent, which it is enclosed by.
  const open: Region[] = [];
  for (const region of found) {
    while (open.length > 0 && open[open.length - 1]!.end < region.start) open.pop();
    const parent = open[open.length - 1];
    if (parent !== undefined) parent.nested += total(region) - 1;
    open.push(region);
  }
  const inserts = found
    .map((r) => ({
      at: start + tokens[r.after]!.end,
      text: charge(Math.max(1, total(r) - r.nested)),
    }))
    .sort((a, b) => a.at - b.at);
  const encoder = new TextEncoder();
  const parts = inserts.map((insert) => encoder.encode(insert.text));
  const out = new Uint8Array(source.length + parts.reduce((sum, p) => sum + p.length, 0));
  let from = 0;
  let to = 0;
  inserts.forEach((insert, i) => {
    out.set(source.subarray(from, insert.at), to);
    to += insert.at - from;
    out.set(parts[i]!, to);
    to += parts[i]!.length;
    from = insert.at;
  });
  out.set(source.subarray(from), to);
  return { code: out };
}

/**
 * Whether token `i` makes a call: `(`, a string or `{` right after what ends
 * an expression (a name, a closing bracket, a string), as in `f(x)`,
 * `s:upper()`, `f 'x'`, `f {}`.
 */
function isCall(tokens: readonly Token[], i: number): boolean {
  const token = tokens[i]!;
  const previous = tokens[i - 1];
  if (previous === undefined) return false;
  const opens = token.kind === "string" ||
    (token.kind === "op" && (token.text === "(" || token.text === "{"));
  if (!opens) return false;
  return previous.kind === "name" || previous.kind === "string" ||
    (previous.kind === "op" && (previous.text === ")" || previous.text === "]"));
}

/**
 * Code as it was before {@linkcode instrument}: every charge it inserted
 * removed. Charges are found as tokens (a name under the reserved prefix,
 * which client code cannot hold), so text that looks like one inside a
 * string or a comment stays.
 */
export function uninstrument(code: Uint8Array): Uint8Array {
  if (!containsPrefix(code)) return code;
  const start = codeStart(code);
  const tokens = luaTokens(code.subarray(start));
  const cuts: [number, number][] = [];
  let after = 0;
  for (const token of tokens) {
    const at = start + token.start - 1;
    if (at < after || token.kind !== "name" || token.text !== STEPS_NAME) continue;
    const window = code.subarray(at, at + CHARGE_BYTES_MAX);
    const found = CHARGE_PATTERN.exec(String.fromCharCode(...window));
    if (found === null) continue;
    cuts.push([at, at + found[0].length]);
    after = at + found[0].length;
  }
  if (cuts.length === 0) return code;
  const parts: Uint8Array[] = [];
  let from = 0;
  for (const [cutStart, cutEnd] of cuts) {
    parts.push(code.subarray(from, cutStart));
    from = cutEnd;
  }
  parts.push(code.subarray(from));
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let to = 0;
  for (const part of parts) {
    out.set(part, to);
    to += part.length;
  }
  return out;
}
