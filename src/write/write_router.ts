/**
 * Where a write is logged. Here while this rack applies the log; when it
 * cannot (its Redis is away), a write whose reply carries data goes to
 * another rack, whose apply gives the reply (identical by log order), while a
 * write answered once logged (src/write/answer_policy.ts) is still logged
 * here, and so is a watched transaction (its watch is this rack's position,
 * not the peer's). Either way this rack's Redis applies it when it returns.
 */

import type { Peers } from "../cluster/peers.ts";
import type { RackHealth } from "../cluster/rack_health.ts";
import type { Placement } from "../log/op_log.ts";
import type { WriteRequest, WriteSubmitter } from "../log/write_request.ts";
import { answerWhen } from "./answer_policy.ts";

/** Counters for `PYLON INFO`. */
export interface WriteRouterStats {
  writesForwarded: number;
}

/** Logs writes here, or hands them to another rack when this one cannot apply. */
export class WriteRouter {
  #writes: WriteSubmitter;
  #peers: Peers | undefined;
  #health: RackHealth;
  #ackLog: ReadonlySet<string>;
  #stats: WriteRouterStats = { writesForwarded: 0 };

  constructor(parts: {
    writes: WriteSubmitter;
    peers: Peers | undefined;
    health: RackHealth;
    /** Commands acknowledged once logged (a live set: a reload changes it). */
    ackLog: ReadonlySet<string>;
  }) {
    this.#writes = parts.writes;
    this.#peers = parts.peers;
    this.#health = parts.health;
    this.#ackLog = parts.ackLog;
  }

  stats(): WriteRouterStats {
    return { ...this.#stats };
  }

  /** Logs `request` here or through another rack; `reply` is called once. */
  write(request: WriteRequest, reply: (bytes: Uint8Array) => void): Promise<Placement | undefined> {
    const peers = this.#peers;
    if (
      this.#health.applies() || answerWhen(request, this.#ackLog) === "logged" ||
      request.watch !== undefined || peers === undefined || !peers.canForwardWrites()
    ) {
      return this.#writes.submit(request, reply);
    }
    this.#stats.writesForwarded++;
    return peers.forwardWrite(
      request.db,
      request.protocol,
      request.transaction,
      request.commands.map((c) => c.argv),
    ).then(({ reply: bytes, placement }) => {
      reply(bytes);
      return placement;
    }, (error: unknown) => {
      reply(new TextEncoder().encode(
        `-ERR the write was sent to another rack and its outcome is unknown (${
          (error as Error).message
        }); it may or may not be applied\r\n`,
      ));
      return undefined;
    });
  }
}
