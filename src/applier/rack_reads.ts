/**
 * What a node reads from its rack's Redis and from the log about the
 * applier's work, whichever node applies: the stored position of a
 * partition, replies stored for this node, and which op the log holds at an
 * offset. The I/O behind {@linkcode RackProgress} and {@linkcode ReplyRecovery}.
 */

import { encodeCommand } from "../resp/encoder.ts";
import { bulkPayload, frameText, isErrorFrame } from "../resp/frames.ts";
import type { Upstream } from "../redis/upstream.ts";
import { UpstreamError } from "../redis/upstream_connection.ts";
import type { OpLog } from "../log/op_log.ts";
import { decodeOp } from "../log/op.ts";
import { positionKey, replyKey } from "../meta_keys.ts";
import type { ReadPosition } from "./rack_progress.ts";
import type { FetchStored, VerifyOp } from "./reply_recovery.ts";

function send(upstream: Upstream, db: number, argv: string[]): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    upstream.send(encodeCommand(argv), db, 2, (reply) => {
      if (reply instanceof UpstreamError) reject(reply);
      else if (isErrorFrame(reply)) reject(new Error(frameText(reply)));
      else resolve(reply);
    });
  });
}

/** Reads a partition's stored position from the rack's master. */
export function readPosition(upstream: Upstream, metaDb: number): ReadPosition {
  return async (partition) => {
    const payload = bulkPayload(await send(upstream, metaDb, ["GET", positionKey(partition)]));
    if (payload === undefined) return undefined;
    const value = Number(new TextDecoder().decode(payload));
    return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  };
}

/** Takes (GETDEL) the replies another applier stored for this node's ops. */
export function fetchStoredReplies(upstream: Upstream, metaDb: number): FetchStored {
  return async (ids) => {
    const found = new Map<string, Uint8Array>();
    const replies = await Promise.all(
      ids.map((id) => send(upstream, metaDb, ["GETDEL", replyKey(id)])),
    );
    replies.forEach((reply, i) => {
      const payload = bulkPayload(reply);
      if (payload !== undefined) found.set(ids[i]!, payload.slice());
    });
    return found;
  };
}

/** Reads the op at an offset from the log and compares its id. */
export function verifyOpAt(opLog: OpLog): VerifyOp {
  return async (partition, offset, id) => {
    const reader = opLog.reader(partition, offset);
    try {
      const [record] = await reader.next({ recordsMax: 1, bytesMax: 1, waitMs: 2_000 });
      if (record === undefined || record.offset !== offset) return undefined;
      try {
        return decodeOp(record.value).id === id;
      } catch {
        return false;
      }
    } catch {
      return undefined;
    } finally {
      await reader.close();
    }
  };
}
