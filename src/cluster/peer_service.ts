/** What this node does for its peers: serve their reads from this rack, accept their writes, take hand-backs. */

import { isRackAdminRequest } from "../auth/rack_admin.ts";
import { queueableInTransaction, route } from "../command/mod.ts";
import type { Upstream } from "../redis/upstream.ts";
import { UpstreamError } from "../redis/upstream_connection.ts";
import type { WriteCommand, WriteSubmitter } from "../log/write_request.ts";
import type { HandBack } from "../applier/hand_back.ts";
import { encodeError } from "../resp/encoder.ts";
import type { Protocol } from "../resp/value.ts";
import { PeerFlags, type PeerService } from "./peer_server.ts";
import type { RackHealth } from "./rack_health.ts";
import type { Need, RackProgress } from "../applier/rack_progress.ts";
import { readShowing } from "../applier/rack_reads.ts";
import { isScriptRead, type ScriptRunner } from "../redis/script_runner.ts";

/** How long a forwarded read waits for this rack to apply the asking connection's writes. */
const NEED_WAIT_MS = 1_000;

/** Builds the {@linkcode PeerService} of a node. */
export function peerService(parts: {
  rack: string;
  upstream: Upstream;
  writes: WriteSubmitter;
  replies: HandBack;
  health: RackHealth;
  progress: RackProgress;
  metaDb: number;
  scripts: ScriptRunner;
  raft: (from: string, batch: Uint8Array) => void;
  propose: (group: string, data: Uint8Array) => Promise<string | undefined>;
}): PeerService {
  const { rack, upstream, writes, replies, health, progress, metaDb, scripts, raft, propose } =
    parts;
  return {
    async read(db: number, protocol: Protocol, request: Uint8Array, need: Need) {
      // Served here or not at all: a forwarded read is never forwarded again.
      if (!health.servesReads()) return { error: `rack '${rack}' cannot serve reads now` };
      if (isRackAdminRequest(request)) {
        return { error: "administration of one rack's Redis is never run for another rack" };
      }
      if (isScriptRead(request)) {
        if (need.size > 0) await progress.reached(need, NEED_WAIT_MS);
        const reply = await scripts.run(request, db, protocol);
        return typeof reply === "string" ? { reply: encodeError(reply) } : { reply };
      }
      if (need.size === 0) {
        return await new Promise<{ reply: Uint8Array } | { error: string }>((resolve) => {
          upstream.send(request, db, protocol, (reply) => {
            resolve(reply instanceof UpstreamError ? { error: reply.message } : { reply });
          });
        });
      }
      // Only from a Redis that shows the asking connection's own writes.
      const result = await readShowing(
        upstream,
        progress,
        metaDb,
        { request, db, protocol, need },
        performance.now() + NEED_WAIT_MS,
      );
      if (result.kind === "reply") return { reply: result.reply };
      if (result.kind === "error") return { error: result.error.message };
      return { error: `rack '${rack}' has not applied the connection's own writes yet` };
    },
    async write(db: number, protocol: Protocol, transaction: boolean, argvs: Uint8Array[][]) {
      const commands: WriteCommand[] = [];
      for (const argv of argvs) {
        const r = route(argv);
        if (r.kind === "error" || r.kind === "refused") {
          return { reply: encodeError(r.message), placement: undefined };
        }
        if (r.kind === "write") commands.push({ argv, command: r.command, reply: r.reply });
        else if (transaction && queueableInTransaction(r)) {
          commands.push({ argv, command: r.command, reply: "data" });
        } else {
          return {
            reply: encodeError(`ERR command '${r.command.name}' cannot be forwarded as a write`),
            placement: undefined,
          };
        }
      }
      let reply: Uint8Array | undefined;
      const placement = await writes.submit({ commands, transaction, db, protocol }, (bytes) => {
        reply = bytes;
      });
      return { reply: reply!, placement };
    },
    handBack(opId: string, reply: Uint8Array) {
      replies.received(opId, reply);
    },
    flags() {
      return (health.servesReads() ? PeerFlags.servesReads : 0) |
        (health.applies() ? PeerFlags.applies : 0);
    },
    raft,
    propose,
  };
}
