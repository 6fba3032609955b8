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
