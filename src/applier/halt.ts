/**
 * Halting a rack whose data may differ from the other racks' (a rack
 * condition met inside a transaction that ran; a divergence found). The
 * reason is kept in the rack's own Redis, beside the data it speaks of, so a
 * restarted node halts again instead of applying on; the rack serves no
 * reads meanwhile. It ends when the Redis is rebuilt: emptied (FLUSHALL on
 * that Redis), the applier replays the log into it; or, if the operator
 * knows the data is right, `DEL pylon:halted` in the metadata db.
 */

import { encodeCommand } from "../resp/encoder.ts";
import { bulkPayload, frameText, isErrorFrame } from "../resp/frames.ts";
import type { CommandRunner } from "../redis/command_runner.ts";
import { HALTED_KEY } from "../meta_keys.ts";

/** The applier stops here: the rack's data may differ from the others'. */
export class RackHalted extends Error {
  override name = "RackHalted";
  constructor(reason: string) {
    super(
      `this rack is halted: ${reason}. It applies nothing and serves no reads until its Redis ` +
        `is rebuilt (FLUSHALL on that Redis: the log is replayed into it) or, if its data is ` +
        `known to be right, '${HALTED_KEY}' is deleted from Pylon's metadata db`,
    );
  }
}

/**
 * Sets the halt in the metadata db even when the Redis is out of memory (its
 * condition is often why): a script flagged `allow-oom`.
 */
const HALT_SCRIPT = "#!lua flags=allow-oom\nredis.call('SELECT', ARGV[1])\n" +
  "return redis.call('SET', ARGV[2], ARGV[3])";

/** Records in the rack's Redis why it is halted (the connection ends in the metadata db). */
export async function haltRack(
  connection: CommandRunner,
  metaDb: number,
  reason: string,
): Promise<void> {
  const [set] = await connection.run([
    encodeCommand(["EVAL", HALT_SCRIPT, "0", String(metaDb), HALTED_KEY, reason]),
    encodeCommand(["SELECT", String(metaDb)]),
  ]);
  if (isErrorFrame(set!)) throw new Error(`recording the halt: ${frameText(set!)}`);
}

/** Why the rack's Redis is halted, or undefined; the connection must be in the metadata db. */
export async function haltedReason(connection: CommandRunner): Promise<string | undefined> {
  const [frame] = await connection.run([encodeCommand(["GET", HALTED_KEY])]);
  const reason = bulkPayload(frame!);
  return reason === undefined ? undefined : new TextDecoder().decode(reason);
}
