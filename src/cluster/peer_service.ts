/** What this node does for its peers: serve their reads from this rack, accept their writes, take hand-backs. */

import { route } from "../command/mod.ts";
import type { Upstream } from "../redis/upstream.ts";
import { UpstreamError } from "../redis/upstream_connection.ts";
import type { WriteCommand, WritePath } from "../gateway/write_path.ts";
import type { PendingWrites } from "../applier/pending_writes.ts";
import { encodeError } from "../resp/encoder.ts";
import type { Protocol } from "../resp/value.ts";
import { PeerFlags, type PeerService } from "./peer_server.ts";
import type { RackHealth } from "./routing.ts";

/** Builds the {@linkcode PeerService} of a node. */
export function peerService(
  rack: string,
  upstream: Upstream,
  writes: WritePath,
  pending: PendingWrites,
  health: RackHealth,
  raft: (from: string, batch: Uint8Array) => void,
  propose: (group: string, data: Uint8Array) => Promise<string | undefined>,
): PeerService {
  return {
    read(db: number, protocol: Protocol, request: Uint8Array) {
      // Served here or not at all: a forwarded read is never forwarded again.
      if (!health.servesReads()) {
        return Promise.resolve({ error: `rack '${rack}' cannot serve reads now` });
      }
      return new Promise((resolve) => {
        upstream.send(request, db, protocol, (reply) => {
          resolve(reply instanceof UpstreamError ? { error: reply.message } : { reply });
        });
      });
    },
    write(db: number, protocol: Protocol, transaction: boolean, argvs: Uint8Array[][]) {
      const commands: WriteCommand[] = [];
      for (const argv of argvs) {
        const r = route(argv);
        if (r.kind === "error" || r.kind === "refused") {
          return Promise.resolve(encodeError(r.message));
        }
        if (r.kind === "write") commands.push({ argv, command: r.command, reply: r.reply });
        else if (transaction && (r.kind === "read" || r.kind === "local")) {
          commands.push({ argv, command: r.command, reply: "data" });
        } else {
          return Promise.resolve(
            encodeError(`ERR command '${r.command.name}' cannot be forwarded as a write`),
          );
        }
      }
      return new Promise<Uint8Array>((resolve) => {
        void writes.submit({ commands, transaction, db, protocol }, resolve);
      });
    },
    handBack(opId: string, reply: Uint8Array) {
      pending.deliver(opId, reply);
    },
    flags() {
      return (health.servesReads() ? PeerFlags.servesReads : 0) |
        (health.applies() ? PeerFlags.applies : 0);
    },
    raft,
    propose,
  };
}
