/**
 * What this node does for its peers: serve their reads from this rack, accept
 * their writes, take hand-backs, serve this rack's snapshot to a rebuild.
 */

import { route, transactionStep } from "../command/mod.ts";
import type { WriteCommand, WriteSubmitter } from "../log/write_request.ts";
import type { HandBack } from "../applier/hand_back.ts";
import { encodeError } from "../resp/encoder.ts";
import type { Protocol } from "../resp/value.ts";
import { PeerFlags, type PeerService, type PeerStream, type StreamLink } from "./peer_server.ts";
import type { RackHealth } from "./rack_health.ts";
import type { ReadService } from "../read/read_service.ts";

/**
 * The commands of a write another rack forwarded, checked by the same table
 * rules as a client's (a transaction's commands as MULTI queues them), or
 * the error refusing them.
 */
export function forwardedCommands(
  transaction: boolean,
  argvs: Uint8Array[][],
): WriteCommand[] | { error: string } {
  const commands: WriteCommand[] = [];
  for (const argv of argvs) {
    const r = route(argv);
    if (r.kind === "error" || r.kind === "refused") return { error: r.message };
    if (r.kind === "write") {
      commands.push({ argv, command: r.command, reply: r.reply });
      continue;
    }
    const step = transactionStep(r);
    if (transaction && step === "queue") {
      commands.push({ argv, command: r.command, reply: "data" });
      continue;
    }
    return {
      error: step === "queue" || !transaction
        ? `ERR command '${r.command.name}' cannot be forwarded as a write`
        : step.refusal,
    };
  }
  return commands;
}

/** Builds the {@linkcode PeerService} of a node. */
export function peerService(parts: {
  reads: ReadService;
  writes: WriteSubmitter;
  replies: HandBack;
  health: RackHealth;
  raft: (from: string, batch: Uint8Array) => void;
  propose: (group: string, data: Uint8Array) => Promise<string | undefined>;
  /** Serves this rack's snapshot to a rebuilding peer (src/rebuild/snapshot_source.ts). */
  snapshot?: (from: string, request: Uint8Array, link: StreamLink) => PeerStream | string;
}): PeerService {
  const { reads, writes, replies, health, raft, propose, snapshot } = parts;
  return {
    ...(snapshot === undefined ? {} : { snapshot }),
    read: (db, protocol, request, need) => reads.forPeer(db, protocol, request, need),
    async write(db: number, protocol: Protocol, transaction: boolean, argvs: Uint8Array[][]) {
      const commands = forwardedCommands(transaction, argvs);
      if ("error" in commands) return { reply: encodeError(commands.error), placement: undefined };
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
        (health.applies() ? PeerFlags.applies : 0) |
        (health.lacksData() ? PeerFlags.lacksData : 0);
    },
    raft,
    propose,
  };
}
