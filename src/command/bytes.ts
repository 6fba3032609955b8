/**
 * Byte helpers for request arguments, matching how Redis's C code reads them:
 * keyword comparisons are ASCII case-insensitive and, like `strcasecmp`, stop
 * at a NUL byte; integers parse like Redis's `string2ll` or C's `atoi`.
 * Nothing here allocates.
 */

/** The ASCII lowercase of one byte. */
export function lowerByte(byte: number): number {
  return byte >= 0x41 && byte <= 0x5a ? byte + 0x20 : byte;
}

/**
 * Whether `arg` equals the lowercase ASCII `word` ignoring case, reading `arg`
 * as a C string (it ends at its first NUL byte), as `strcasecmp` does.
 */
export function isWord(arg: Uint8Array, word: string): boolean {
  const length = word.length;
  if (arg.length < length) return false;
  if (arg.length > length && arg[length] !== 0) return false;
  for (let i = 0; i < length; i++) {
    if (lowerByte(arg[i]!) !== word.charCodeAt(i)) return false;
  }
  return true;
}

/** Whether `arg` is exactly `word` (lowercase ASCII) ignoring case, all bytes compared. */
export function equalsIgnoreCase(arg: Uint8Array, word: string): boolean {
  if (arg.length !== word.length) return false;
  for (let i = 0; i < arg.length; i++) {
    if (lowerByte(arg[i]!) !== word.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Parses a whole argument as Redis's `string2ll` does: optional `-`, digits,
 * no leading zeros, no spaces or `+`. Returns `undefined` if it is not one.
 * Values beyond 2^53 lose precision, which no key count or index reaches.
 */
export function parseStrictInteger(arg: Uint8Array): number | undefined {
  const length = arg.length;
  if (length === 0 || length > 20) return undefined;
  let i = 0;
  let negative = false;
  if (arg[0] === 0x2d) {
    negative = true;
    i = 1;
    if (length === 1) return undefined;
  }
  if (arg[i] === 0x30) return length === i + 1 && !negative ? 0 : undefined;
  let value = 0;
  for (; i < length; i++) {
    const digit = arg[i]! - 0x30;
    if (digit < 0 || digit > 9) return undefined;
    value = value * 10 + digit;
  }
  return negative ? -value : value;
}

/**
 * C's `atoi` as glibc implements it (`(int) strtol`): skips leading
 * whitespace, reads an optional sign and the digits that follow, ignores the
 * rest (0 when there are no digits), saturates at the 64-bit limits and keeps
 * the low 32 bits.
 */
export function atoi(arg: Uint8Array): number {
  let i = 0;
  const length = arg.length;
  while (i < length && (arg[i] === 0x20 || (arg[i]! >= 0x09 && arg[i]! <= 0x0d))) i++;
  let negative = false;
  if (i < length && (arg[i] === 0x2d || arg[i] === 0x2b)) {
    negative = arg[i] === 0x2d;
    i++;
  }
  let value = 0n;
  for (; i < length; i++) {
    const digit = arg[i]! - 0x30;
    if (digit < 0 || digit > 9) break;
    if (value <= LONG_MAX) value = value * 10n + BigInt(digit);
  }
  if (negative) value = -value;
  if (value > LONG_MAX) value = LONG_MAX;
  if (value < LONG_MIN) value = LONG_MIN;
  return Number(BigInt.asIntN(32, value));
}

const LONG_MAX = 9_223_372_036_854_775_807n;
const LONG_MIN = -9_223_372_036_854_775_808n;

/** The largest value of C's `long long`, as Redis's integer arguments are bounded. */
export const INT64_MAX = LONG_MAX;
/** The smallest value of C's `long long`. */
export const INT64_MIN = LONG_MIN;

/**
 * Parses a whole argument exactly as Redis's `string2ll` does, range included:
 * optional `-`, digits without leading zeros, within 64 bits. `undefined` if
 * Redis would answer "value is not an integer or out of range".
 */
export function parseInt64(arg: Uint8Array): bigint | undefined {
  if (parseStrictInteger(arg) === undefined) return undefined;
  let value = 0n;
  const negative = arg[0] === 0x2d;
  for (let i = negative ? 1 : 0; i < arg.length; i++) value = value * 10n + BigInt(arg[i]! - 0x30);
  if (negative) value = -value;
  return value > LONG_MAX || value < LONG_MIN ? undefined : value;
}

/** Whether Redis's `string2ll` accepts the whole argument as a 64-bit integer. */
export function isInt64(arg: Uint8Array): boolean {
  // Up to 18 digits always fit; only longer ones need the exact check.
  return arg.length <= 18 ? parseStrictInteger(arg) !== undefined : parseInt64(arg) !== undefined;
}

/** Longest argument the float checks read; longer ones are let through unread. */
const FLOAT_CHECK_BYTES_MAX = 512;

/** C's `strtod` syntax: decimal (`1`, `.5`, `1.`, `1e3`), hex (`0x1p3`), `inf`/`infinity`, `nan`. */
const FLOAT_TEXT =
  /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?|0x(?:[\da-f]+\.?[\da-f]*|\.[\da-f]+)(?:p[+-]?\d+)?|inf(?:inity)?|nan(?:\(\w*\))?)$/i;

const NAN_TEXT = /^[+-]?nan/i;

/** The bytes as text when they are all ASCII, else `undefined`. */
function ascii(arg: Uint8Array, from: number, to: number): string | undefined {
  let text = "";
  for (let i = from; i < to; i++) {
    const byte = arg[i]!;
    if (byte > 0x7f) return undefined;
    text += String.fromCharCode(byte);
  }
  return text;
}

function isSpace(byte: number | undefined): boolean {
  return byte === 0x20 || (byte !== undefined && byte >= 0x09 && byte <= 0x0d);
}

/**
 * Whether the whole argument could be a float to Redis's
 * `getDoubleFromObject` and `getLongDoubleFromObject`: `strtod` syntax with
 * nothing before or after (no white space, no NUL byte), not NaN. Values out
 * of range (`1e999`) pass here; Redis refuses some of them itself.
 */
export function isFloat(arg: Uint8Array): boolean {
  if (arg.length > FLOAT_CHECK_BYTES_MAX) return true;
  const text = ascii(arg, 0, arg.length);
  return text !== undefined && FLOAT_TEXT.test(text) && !NAN_TEXT.test(text);
}

/** The argument up to its first NUL byte, as C string functions read it. */
function cLength(arg: Uint8Array): number {
  const nul = arg.indexOf(0);
  return nul < 0 ? arg.length : nul;
}

/**
 * A sorted-set score bound as Redis's `zslParseRange` reads it: an optional
 * `(`, then `strtod` text up to a NUL byte, white space before it allowed and
 * nothing at all allowed (read as 0), NaN refused.
 */
export function isScoreBound(arg: Uint8Array): boolean {
  if (arg.length > FLOAT_CHECK_BYTES_MAX) return true;
  let from = arg[0] === 0x28 ? 1 : 0;
  const to = cLength(arg);
  while (from < to && isSpace(arg[from])) from++;
  if (from >= to) return true;
  const text = ascii(arg, from, to);
  return text !== undefined && FLOAT_TEXT.test(text) && !NAN_TEXT.test(text);
}

/** A lexicographic range bound (`zslParseLexRangeItem`): `[x`, `(x`, or exactly `+` or `-`. */
export function isLexBound(arg: Uint8Array): boolean {
  const first = arg[0];
  if (first === 0x5b || first === 0x28) return true;
  return (first === 0x2b || first === 0x2d) && (arg.length === 1 || arg[1] === 0);
}

/** Longest stream id Redis reads (its parse buffer is 128 bytes). */
const STREAM_ID_BYTES_MAX = 127;

/** One part of a stream id as Redis's `string2ull` takes it: `strtoull` digits, white space and `+` before. */
function isIdPart(arg: Uint8Array, from: number, to: number): boolean {
  while (from < to && isSpace(arg[from])) from++;
  if (arg[from] === 0x2b) from++;
  if (from >= to) return false;
  for (let i = from; i < to; i++) if (arg[i]! < 0x30 || arg[i]! > 0x39) return false;
  return true;
}

/**
 * A stream id as Redis's `streamGenericParseIDOrReply` could read it:
 * `<ms>` or `<ms>-<seq>` (or `<ms>-*`), up to a NUL byte. Values beyond 64
 * bits pass here; Redis refuses them itself.
 */
export function isStreamId(arg: Uint8Array): boolean {
  if (arg.length > STREAM_ID_BYTES_MAX) return false;
  const end = cLength(arg);
  const dash = arg.subarray(0, end).indexOf(0x2d);
  if (dash < 0) return isIdPart(arg, 0, end);
  if (!isIdPart(arg, 0, dash)) return false;
  if (end === dash + 2 && arg[dash + 1] === 0x2a) return true;
  return isIdPart(arg, dash + 1, end);
}

/** A BITFIELD type (`getBitfieldTypeFromArgument`): `i1`..`i64` or `u1`..`u63`, lowercase. */
export function isBitfieldType(arg: Uint8Array): boolean {
  const sign = arg[0];
  if (sign !== 0x69 && sign !== 0x75) return false;
  const bits = parseStrictInteger(arg.subarray(1, cLength(arg)));
  return bits !== undefined && bits >= 1 && bits <= (sign === 0x69 ? 64 : 63);
}

/**
 * A bit offset (`getBitOffsetFromArgument`): a non-negative 64-bit integer,
 * with a `#` before it where `hash` (BITFIELD: multiples of the type's
 * width). The upper bound depends on `proto-max-bulk-len` and is left to Redis.
 */
export function isBitOffset(arg: Uint8Array, hash: boolean): boolean {
  const digits = hash && arg[0] === 0x23 ? arg.subarray(1) : arg;
  const value = parseInt64(digits);
  return value !== undefined && value >= 0n;
}

/** The largest value of C's `int` (db indices). */
export const INT32_MAX = 2_147_483_647n;
/** The smallest value of C's `int`. */
export const INT32_MIN = -2_147_483_648n;
