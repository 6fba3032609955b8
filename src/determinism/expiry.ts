/**
 * Expiry by the log's clock. A rack's Redis must never expire a key by its
 * own clock: racks apply an op at different real times, so a key that one
 * rack still had when the op ran may already be gone on another. Every
 * expiry Pylon stores is therefore shifted far into the future, where no
 * rack's clock reaches it, and Pylon decides from the op's log time T whether
 * a key has expired:
 *
 * | stored `PEXPIRETIME` | meaning                                                  |
 * | -------------------- | -------------------------------------------------------- |
 * | -1                   | no expiry                                                |
 * | >= H                 | expires at stored - H (ms since the epoch, log time)     |
 * | 0 .. H-1             | expired already; Redis is removing it (a sweeper's mark) |
 *
 * with H = {@linkcode EXPIRY_SHIFT_MS}. A key is *logically expired* for an
 * op at log time T iff its stored time is below H or stored - H <= T. Log
 * time only grows, so deleting a logically expired key is safe at any moment,
 * on any rack: it can never be alive again for a later op.
 *
 * - {@linkcode shiftExpiry}: the absolute expiries the log holds, shifted
 *   before they reach Redis.
 * - {@linkcode EXPIRE_DUE}: a script deleting the keys logically expired at T.
 * - {@linkcode unshiftTtlReply} and {@linkcode ttlFromPexpiretime}: what a
 *   client reading a TTL outside any script sees, in logical time.
 */

import { INT64_MAX, isWord } from "../command/bytes.ts";
import {
  expireTime,
  expiryValue,
  parseExpireFlags,
  parseRestoreOptions,
  parseStringOptions,
  restoreTtl,
} from "../command/options.ts";
import type { Protocol } from "../resp/value.ts";

/**
 * H: how far every stored expiry is shifted, in ms (about 317 years, a
 * multiple of 1000 so second-granular forms shift exactly).
 */
export const EXPIRY_SHIFT_MS = 10_000_000_000_000;

const SHIFT = BigInt(EXPIRY_SHIFT_MS);
const SHIFT_SECONDS = SHIFT / 1000n;
const SECONDS_MAX = INT64_MAX / 1000n;

const encoder = new TextEncoder();

function decimal(value: bigint): Uint8Array {
  return encoder.encode(value.toString());
}

/** A time in ms, or undefined when shifting it leaves Redis's 64-bit range. */
function shiftedMs(ms: bigint): bigint | undefined {
  const stored = ms + SHIFT;
  return stored > INT64_MAX ? undefined : stored;
}

/** A time in seconds shifted by H/1000, or undefined where Redis would call it invalid. */
function shiftedSeconds(seconds: bigint): bigint | undefined {
  const stored = seconds + SHIFT_SECONDS;
  return stored > SECONDS_MAX ? undefined : stored;
}

/** EXPIREAT/PEXPIREAT k t [NX|XX|GT|LT ...]: t shifted, in the same unit. */
function shiftExpireAt(argv: Uint8Array[], unit: "s" | "ms"): Uint8Array[] {
  if (argv.length < 3 || "error" in parseExpireFlags(argv)) return argv;
  const time = expireTime(argv[2]!, unit);
  if ("error" in time) return argv;
  const stored = unit === "s" ? shiftedSeconds(time.ms / 1000n) : shiftedMs(time.ms);
  if (stored === undefined) return argv;
  return [argv[0]!, argv[1]!, decimal(stored), ...argv.slice(3)];
}

/** SET/GETEX with EXAT or PXAT (the last expiry option is the one Redis reads): its value shifted. */
function shiftStringExpiry(argv: Uint8Array[], command: "set" | "getex"): Uint8Array[] {
  if (argv.length < (command === "set" ? 3 : 2)) return argv;
  const options = parseStringOptions(argv, command);
  if (options === undefined) return argv;
  if (options.expiry !== "exat" && options.expiry !== "pxat") return argv;
  const unit = options.expiry === "exat" ? "s" : "ms";
  const value = expiryValue(argv[options.expiryAt]!, unit);
  if ("error" in value) return argv;
  const stored = unit === "s" ? shiftedSeconds(value.ms / 1000n) : shiftedMs(value.ms);
  if (stored === undefined) return argv;
  const shifted = argv.slice();
  shifted[options.expiryAt] = decimal(stored);
  return shifted;
}

/** RESTORE k ttl v .. ABSTTL with a ttl: the ttl shifted (0, no expiry, stays 0). */
function shiftRestore(argv: Uint8Array[]): Uint8Array[] {
  if (argv.length < 4) return argv;
  const options = parseRestoreOptions(argv);
  if ("error" in options || !options.absttl) return argv;
  const ttl = restoreTtl(argv[2]!);
  if (typeof ttl !== "bigint" || ttl === 0n) return argv;
  const stored = shiftedMs(ttl);
  if (stored === undefined) return argv;
  return [argv[0]!, argv[1]!, decimal(stored), ...argv.slice(3)];
}

/**
 * The argv to send to Redis for an op's command: the absolute expiries the
 * log holds (`PEXPIREAT`/`EXPIREAT` with any NX|XX|GT|LT, `SET .. PXAT|EXAT`,
 * `GETEX .. PXAT|EXAT`, `RESTORE .. ABSTTL`) shifted by H (H/1000 for the
 * seconds forms). A request Redis would refuse, or whose shifted time leaves
 * Redis's range, is returned as is (the same array), so Redis gives its own
 * error, or stores the time unshifted (a logical expiry about 317 years
 * earlier than asked, for times beyond the year 292 million). Relative forms
 * never reach the log (the gateway makes them absolute). After the command,
 * a key whose new logical expiry is at or before the op's T is logically
 * expired: Redis keeps it (its stored time is far ahead of every clock), so
 * the applier deletes it ({@linkcode EXPIRE_DUE}).
 */
export function shiftExpiry(commandName: string, argv: Uint8Array[]): Uint8Array[] {
  switch (commandName.toLowerCase()) {
    case "pexpireat":
      return shiftExpireAt(argv, "ms");
    case "expireat":
      return shiftExpireAt(argv, "s");
    case "set":
      return shiftStringExpiry(argv, "set");
    case "getex":
      return shiftStringExpiry(argv, "getex");
    case "restore":
      return shiftRestore(argv);
    default:
      return argv;
  }
}

/** Whether a stored `PEXPIRETIME` (ms; -1 none, -2 no key) means logically expired at `logTimeMs`. */
export function isLogicallyExpired(storedMs: number | bigint, logTimeMs: number): boolean {
  const stored = BigInt(storedMs);
  if (stored < 0n) return false;
  return stored < SHIFT || stored - SHIFT <= BigInt(logTimeMs);
}

/**
 * `EVAL EXPIRE_DUE 0 <T> <db> <key> [<db> <key> ...]`: deletes each key that
 * is logically expired at log time T and answers how many it deleted. It
 * SELECTs each pair's db (inside a script that moves only the script's own
 * db), so it runs as Pylon's own Redis user, never as the scripts' user.
 * A db this Redis does not have (`MOVE k 20` in a world of 16 dbs, which
 * Redis then refuses alike on every rack) holds no key to delete: skipped,
 * never an error of Pylon's own step.
 * Comparisons are exact: every stored time and T are far below 2^53 where
 * they decide (a stored time above 2^53 is never due).
 */
export const EXPIRE_DUE = [
  `local shift = ${EXPIRY_SHIFT_MS}`,
  "local t = tonumber(ARGV[1])",
  "local deleted = 0",
  "for i = 2, #ARGV - 1, 2 do",
  "  local selected = redis.pcall('SELECT', ARGV[i])",
  "  if not (type(selected) == 'table' and selected.err) then",
  "    local stored = redis.call('PEXPIRETIME', ARGV[i + 1])",
  "    if stored >= 0 and (stored < shift or stored - shift <= t) then",
  "      deleted = deleted + redis.call('DEL', ARGV[i + 1])",
  "    end",
  "  end",
  "end",
  "return deleted",
].join("\n");

/** TTL readers whose replies Pylon rewrites. */
export type TtlCommand = "ttl" | "pttl" | "expiretime" | "pexpiretime";

/** The TTL reader `name` is (any case), or undefined. */
export function ttlCommand(name: string | Uint8Array): TtlCommand | undefined {
  const bytes = typeof name === "string" ? encoder.encode(name) : name;
  for (const command of ["ttl", "pttl", "expiretime", "pexpiretime"] as const) {
    if (bytes.length === command.length && isWord(bytes, command)) return command;
  }
  return undefined;
}

/** `:n\r\n`, the same bytes in RESP2 and RESP3. */
function integerReply(value: bigint): Uint8Array {
  return encoder.encode(`:${value}\r\n`);
}

/** The integer of a `:n` reply, or undefined for anything else (errors pass through). */
function integerOf(reply: Uint8Array): bigint | undefined {
  if (reply[0] !== 0x3a) return undefined;
  const text = new TextDecoder().decode(reply.subarray(1)).trimEnd();
  return /^-?\d+$/.test(text) ? BigInt(text) : undefined;
}

const NO_KEY = -2n;

/**
 * A client's TTL reader answered in logical time, from Redis's reply to that
 * same command (`command` is its name; `protocol` does not change integer
 * bytes). Logically expired by `nowMs` (ms since the epoch, the time the
 * read is answered at) is `-2`, as Redis answers for an expired key; no
 * expiry stays `-1`; errors and other replies pass through. Exactness:
 * `PEXPIRETIME` is exact; `EXPIRETIME` is exact except that a key due within
 * 1 s before `nowMs` may be called alive (Redis rounds it to the second); `TTL` and
 * `PTTL` are measured by Redis from its own clock, so they are taken as
 * relative to `nowMs` (the clock of the rack's Redis and `nowMs` should
 * agree; {@linkcode ttlFromPexpiretime} avoids depending on it).
 */
export function unshiftTtlReply(
  command: string,
  reply: Uint8Array,
  _protocol: Protocol,
  nowMs: number,
): Uint8Array {
  const name = ttlCommand(command);
  const value = integerOf(reply);
  if (name === undefined || value === undefined || value < 0n) return reply;
  const now = BigInt(nowMs);
  switch (name) {
    case "pexpiretime":
      return integerReply(isLogicallyExpired(value, nowMs) ? NO_KEY : value - SHIFT);
    case "expiretime": {
      // Redis answers (stored ms + 500) / 1000; H is a multiple of 1000, so this is E rounded
      // to the second: E lies in [s * 1000 - 500, s * 1000 + 499].
      const seconds = value - SHIFT_SECONDS;
      if (value < SHIFT_SECONDS || seconds * 1000n + 499n <= now) return integerReply(NO_KEY);
      return integerReply(seconds);
    }
    case "pttl": {
      // Redis answered E + H - its clock; E - nowMs is that minus H when its clock is nowMs.
      const ttl = value - SHIFT;
      return integerReply(ttl <= 0n ? NO_KEY : ttl);
    }
    case "ttl": {
      // Redis answered floor((E + H - clock + 500) / 1000) = floor((E - clock + 500) / 1000) + H/1000.
      const ttl = value - SHIFT_SECONDS;
      return integerReply(ttl < 0n ? NO_KEY : ttl);
    }
  }
}

/**
 * The request to send for a client's TTL reader so that its answer is exact
 * ({@linkcode ttlFromPexpiretime}): `PEXPIRETIME key` when the arity is right,
 * otherwise the request as is (Redis's own arity error names the command).
 */
export function ttlRequest(argv: Uint8Array[]): Uint8Array[] {
  if (argv.length !== 2 || ttlCommand(argv[0]!) === undefined) return argv;
  return [encoder.encode("PEXPIRETIME"), argv[1]!];
}

/**
 * What the client's TTL reader `command` answers at `nowMs`, from Redis's
 * reply to {@linkcode ttlRequest}'s `PEXPIRETIME`: exact in logical time
 * (as Redis computes them: `PTTL` = E - now, `TTL` = floor((E - now + 500) /
 * 1000), `EXPIRETIME` = floor((E + 500) / 1000)); `-2` when logically expired by
 * `nowMs`, `-1` without expiry; errors pass through.
 */
export function ttlFromPexpiretime(
  command: string,
  reply: Uint8Array,
  _protocol: Protocol,
  nowMs: number,
): Uint8Array {
  const name = ttlCommand(command);
  const value = integerOf(reply);
  if (name === undefined || value === undefined || value < 0n) return reply;
  if (isLogicallyExpired(value, nowMs)) return integerReply(NO_KEY);
  const expiresAt = value - SHIFT;
  const ttl = expiresAt - BigInt(nowMs);
  switch (name) {
    case "pexpiretime":
      return integerReply(expiresAt);
    case "expiretime":
      return integerReply((expiresAt + 500n) / 1000n);
    case "pttl":
      return integerReply(ttl);
    case "ttl":
      return integerReply((ttl + 500n) / 1000n);
  }
}
