/**
 * Lua 5.1's lexer, as Redis's Lua reads a script, reduced to what the script
 * budget needs (script_budget.ts): where each token starts and ends, and
 * which tokens are names, keywords and brackets. Comments and whitespace are
 * skipped; strings, long strings (`[==[ ... ]==]`) and numbers are single
 * tokens, so a `do` inside a string or a comment is never taken for the
 * keyword.
 *
 * Works on bytes (a script is binary-safe) and follows llex.c: a byte above
 * 127 is not a letter (Redis runs Lua in the C locale), a number runs on
 * through letters and `_` (`0x1F`, `1e5`), and `--[[` opens a long comment only
 * with a valid long bracket. Input Lua would refuse (an unfinished string)
 * is read leniently to its end: the budget only instruments code Redis has
 * compiled, and anything else is refused by Redis itself.
 */

/** What a token is. `op`: an operator or punctuation (`==`, `(`, `...`). */
export type TokenKind = "name" | "keyword" | "number" | "string" | "op";

/** One token: its kind, its bytes `[start, end)`, and its text for names, keywords and ops. */
export interface Token {
  kind: TokenKind;
  start: number;
  end: number;
  /** The token's text for names, keywords and operators; empty for numbers and strings. */
  text: string;
}

/** Lua 5.1's reserved words. */
export const KEYWORDS: ReadonlySet<string> = new Set([
  "and",
  "break",
  "do",
  "else",
  "elseif",
  "end",
  "false",
  "for",
  "function",
  "if",
  "in",
  "local",
  "nil",
  "not",
  "or",
  "repeat",
  "return",
  "then",
  "true",
  "until",
  "while",
]);

const LF = 0x0a;
const CR = 0x0d;
const DASH = 0x2d;
const OPEN_SQUARE = 0x5b;
const CLOSE_SQUARE = 0x5d;
const EQUALS = 0x3d;
const DOT = 0x2e;
const BACKSLASH = 0x5c;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isAlpha(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
}

function isAlnum(c: number): boolean {
  return isAlpha(c) || isDigit(c);
}

function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** `=` signs of a long bracket opening at `at` (`[`), or -1 when it is not one (`[` alone, `[=x`). */
function longBracketLevel(source: Uint8Array, at: number): number {
  let i = at + 1;
  while (source[i] === EQUALS) i++;
  return source[i] === OPEN_SQUARE ? i - at - 1 : -1;
}

/** The offset after the long bracket of `level` that opens at `at` is closed (or the end). */
function skipLongBracket(source: Uint8Array, at: number, level: number): number {
  let i = at + level + 2;
  while (i < source.length) {
    if (source[i] === CLOSE_SQUARE) {
      let j = i + 1;
      while (source[j] === EQUALS) j++;
      if (source[j] === CLOSE_SQUARE && j - i - 1 === level) return j + 1;
      i = j;
    } else {
      i++;
    }
  }
  return source.length;
}

const decoder = new TextDecoder();
const THREE_CHAR_OPS = new Set(["..."]);
const TWO_CHAR_OPS = new Set(["==", "~=", "<=", ">=", ".."]);

/** The tokens of Lua source `source`, in order. */
export function luaTokens(source: Uint8Array): Token[] {
  const tokens: Token[] = [];
  const n = source.length;
  let i = 0;
  const push = (kind: TokenKind, start: number, end: number, text = "") => {
    tokens.push({ kind, start, end, text });
  };
  while (i < n) {
    const c = source[i]!;
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (c === DASH && source[i + 1] === DASH) {
      // A comment: long when `--` is followed by a valid long bracket, else to the line's end.
      const level = source[i + 2] === OPEN_SQUARE ? longBracketLevel(source, i + 2) : -1;
      if (level >= 0) {
        i = skipLongBracket(source, i + 2, level);
      } else {
        i += 2;
        while (i < n && source[i] !== LF && source[i] !== CR) i++;
      }
      continue;
    }
    if (c === OPEN_SQUARE) {
      const level = longBracketLevel(source, i);
      if (level >= 0) {
        const end = skipLongBracket(source, i, level);
        push("string", i, end);
        i = end;
      } else {
        push("op", i, i + 1, "[");
        i++;
      }
      continue;
    }
    if (c === 0x22 || c === 0x27) {
      // A quoted string: a backslash escapes the next byte (a newline included).
      let j = i + 1;
      while (j < n && source[j] !== c) {
        if (source[j] === BACKSLASH) {
          // An escaped line end may be a CR LF or LF CR pair, as llex.c's inclinenumber reads it.
          const next = source[j + 1];
          const pair = (next === LF && source[j + 2] === CR) ||
            (next === CR && source[j + 2] === LF);
          j += pair ? 3 : 2;
          continue;
        }
        if (source[j] === LF || source[j] === CR) break;
        j++;
      }
      const end = j < n && source[j] === c ? j + 1 : Math.min(j, n);
      push("string", i, end);
      i = end;
      continue;
    }
    if (isDigit(c) || (c === DOT && isDigit(source[i + 1] ?? 0))) {
      // llex.c's read_numeral: digits and dots, an exponent's sign, then letters, digits and `_`.
      let j = i;
      while (j < n && (isDigit(source[j]!) || source[j] === DOT)) j++;
      if (source[j] === 0x45 || source[j] === 0x65) {
        j++;
        if (source[j] === 0x2b || source[j] === DASH) j++;
      }
      while (j < n && isAlnum(source[j]!)) j++;
      push("number", i, j);
      i = j;
      continue;
    }
    if (isAlpha(c)) {
      let j = i + 1;
      while (j < n && isAlnum(source[j]!)) j++;
      const text = decoder.decode(source.subarray(i, j));
      push(KEYWORDS.has(text) ? "keyword" : "name", i, j, text);
      i = j;
      continue;
    }
    const three = String.fromCharCode(c, source[i + 1] ?? 0, source[i + 2] ?? 0);
    if (THREE_CHAR_OPS.has(three)) {
      push("op", i, i + 3, three);
      i += 3;
      continue;
    }
    const two = three.slice(0, 2);
    if (TWO_CHAR_OPS.has(two)) {
      push("op", i, i + 2, two);
      i += 2;
      continue;
    }
    push("op", i, i + 1, String.fromCharCode(c));
    i++;
  }
  return tokens;
}
