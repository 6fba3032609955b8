/**
 * The divergence verdict kept in the rack's Redis (metadata db, `pylon:diverged`),
 * on a connection of its own: the node's read connections are not opened for it.
 */

import { DIVERGED_KEY } from "../meta_keys.ts";
import type { HostPort } from "../net/address.ts";
import type { CommandRunner } from "../redis/command_runner.ts";
import { encodeCommand } from "../resp/encoder.ts";
import { bulkPayload, frameText, isErrorFrame } from "../resp/frames.ts";
import type { VerdictStore } from "./guard.ts";

/** Where the rack's master is, and a connection to it. */
export interface StoreTarget {
  address(): HostPort | undefined;
  connect(address: HostPort): Promise<CommandRunner>;
}

/** A {@linkcode VerdictStore} on the rack's master, key `pylon:diverged` of `metaDb`. */
export function verdictStore(
  target: StoreTarget,
  metaDb: number,
): VerdictStore & { close(): void } {
  let connection: CommandRunner | undefined;
  const run = async (argv: (string | Uint8Array)[]): Promise<Uint8Array> => {
    if (connection === undefined || connection.closed) {
      const address = target.address();
      if (address === undefined) throw new Error("no Redis master known");
      connection = await target.connect(address);
    }
    try {
      const [selected, reply] = await connection.run([
        encodeCommand(["SELECT", String(metaDb)]),
        encodeCommand(argv),
      ]);
      for (const frame of [selected!, reply!]) {
        if (isErrorFrame(frame)) throw new Error(frameText(frame));
      }
      return reply!;
    } catch (error) {
      connection.close();
      throw error;
    }
  };
  return {
    read: async () => {
      const payload = bulkPayload(await run(["GET", DIVERGED_KEY]));
      return payload === undefined ? undefined : new TextDecoder().decode(payload);
    },
    write: async (text) => {
      await run(["SET", DIVERGED_KEY, text]);
    },
    close: () => connection?.close(),
  };
}
