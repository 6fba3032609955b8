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
import type { Need, RackProgress, ReadPosition } from "./rack_progress.ts";
import type { Protocol } from "../resp/value.ts";
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

/** What {@linkcode readShowing} found. */
export type ShowingRead =
  | { kind: "reply"; reply: Uint8Array }
  | { kind: "behind" }
  | { kind: "error"; error: UpstreamError };

/**
 * Reads from the rack's Redis only once it shows `need` (the reading
 * connection's own writes): each attempt checks the stored positions on the
 * same connection, right before the read, so both describe one state of one
 * Redis (a failover can roll a Redis back under an open connection). Waits
 * until `deadlineMs` (`performance.now()`), then says the rack is behind.
 */
export function readShowing(
  upstream: Upstream,
  progress: RackProgress,
  metaDb: number,
  read: { request: Uint8Array; db: number; protocol: Protocol; need: Need },
  deadlineMs: number,
): Promise<ShowingRead> {
  const checks = [...read.need.keys()].map((partition) => ({
    request: encodeCommand(["GET", positionKey(partition)]),
    db: metaDb,
  }));
  return new Promise((resolve) => {
    const attempt = () => {
      upstream.sendTogether(checks, read.request, read.db, read.protocol, (replies) => {
        if (replies instanceof UpstreamError) return resolve({ kind: "error", error: replies });
        if (shows(read.need, replies)) {
          return resolve({ kind: "reply", reply: replies[replies.length - 1]! });
        }
        const left = deadlineMs - performance.now();
        if (left <= 0) return resolve({ kind: "behind" });
        progress.invalidate();
        void progress.reached(read.need, left).then(attempt);
      });
    };
    attempt();
  });
}

/** Whether the positions read (one per needed partition, in order) reach `need`. */
function shows(need: Need, positions: Uint8Array[]): boolean {
  let i = 0;
  for (const position of need.values()) {
    const payload = bulkPayload(positions[i++]!);
    const value = payload === undefined ? -1 : Number(new TextDecoder().decode(payload));
    if (!(value >= position)) return false;
  }
  return true;
}
