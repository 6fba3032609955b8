/**
 * Blocking commands are refused (Pylon holds no client waiting), but only
 * after their timeout is checked as Redis checks it, so a wrong timeout gets
 * Redis's own error rather than Pylon's refusal.
 */

const SECONDS_TIMEOUT_AT: Readonly<Record<string, (argv: readonly Uint8Array[]) => number>> = {
  blpop: (argv) => argv.length - 1,
  brpop: (argv) => argv.length - 1,
  bzpopmin: (argv) => argv.length - 1,
  bzpopmax: (argv) => argv.length - 1,
  brpoplpush: () => 3,
  blmove: () => 5,
  blmpop: () => 1,
  bzmpop: () => 1,
};

const NOT_FLOAT = "ERR timeout is not a float or out of range";
const NOT_INTEGER = "ERR timeout is not an integer or out of range";
const NEGATIVE = "ERR timeout is negative";
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const INFINITE = /^[+-]?inf(inity)?$/i;
const HEX = /^([+-]?)0x([0-9a-f]+)$/i;
const INTEGER = /^(0|-?[1-9]\d*)$/;

/** Redis's error for the timeout of blocking command `name`, or undefined when it is valid. */
export function blockingTimeoutError(
  name: string,
  argv: readonly Uint8Array[],
): string | undefined {
  const text = new TextDecoder();
  const at = SECONDS_TIMEOUT_AT[name];
  if (at !== undefined) {
    const raw = argv[at(argv)];
    return raw === undefined ? undefined : secondsError(text.decode(raw));
  }
  if (name === "xread" || name === "xreadgroup") {
    const block = argv.findIndex((a, i) => i > 0 && text.decode(a).toLowerCase() === "block");
    const raw = block < 0 ? undefined : argv[block + 1];
    if (raw === undefined) return undefined;
    const value = text.decode(raw);
    if (!INTEGER.test(value) || !Number.isSafeInteger(Number(value))) return NOT_INTEGER;
    return Number(value) < 0 ? NEGATIVE : undefined;
  }
  return undefined;
}

/** Seconds as `strtold` reads them, to whole milliseconds as Redis truncates them. */
function secondsError(value: string): string | undefined {
  let seconds: number;
  const hex = HEX.exec(value);
  if (DECIMAL.test(value) || INFINITE.test(value)) {
    seconds = Number(value.replace(/inf(inity)?$/i, "Infinity"));
  } else if (hex !== null) seconds = (hex[1] === "-" ? -1 : 1) * parseInt(hex[2]!, 16);
  else return NOT_FLOAT;
  const ms = Math.trunc(seconds * 1000);
  // Past a 64-bit millisecond count, Redis's conversion wraps to a negative one.
  if (!Number.isFinite(ms) || ms >= 2 ** 63 || ms < 0) return NEGATIVE;
  return undefined;
}
