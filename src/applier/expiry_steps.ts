/**
 * Expiry decided in log order: a key is expired for an op when the op's log
 * time (src/applier/log_time.ts) has reached the key's expiry, on every rack
 * alike, whatever the rack's own clock says.
 *
 * The rack's Redis never expires a key by itself: every expiry it stores is
 * shifted far into the future (src/determinism/expiry.ts). Before an op runs,
 * the applier deletes, in the op's own transaction, those of the keys it
 * touches that are expired at its log time ({@linkcode expireDueCommand});
 * after an op that sets an expiry already reached (`EXPIRE k -1`, `SET ..
 * PXAT <past>`), the key goes at once, as Redis would delete it. Scripts do
 * the same for every key they call (their prologue). Between ops, a sweeper
 * removes expired keys no op touches (src/applier/sweeper.ts): deleting a key
 * whose expiry the rack's log time has passed changes no later op's outcome,
 * since every later op's log time is at least as far.
 */

import { commandKeysIfKnown, dbArguments, findCommand } from "../command/mod.ts";
import { equalsIgnoreCase } from "../command/bytes.ts";
import type { Op } from "../log/op.ts";
import { encodeCommand } from "../resp/encoder.ts";
import { EXPIRE_DUE } from "../determinism/expiry.ts";

/** One key in one db. */
export interface DbKey {
  db: number;
  key: Uint8Array;
}

const utf8 = new TextDecoder();

/**
 * The keys an op's commands touch, each with the db it is touched in (a
 * client's SELECT inside its transaction moves the rest; MOVE and COPY ..
 * DB also name the key in the target db). Scripts: the keys they declare
 * (their prologue expires every other key they call).
 */
export function opKeys(op: Op): DbKey[] {
  const found: DbKey[] = [];
  const seen = new Set<string>();
  const add = (db: number, key: Uint8Array) => {
    const id = `${db}\u0000${utf8.decode(key)}`;
    if (seen.has(id)) return;
    seen.add(id);
    found.push({ db, key });
  };
  forEachCommand(op, (db, argv) => {
    const command = findCommand(utf8.decode(argv[0]));
    if (command === undefined) return;
    const positions = commandKeysIfKnown(command, argv) ?? [];
    for (const position of positions) add(db, argv[position]!);
    // MOVE k db / COPY src dst DB db: the key in the other db decides the outcome too.
    for (const other of dbArguments(command, argv)) {
      const target = positions.length > 0 ? argv[positions[positions.length - 1]!]! : undefined;
      if (target !== undefined && other !== db) add(other, target);
    }
  });
  return found;
}

/**
 * Calls `fn` with each command of `op` but SELECT, and the db it runs in (a
 * client's SELECT inside its transaction moves the commands after it).
 */
function forEachCommand(op: Op, fn: (db: number, argv: Uint8Array[]) => void): void {
  let db = op.db;
  for (const argv of op.commands) {
    const name = argv[0];
    if (name === undefined) continue;
    if (equalsIgnoreCase(name, "select")) {
      const selected = Number(utf8.decode(argv[1]));
      if (Number.isSafeInteger(selected) && selected >= 0) db = selected;
      continue;
    }
    fn(db, argv);
  }
}

/**
 * The keys of an op's commands that set an expiry its log time `timeMs` has
 * already reached (or may have: arguments Pylon does not read).
 */
export function reachedKeys(op: Op, timeMs: number): DbKey[] {
  const reached: DbKey[] = [];
  forEachCommand(op, (db, argv) => {
    if (expiryReached(argv, timeMs) && argv[1] !== undefined) reached.push({ db, key: argv[1] });
  });
  return reached;
}

/** The EVAL that deletes those of `keys` expired at log time `timeMs`. */
export function expireDueCommand(keys: readonly DbKey[], timeMs: number): Uint8Array {
  const args: (string | Uint8Array)[] = ["EVAL", EXPIRE_DUE, "0", String(timeMs)];
  for (const { db, key } of keys) args.push(String(db), key);
  return encodeCommand(args);
}

/**
 * The keys of `argv` (as the log holds it: absolute expiries) given an
 * expiry already reached at `timeMs`, or that may have been (one Pylon cannot
 * read from the arguments): after the command they must go.
 */
export function expiryReached(argv: readonly Uint8Array[], timeMs: number): boolean {
  const at = absoluteExpiry(argv);
  return at === "unknown" || (at !== undefined && at <= timeMs);
}

/**
 * The expiry (ms since the epoch) a command as logged sets: `PEXPIREAT`,
 * `EXPIREAT`, `SET .. PXAT|EXAT`, `GETEX .. PXAT|EXAT`, `RESTORE .. ABSTTL`;
 * undefined when it sets none; "unknown" when it may (an argument Pylon does
 * not read).
 */
export function absoluteExpiry(argv: readonly Uint8Array[]): number | undefined | "unknown" {
  const name = argv[0] === undefined ? "" : utf8.decode(argv[0]).toLowerCase();
  const number = (arg: Uint8Array | undefined, scale: number) => {
    if (arg === undefined) return "unknown" as const;
    const value = Number(utf8.decode(arg));
    return Number.isFinite(value) ? value * scale : "unknown" as const;
  };
  switch (name) {
    case "pexpireat":
      return number(argv[2], 1);
    case "expireat":
      return number(argv[2], 1000);
    case "set":
    case "getex": {
      for (let i = name === "set" ? 3 : 2; i < argv.length; i++) {
        if (equalsIgnoreCase(argv[i]!, "pxat")) return number(argv[i + 1], 1);
        if (equalsIgnoreCase(argv[i]!, "exat")) return number(argv[i + 1], 1000);
      }
      return undefined;
    }
    case "restore": {
      if (!argv.some((arg, i) => i > 3 && equalsIgnoreCase(arg, "absttl"))) return undefined;
      const at = number(argv[2], 1);
      return at === 0 ? undefined : at;
    }
    default:
      return undefined;
  }
}
