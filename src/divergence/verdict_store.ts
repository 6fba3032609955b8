/** The divergence verdict kept in the rack's Redis (metadata db), read and written through the node's upstream. */

import { DIVERGED_KEY } from "../meta_keys.ts";
import type { Upstream } from "../redis/upstream.ts";
import { UpstreamError } from "../redis/upstream_connection.ts";
import { encodeCommand } from "../resp/encoder.ts";
import { bulkPayload, frameText, isErrorFrame } from "../resp/frames.ts";
import type { VerdictStore } from "./guard.ts";

/** A {@linkcode VerdictStore} on the rack's Redis, key `pylon:diverged` of `metaDb`. */
export function verdictStore(upstream: Upstream, metaDb: number): VerdictStore {
  const run = (argv: (string | Uint8Array)[]) =>
    new Promise<Uint8Array>((resolve, reject) => {
      upstream.send(encodeCommand(argv), metaDb, 2, (reply) => {
        if (reply instanceof UpstreamError) reject(reply);
        else if (isErrorFrame(reply)) reject(new Error(frameText(reply)));
        else resolve(reply);
      });
    });
  return {
    read: async () => {
      const payload = bulkPayload(await run(["GET", DIVERGED_KEY]));
      return payload === undefined ? undefined : new TextDecoder().decode(payload);
    },
    write: async (text) => {
      await run(["SET", DIVERGED_KEY, text]);
    },
  };
}
