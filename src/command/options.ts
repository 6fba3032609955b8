/**
 * Redis 7.0's own option parsers for the commands with expiries (SET, GETEX,
 * SETEX, PSETEX, the EXPIRE family, RESTORE), step for step, so that Pylon
 * knows exactly when Redis would accept them: the write path refuses what
 * Redis always refuses, and rewrites relative expiries only when the original
 * was valid.
 */

import { INT64_MAX, INT64_MIN, isWord, parseInt64 } from "./bytes.ts";

/** `ERR syntax error`, Redis's `shared.syntaxerr`. */
export const SYNTAX_ERROR = "ERR syntax error";
/** What Redis's `getLongLongFromObjectOrReply` answers. */
export const NOT_AN_INTEGER = "ERR value is not an integer or out of range";
/** What Redis's `getDoubleFromObjectOrReply` answers. */
export const NOT_A_FLOAT = "ERR value is not a valid float";

/** Redis's `addReplyErrorExpireTime` text for a command (lowercase full name). */
export function invalidExpireTime(name: string): string {
  return `ERR invalid expire time in '${name}' command`;
}

/** The unit of an expiry argument. */
export type ExpiryUnit = "s" | "ms";

/** Which expiry option SET or GETEX was given. */
export type ExpiryOption = "ex" | "px" | "exat" | "pxat";

/** SET's or GETEX's options, as Redis's `parseExtendedStringArgumentsOrReply` reads them. */
export interface StringOptions {
  readonly nx: boolean;
  readonly xx: boolean;
  readonly get: boolean;
  readonly keepttl: boolean;
  readonly persist: boolean;
  /** The expiry option given; when repeated (`EX 1 EX 2`), the last one counts. */
  readonly expiry: ExpiryOption | undefined;
  /** Index in argv of the expiry that counts (-1 without one). Redis reads no other. */
  readonly expiryAt: number;
  /** Index of every expiry option's token; each is followed by its value. */
  readonly expiryTokens: readonly number[];
}

const EXPIRY_OPTIONS: readonly ExpiryOption[] = ["ex", "px", "exat", "pxat"];

/**
 * Parses SET's options (from argv[3]) or GETEX's (from argv[2]) as Redis
 * does: each option once compatible with those before it, repeats allowed,
 * an expiry option needing a following argument (only the last expiry's
 * value is ever read). `undefined` where Redis answers `ERR syntax error`.
 */
export function parseStringOptions(
  argv: readonly Uint8Array[],
  command: "set" | "getex",
): StringOptions | undefined {
  const isSet = command === "set";
  let nx = false;
  let xx = false;
  let get = false;
  let keepttl = false;
  let persist = false;
  let expiry: ExpiryOption | undefined;
  let expiryAt = -1;
  const expiryTokens: number[] = [];
  for (let j = isSet ? 3 : 2; j < argv.length; j++) {
    const opt = argv[j]!;
    const hasNext = j < argv.length - 1;
    if (isSet && isWord(opt, "nx") && !xx) {
      nx = true;
    } else if (isSet && isWord(opt, "xx") && !nx) {
      xx = true;
    } else if (isSet && isWord(opt, "get")) {
      get = true;
    } else if (isSet && isWord(opt, "keepttl") && !persist && expiry === undefined) {
      keepttl = true;
    } else if (!isSet && isWord(opt, "persist") && expiry === undefined && !keepttl) {
      persist = true;
    } else {
      const option = EXPIRY_OPTIONS.find((word) => isWord(opt, word));
      // The same expiry option may repeat; a different one, KEEPTTL or PERSIST may not.
      const allowed = option !== undefined && !keepttl && !persist &&
        (expiry === undefined || expiry === option) && hasNext;
      if (!allowed) return undefined;
      expiry = option;
      expiryAt = j + 1;
      expiryTokens.push(j);
      j++;
    }
  }
  return { nx, xx, get, keepttl, persist, expiry, expiryAt, expiryTokens };
}

/** An expiry argument checked without the clock: milliseconds as given, or why Redis refuses it. */
export type ExpiryValue =
  | { readonly ms: bigint }
  | { readonly error: "integer" | "invalid" };

const SECONDS_MAX = INT64_MAX / 1000n;
const SECONDS_MIN = INT64_MIN / 1000n;

/**
 * SET/GETEX/SETEX/PSETEX expiries as Redis's `getExpireMillisecondsOrReply`
 * checks them before it adds the clock: a 64-bit integer, positive, and in
 * seconds small enough to multiply by 1000. (Relative expiries that overflow
 * once the clock is added are refused by Redis too: see {@linkcode addClock}.)
 */
export function expiryValue(arg: Uint8Array, unit: ExpiryUnit): ExpiryValue {
  const value = parseInt64(arg);
  if (value === undefined) return { error: "integer" };
  if (value <= 0n || (unit === "s" && value > SECONDS_MAX)) return { error: "invalid" };
  return { ms: unit === "s" ? value * 1000n : value };
}

/** A relative expiry made absolute, or `undefined` where Redis's 64-bit sum would overflow. */
export function addClock(ms: bigint, nowMs: number): bigint | undefined {
  const at = ms + BigInt(nowMs);
  return at > INT64_MAX ? undefined : at;
}

/** The text of an `ExpiryValue` error. */
export function expiryError(error: "integer" | "invalid", name: string): string {
  return error === "integer" ? NOT_AN_INTEGER : invalidExpireTime(name);
}

/** The conditions of EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT. */
export interface ExpireFlags {
  readonly nx: boolean;
  readonly xx: boolean;
  readonly gt: boolean;
  readonly lt: boolean;
}

const decoder = new TextDecoder();

/** An argument quoted in an error as Redis's `%s` does: up to a NUL byte, line breaks made spaces. */
export function quoteArgument(arg: Uint8Array): string {
  const nul = arg.indexOf(0);
  return decoder.decode(nul < 0 ? arg : arg.subarray(0, nul)).replaceAll(/[\r\n]/g, " ");
}

/**
 * The EXPIRE family's conditions (from argv[3]) as Redis's
 * `parseExtendedExpireArgumentsOrReply` reads them: any of NX, XX, GT, LT,
 * repeats allowed, then the incompatible pairs refused. Returns the error text
 * where Redis refuses.
 */
export function parseExpireFlags(argv: readonly Uint8Array[]): ExpireFlags | { error: string } {
  let nx = false;
  let xx = false;
  let gt = false;
  let lt = false;
  for (let j = 3; j < argv.length; j++) {
    const opt = argv[j]!;
    if (isWord(opt, "nx")) nx = true;
    else if (isWord(opt, "xx")) xx = true;
    else if (isWord(opt, "gt")) gt = true;
    else if (isWord(opt, "lt")) lt = true;
    else return { error: `ERR Unsupported option ${quoteArgument(opt)}` };
  }
  if (nx && (xx || gt || lt)) {
    return { error: "ERR NX and XX, GT or LT options at the same time are not compatible" };
  }
  if (gt && lt) return { error: "ERR GT and LT options at the same time are not compatible" };
  return { nx, xx, gt, lt };
}

/**
 * The EXPIRE family's time argument as Redis checks it before adding the
 * clock: a 64-bit integer, and in seconds one that multiplies by 1000. Any
 * sign is valid (a time in the past deletes the key).
 */
export function expireTime(arg: Uint8Array, unit: ExpiryUnit): { ms: bigint } | {
  error: "integer" | "invalid";
} {
  const value = parseInt64(arg);
  if (value === undefined) return { error: "integer" };
  if (unit === "ms") return { ms: value };
  if (value > SECONDS_MAX || value < SECONDS_MIN) return { error: "invalid" };
  return { ms: value * 1000n };
}

/** RESTORE's options, as Redis's `restoreCommand` reads them. */
export interface RestoreOptions {
  readonly replace: boolean;
  readonly absttl: boolean;
  readonly idleTime: bigint | undefined;
  readonly frequency: bigint | undefined;
}

/**
 * RESTORE's options (from argv[4]): REPLACE, ABSTTL, IDLETIME n (n >= 0) or
 * FREQ n (0..255), not both of the last two. Returns the error text where
 * Redis refuses; these checks come before any look at the data.
 */
export function parseRestoreOptions(
  argv: readonly Uint8Array[],
): RestoreOptions | { error: string } {
  let replace = false;
  let absttl = false;
  let idleTime: bigint | undefined;
  let frequency: bigint | undefined;
  for (let j = 4; j < argv.length; j++) {
    const opt = argv[j]!;
    const additional = argv.length - j - 1;
    if (isWord(opt, "replace")) {
      replace = true;
    } else if (isWord(opt, "absttl")) {
      absttl = true;
    } else if (isWord(opt, "idletime") && additional >= 1 && frequency === undefined) {
      idleTime = parseInt64(argv[++j]!);
      if (idleTime === undefined) return { error: NOT_AN_INTEGER };
      if (idleTime < 0n) return { error: "ERR Invalid IDLETIME value, must be >= 0" };
    } else if (isWord(opt, "freq") && additional >= 1 && idleTime === undefined) {
      frequency = parseInt64(argv[++j]!);
      if (frequency === undefined) return { error: NOT_AN_INTEGER };
      if (frequency < 0n || frequency > 255n) {
        return { error: "ERR Invalid FREQ value, must be >= 0 and <= 255" };
      }
    } else {
      return { error: SYNTAX_ERROR };
    }
  }
  return { replace, absttl, idleTime, frequency };
}

/** RESTORE's TTL: a 64-bit integer, not negative (0 is no expiry). */
export function restoreTtl(arg: Uint8Array): bigint | { error: string } {
  const ttl = parseInt64(arg);
  if (ttl === undefined) return { error: NOT_AN_INTEGER };
  if (ttl < 0n) return { error: "ERR Invalid TTL value, must be >= 0" };
  return ttl;
}
