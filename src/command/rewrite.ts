/**
 * Determinism rewrites: before a write is logged, relative expiries become
 * absolute ones computed from the accepting node's clock, so every rack sets
 * the same expiry whenever it applies the op.
 *
 * | client sends                   | logged as                          |
 * | ------------------------------ | ---------------------------------- |
 * | EXPIRE k s [NX|XX|GT|LT]       | PEXPIREAT k now+s*1000 [same]      |
 * | PEXPIRE k ms [NX|XX|GT|LT]     | PEXPIREAT k now+ms [same]          |
 * | SETEX k s v / PSETEX k ms v    | SET k v PXAT now+ms                |
 * | SET k v [..] EX s / PX ms [..] | SET k v [..] PXAT now+ms           |
 * | GETEX k EX s / PX ms           | GETEX k PXAT now+ms                |
 * | RESTORE k ttl v [..]           | RESTORE k now+ttl v [..] ABSTTL    |
 * | XREADGROUP .. BLOCK ms ..      | XREADGROUP .. (without BLOCK)      |
 *
 * A request is rewritten only when Redis would accept its arguments: an
 * invalid one is logged unchanged, so Redis answers it with its own error
 * text ("invalid expire time in 'setex' command"), the same on every rack.
 */

import {
  addClock,
  expireTime,
  type ExpiryUnit,
  expiryValue,
  parseExpireFlags,
  parseRestoreOptions,
  parseStringOptions,
  restoreTtl,
} from "./options.ts";
import type { CommandSpec } from "./types.ts";
import { withoutBlock } from "./blocking.ts";

const encoder = new TextEncoder();
const PEXPIREAT = encoder.encode("PEXPIREAT");
const SET = encoder.encode("SET");
const PXAT = encoder.encode("PXAT");
const ABSTTL = encoder.encode("ABSTTL");

function decimal(value: bigint): Uint8Array {
  return encoder.encode(value.toString());
}

/** EXPIRE/PEXPIRE → PEXPIREAT, keeping the conditions. */
function rewriteExpire(argv: Uint8Array[], nowMs: number, unit: ExpiryUnit): Uint8Array[] {
  if ("error" in parseExpireFlags(argv)) return argv;
  const time = expireTime(argv[2]!, unit);
  if ("error" in time) return argv;
  const at = addClock(time.ms, nowMs);
  if (at === undefined) return argv;
  return [PEXPIREAT, argv[1]!, decimal(at), ...argv.slice(3)];
}

/** SETEX/PSETEX k t v → SET k v PXAT at. */
function rewriteSetex(argv: Uint8Array[], nowMs: number, unit: ExpiryUnit): Uint8Array[] {
  const value = expiryValue(argv[2]!, unit);
  if ("error" in value) return argv;
  const at = addClock(value.ms, nowMs);
  if (at === undefined) return argv;
  return [SET, argv[1]!, argv[3]!, PXAT, decimal(at)];
}

/**
 * SET/GETEX with EX or PX: every EX/PX option (Redis reads only the last one's
 * value) replaced by one PXAT at the end, the other options kept in order.
 */
function rewriteStringExpiry(
  argv: Uint8Array[],
  nowMs: number,
  command: "set" | "getex",
): Uint8Array[] {
  const options = parseStringOptions(argv, command);
  if (options === undefined) return argv;
  if (options.expiry !== "ex" && options.expiry !== "px") return argv;
  const value = expiryValue(argv[options.expiryAt]!, options.expiry === "ex" ? "s" : "ms");
  if ("error" in value) return argv;
  const at = addClock(value.ms, nowMs);
  if (at === undefined) return argv;
  const dropped = new Set<number>();
  for (const token of options.expiryTokens) dropped.add(token).add(token + 1);
  const kept = argv.filter((_, i) => !dropped.has(i));
  return [...kept, PXAT, decimal(at)];
}

/** RESTORE with a TTL and without ABSTTL: the TTL made absolute, ABSTTL added. */
function rewriteRestore(argv: Uint8Array[], nowMs: number): Uint8Array[] {
  const options = parseRestoreOptions(argv);
  if ("error" in options || options.absttl) return argv;
  const ttl = restoreTtl(argv[2]!);
  if (typeof ttl !== "bigint" || ttl === 0n) return argv;
  const at = addClock(ttl, nowMs);
  if (at === undefined) return argv;
  return [argv[0]!, argv[1]!, decimal(at), ...argv.slice(3), ABSTTL];
}

/**
 * The argv to log for a write accepted at `nowMs` (the accepting node's
 * clock, ms since the epoch): relative expiries made absolute (see the module
 * doc); anything else, and any request Redis would refuse, is returned as is
 * (the same array).
 */
export function rewriteForLog(
  command: CommandSpec,
  argv: Uint8Array[],
  nowMs: number,
): Uint8Array[] {
  if (!Number.isSafeInteger(nowMs) || nowMs < 0) {
    throw new RangeError(`rewriteForLog() needs a clock in ms since the epoch, got '${nowMs}'`);
  }
  switch (command.name) {
    case "expire":
      return argv.length >= 3 ? rewriteExpire(argv, nowMs, "s") : argv;
    case "pexpire":
      return argv.length >= 3 ? rewriteExpire(argv, nowMs, "ms") : argv;
    case "setex":
      return argv.length === 4 ? rewriteSetex(argv, nowMs, "s") : argv;
    case "psetex":
      return argv.length === 4 ? rewriteSetex(argv, nowMs, "ms") : argv;
    case "set":
      return argv.length >= 3 ? rewriteStringExpiry(argv, nowMs, "set") : argv;
    case "getex":
      return argv.length >= 2 ? rewriteStringExpiry(argv, nowMs, "getex") : argv;
    case "restore":
      return argv.length >= 4 ? rewriteRestore(argv, nowMs) : argv;
    case "xreadgroup":
      // A try never blocks (inside the applier's MULTI), and scripts may not say BLOCK.
      return withoutBlock(argv);
    default:
      return argv;
  }
}
