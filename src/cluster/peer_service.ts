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
    // A blocking pop's try (src/gateway/blocking_call.ts): an op that never blocks, as any write.
    if (r.kind === "blocking" && r.command.name !== "xread") {
      commands.push({ argv, command: r.command, reply: "data" });
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

/** One blocking pop alone: a try another rack's node forwarded. */
function isForwardedTry(commands: WriteCommand[]): boolean {
  return commands.length === 1 && commands[0]!.command.flags.includes("blocking");
}

const ONE_ITEM = new TextEncoder().encode("*1\r\n");

/** The one reply inside EXEC's `*1` array (anything else, an error, as it is). */
function execItem(reply: Uint8Array): Uint8Array {
  return ONE_ITEM.every((byte, i) => reply[i] === byte) ? reply.subarray(ONE_ITEM.length) : reply;
}

/** Builds the {@linkcode PeerService} of a node. */
export function peerService(parts: {
  reads: ReadService;
  writes: WriteSubmitter;
  replies: HandBack;
  health: RackHealth;
  raft: (from: string, batch: Uint8Array) => void;
  propose: (group: string, data: Uint8Array) => Promise<string | undefined>;
  /** Whether this node runs its rack's applier. */
  leads: () => boolean;
  /** The divergence checker's answers (src/divergence/checker.ts). */
  divergence: (type: number, payload: Uint8Array) => Promise<Uint8Array>;

  /** Serves this rack's snapshot to a rebuilding peer (src/rebuild/snapshot_source.ts). */
  snapshot?: (from: string, request: Uint8Array, link: StreamLink) => PeerStream | string;
}): PeerService {
  const { reads, writes, replies, health, raft, propose, leads, divergence, snapshot } = parts;
  return {
    ...(snapshot === undefined ? {} : { snapshot }),
    read: (db, protocol, request, need) => reads.forPeer(db, protocol, request, need),
    async write(db: number, protocol: Protocol, transaction: boolean, argvs: Uint8Array[][]) {
      const commands = forwardedCommands(transaction, argvs);
      if ("error" in commands) return { reply: encodeError(commands.error), placement: undefined };
      // A blocking pop's try from another rack's node is logged as a one-command transaction:
      // no claim is kept here for a client this node does not hold (src/applier/claims.ts).
      const asTransaction = transaction || isForwardedTry(commands);
      let reply: Uint8Array | undefined;
      const placement = await writes.submit(
        { commands, transaction: asTransaction, db, protocol },
        (bytes) => {
          reply = bytes;
        },
      );
      return { reply: asTransaction && !transaction ? execItem(reply!) : reply!, placement };
    },
    handBack(opId: string, reply: Uint8Array) {
      replies.received(opId, reply);
    },
    flags() {
      return (health.servesReads() ? PeerFlags.servesReads : 0) |
        (health.applies() ? PeerFlags.applies : 0) | (leads() ? PeerFlags.leads : 0) |
        (health.lacksData() ? PeerFlags.lacksData : 0);
    },
    raft,
    propose,
    divergence,
  };
}
