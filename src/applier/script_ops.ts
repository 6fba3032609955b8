/**
 * Scripts and functions as ops: `EVAL`, `EVALSHA` and `FCALL` run on every
 * rack, so they must do the same thing everywhere and must not reach Pylon's
 * metadata.
 *
 * - They run as a restricted Redis user, `pylon-script-ops`: the applier
 *   switches to it with `AUTH` inside its MULTI, around each script, and back.
 *   Redis checks the commands a script calls against that user, so a script
 *   cannot `SELECT` (nor `SWAPDB`, `MOVE`, `COPY`) into the metadata db, and
 *   cannot call what would draw something different on each rack (`TIME`,
 *   `RANDOMKEY`, `SPOP`, `SRANDMEMBER`, `HRANDFIELD`, `ZRANDMEMBER`): Redis
 *   refuses the call alike on every rack.
 * - `math.random` in a script is reseeded before it runs from the op's id, so
 *   every rack draws the same numbers (functions run in another Lua state that
 *   cannot be reseeded: `FUNCTION LOAD` of code naming `math.random` is refused
 *   by the gateway).
 * - Redis forgets its scripts when it restarts; `EVALSHA` must not then fail on
 *   one rack and run on the others. Every script body a rack applies (`EVAL`,
 *   `SCRIPT LOAD`) is kept in the metadata db (`pylon:scripts`, sha1 → body),
 *   and `EVALSHA` is applied as `EVAL` of the kept body.
 */

import { createHash } from "node:crypto";
import { encodeCommand } from "../resp/encoder.ts";
import { equalsIgnoreCase } from "../command/bytes.ts";
import type { RedisAccess } from "../redis/access.ts";

/** The restricted Redis user scripts applied as ops run as. */
export const SCRIPT_OP_USER = "pylon-script-ops";

/** The hash in the metadata db that keeps every script body applied: sha1 → body. */
export const SCRIPTS_KEY = "pylon:scripts";

/** Another db, or a value that differs from rack to rack. */
const DENIED = [
  "-select",
  "-swapdb",
  "-move",
  "-copy",
  "-@admin",
  "-time",
  "-randomkey",
  "-spop",
  "-srandmember",
  "-hrandfield",
  "-zrandmember",
];

/** What a command does to scripts. */
export type ScriptCommand =
  | { kind: "eval"; body: Uint8Array; sha: string }
  | { kind: "evalsha"; sha: string }
  | { kind: "fcall" }
  | { kind: "load"; body: Uint8Array; sha: string }
  | { kind: "flush" };

const utf8 = new TextDecoder();

/** The sha1 of a script body, as Redis names it (lowercase hex). */
export function scriptSha(body: Uint8Array): string {
  return createHash("sha1").update(body).digest("hex");
}

/** Whether `argv` runs or changes scripts, and how. */
export function scriptCommand(argv: readonly Uint8Array[]): ScriptCommand | undefined {
  const name = argv[0];
  if (name === undefined || name.length < 4 || name.length > 7) return undefined;
  if (equalsIgnoreCase(name, "eval") && argv[1] !== undefined) {
    return { kind: "eval", body: argv[1], sha: scriptSha(argv[1]) };
  }
  if (equalsIgnoreCase(name, "evalsha") && argv[1] !== undefined) {
    return { kind: "evalsha", sha: utf8.decode(argv[1]).toLowerCase() };
  }
  if (equalsIgnoreCase(name, "fcall")) return { kind: "fcall" };
  if (equalsIgnoreCase(name, "script") && argv[1] !== undefined) {
    if (equalsIgnoreCase(argv[1], "load") && argv.length === 3) {
      return { kind: "load", body: argv[2]!, sha: scriptSha(argv[2]!) };
    }
    if (equalsIgnoreCase(argv[1], "flush")) return { kind: "flush" };
  }
  return undefined;
}

/**
 * A seed for `math.randomseed` from an op's id and the command's place in it:
 * the same on every rack, another for every script run.
 */
export function randomSeed(opId: string, index: number): string {
  const digest = createHash("sha256").update(`${opId}/${index}`).digest();
  // 31 bits: Lua's number stays an exact integer and Redis's seed takes it whole.
  return String(digest.readUInt32BE(0) >>> 1);
}

/** The commands the applier needs to run scripts as the restricted user. */
export class ScriptOps {
  /** Creates (or refreshes) the restricted user. */
  readonly setUser: Uint8Array;
  /** Switches the applier's connection to the restricted user. */
  readonly authAsScripts: Uint8Array;
  /** Switches it back to Pylon's own user. */
  readonly authBack: Uint8Array;

  constructor(access: RedisAccess, logId: string) {
    // Only someone who already holds Pylon's Redis password can compute it.
    const password = createHash("sha256")
      .update(`${SCRIPT_OP_USER}|${access.password ?? ""}|${logId}`)
      .digest("hex");
    this.setUser = encodeCommand([
      "ACL",
      "SETUSER",
      SCRIPT_OP_USER,
      "reset",
      "on",
      `>${password}`,
      "~*",
      "&*",
      "+@all",
      ...DENIED,
    ]);
    this.authAsScripts = encodeCommand(["AUTH", SCRIPT_OP_USER, password]);
    // A password-less default user takes any password.
    this.authBack = encodeCommand([
      "AUTH",
      access.username ?? "default",
      access.password ?? "pylon",
    ]);
  }
}

/**
 * The next script on this Redis draws from `seed`. One body for every seed, so
 * Redis caches one script, not one per op.
 */
export function reseedCommand(seed: string): Uint8Array {
  return encodeCommand(["EVAL", "math.randomseed(tonumber(ARGV[1]))", "0", seed]);
}
