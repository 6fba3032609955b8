/**
 * Which keys an applied op readied for clients waiting in a blocking
 * command, decided from the op and the reply Redis gave it: a key it pushed
 * to or added to (any write of the key, conservatively), a move's
 * destination only when the move took something, and every key after
 * SWAPDB. Pops and reads ready nothing, so a try that finds nothing never
 * wakes another try. A wake too many costs one try; a wake too few would
 * leave a client waiting, so anything unsure readies.
 */

import { commandKeysIfKnown, dbArguments, findCommand } from "../command/mod.ts";
import { isNothing } from "../command/blocking.ts";
import type { Op } from "../log/op.ts";
import type { DbKey } from "./expiry_steps.ts";

const utf8 = new TextDecoder();

/** Writes that only take (or remove): they ready no key. */
const TAKES = new Set([
  "blpop",
  "brpop",
  "bzpopmin",
  "bzpopmax",
  "blmpop",
  "bzmpop",
  "lpop",
  "rpop",
  "zpopmin",
  "zpopmax",
  "lmpop",
  "zmpop",
  "xreadgroup",
  "xack",
  "xdel",
  "xtrim",
  "ltrim",
  "lrem",
  "zrem",
  "del",
  "unlink",
  "flushall",
  "flushdb",
]);

/** Moves: they ready their destination, if they took something. */
const MOVES = new Set(["blmove", "brpoplpush", "lmove", "rpoplpush"]);

/** The keys `op` readied, given `reply`, the reply Redis gave it; `all` for SWAPDB. */
export function readiedKeys(op: Op, reply: Uint8Array): DbKey[] | "all" {
  const found: DbKey[] = [];
  let db = op.db;
  for (const argv of op.commands) {
    const first = argv[0];
    if (first === undefined) continue;
    const name = utf8.decode(first).toLowerCase();
    if (name === "select") {
      const selected = Number(utf8.decode(argv[1]));
      if (Number.isSafeInteger(selected) && selected >= 0) db = selected;
      continue;
    }
    if (name === "swapdb") return "all";
    if (TAKES.has(name)) continue;
    if (MOVES.has(name)) {
      // Alone, its reply says whether it moved; inside a transaction, say it did.
      if (!op.transaction && isNothing(reply)) continue;
      if (argv[2] !== undefined) found.push({ db, key: argv[2] });
      continue;
    }
    const command = findCommand(name);
    if (command === undefined || !command.flags.includes("write")) {
      // Scripts are flagged noscript, not write: their declared keys count.
      if (!(name === "eval" || name === "evalsha" || name === "fcall")) continue;
    }
    if (command === undefined) continue;
    const positions = commandKeysIfKnown(command, argv) ?? [];
    for (const position of positions) found.push({ db, key: argv[position]! });
    // MOVE k db / COPY src dst DB db: the key lands in the other db.
    for (const other of dbArguments(command, argv)) {
      const target = positions.length > 0 ? argv[positions[positions.length - 1]!] : undefined;
      if (target !== undefined && other !== db) found.push({ db: other, key: target });
    }
  }
  return found;
}
