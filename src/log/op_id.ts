/**
 * Op ids: ULIDs (48-bit millisecond time, 80 random bits, Crockford base32),
 * strictly increasing within a process: within one millisecond the random
 * part counts up, as ULID's monotonic mode says. Kept as digits and made into
 * a string in one step: npm `ulid`'s factory builds each id by concatenation,
 * a string the pending-write map then had to flatten before hashing it, and
 * the whole cost a tenth of a pipelined write's time. Random bits come from a
 * crypto pool drawn 4 KiB at a time.
 */

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const CODES = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));
const TIME_CHARS = 10;
const ID_CHARS = 26;

const POOL_BYTES = 4096;
let pool = new Uint8Array(0);
let at = POOL_BYTES;

/** A uniform base32 digit from the crypto pool (256 is a multiple of 32). */
function randomDigit(): number {
  if (at >= pool.length) {
    pool = crypto.getRandomValues(new Uint8Array(POOL_BYTES));
    at = 0;
  }
  return pool[at++]! & 31;
}

const digits = new Uint8Array(ID_CHARS);
const chars = new Uint8Array(ID_CHARS);
let lastMs = -1;

/** A new op id for an op accepted at `nowMs`; ids of one process strictly increase. */
export function newOpId(nowMs: number): string {
  if (nowMs > lastMs) {
    lastMs = nowMs;
    let time = Math.floor(nowMs);
    for (let i = TIME_CHARS - 1; i >= 0; i--) {
      const digit = time % 32;
      digits[i] = digit;
      chars[i] = CODES[digit]!;
      time = (time - digit) / 32;
    }
    for (let i = TIME_CHARS; i < ID_CHARS; i++) {
      const digit = randomDigit();
      digits[i] = digit;
      chars[i] = CODES[digit]!;
    }
  } else {
    // The same millisecond (or a clock that stepped back): the last id's random part plus one.
    let i = ID_CHARS - 1;
    while (i >= TIME_CHARS && digits[i] === 31) {
      digits[i] = 0;
      chars[i] = CODES[0]!;
      i--;
    }
    if (i < TIME_CHARS) throw new Error("op ids: 2^80 ids within one millisecond");
    const digit = digits[i]! + 1;
    digits[i] = digit;
    chars[i] = CODES[digit]!;
  }
  return String.fromCharCode.apply(null, chars as unknown as number[]);
}
