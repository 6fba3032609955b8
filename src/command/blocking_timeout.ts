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

/** The type a blocking command's sources must have, and whether only its first key is a source. */
const SOURCE_TYPES: Readonly<Record<string, { type: string; firstOnly: boolean }>> = {
  blpop: { type: "list", firstOnly: false },
  brpop: { type: "list", firstOnly: false },
  blmpop: { type: "list", firstOnly: false },
  brpoplpush: { type: "list", firstOnly: true },
  blmove: { type: "list", firstOnly: true },
  bzpopmin: { type: "zset", firstOnly: false },
  bzpopmax: { type: "zset", firstOnly: false },
  bzmpop: { type: "zset", firstOnly: false },
};

/** The keys whose types Redis checks, in order, before a blocking command blocks, and their type. */
export function blockingSources(
  name: string,
  keys: readonly Uint8Array[],
): { type: string; keys: readonly Uint8Array[] } | undefined {
  const source = SOURCE_TYPES[name];
  if (source === undefined || keys.length === 0) return undefined;
  return { type: source.type, keys: source.firstOnly ? keys.slice(0, 1) : keys };
}

/**
 * What Redis answers a blocking command given its sources' types in order
 * (`none` for a missing key): WRONGTYPE if a key of another type comes before
 * any key it could serve; otherwise undefined (it would serve or block).
 */
export function blockingTypeError(expected: string, types: readonly string[]): string | undefined {
  for (const type of types) {
    if (type === "none") continue;
    return type === expected
      ? undefined
      : "WRONGTYPE Operation against a key holding the wrong kind of value";
  }
  return undefined;
}
