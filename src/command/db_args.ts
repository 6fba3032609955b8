/**
 * The databases a write names in its arguments (MOVE key db, COPY .. DB db,
 * SWAPDB a b), read as Redis reads them, so the gateway can refuse writes that
 * reach Pylon's reserved metadata db.
 */

import { INT32_MAX, INT32_MIN, isWord, parseInt64 } from "./bytes.ts";
import type { CommandSpec } from "./types.ts";

/** A db index as Redis's `getIntFromObjectOrReply` reads it, or `undefined` where Redis refuses it. */
function dbIndex(arg: Uint8Array | undefined): number | undefined {
  if (arg === undefined) return undefined;
  const value = parseInt64(arg);
  if (value === undefined || value > INT32_MAX || value < INT32_MIN) return undefined;
  return Number(value);
}

/** COPY's DB options, walked as Redis's `copyCommand` walks them (every DB given counts). */
function copyDbs(argv: readonly Uint8Array[]): number[] {
  const dbs: number[] = [];
  for (let j = 3; j < argv.length; j++) {
    const additional = argv.length - j - 1;
    if (isWord(argv[j]!, "replace")) continue;
    if (isWord(argv[j]!, "db") && additional >= 1) {
      const db = dbIndex(argv[++j]);
      // Redis stops at the first bad index with an error: nothing after it is reached.
      if (db === undefined) break;
      dbs.push(db);
    } else {
      break;
    }
  }
  return dbs;
}

/**
 * The db indices a request (argv[0] is the command name) names in its
 * arguments: MOVE's target, COPY's DB options, SWAPDB's two, SELECT's. Arguments Redis
 * would refuse as indices are left out (Redis refuses the request).
 */
export function dbArguments(command: CommandSpec, argv: Uint8Array[]): number[] {
  const dbs: (number | undefined)[] = [];
  switch (command.name) {
    case "move":
      dbs.push(dbIndex(argv[2]));
      break;
    case "select":
      // Inside MULTI, SELECT is part of the transaction's op.
      dbs.push(dbIndex(argv[1]));
      break;
    case "swapdb":
      dbs.push(dbIndex(argv[1]), dbIndex(argv[2]));
      break;
    case "copy":
      return copyDbs(argv);
  }
  return dbs.filter((db) => db !== undefined);
}
