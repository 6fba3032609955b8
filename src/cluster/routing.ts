/**
 * Where a client's request is served. Reads go to this rack's Redis while it
 * is reachable and caught up with the log, and otherwise to the fastest
 * healthy rack over a peer link. Writes are logged here while this rack
 * applies the log; when it cannot (its Redis is away), a write whose reply
 * carries data goes to another rack, whose apply gives the reply (identical by
 * log order), while constant-reply writes in `ack=log` mode are still logged
 * here.
 */

import type { Protocol } from "../resp/value.ts";
import { UpstreamError } from "../redis/upstream_connection.ts";
import type { Upstream } from "../redis/upstream.ts";
import type { WritePath, WriteRequest } from "../gateway/write_path.ts";
import type { Peers } from "./peers.ts";

/** What this rack can do right now. */
export interface RackHealth {
  /** Its Redis is reachable and has applied (nearly) all of the log. */
  servesReads(): boolean;
  /** This node applies the log to a reachable Redis. */
  applies(): boolean;
}

/** Counters for `PYLON INFO`. */
export interface RoutingStats {
  readsForwarded: number;
  writesForwarded: number;
}

/** Routes reads and writes between this rack and its peers. */
export class Router {
  #upstream: Upstream;
  #writes: WritePath;
  #peers: Peers | undefined;
  #health: RackHealth;
  #ackLog: ReadonlySet<string>;
  #stats: RoutingStats = { readsForwarded: 0, writesForwarded: 0 };

  constructor(
    upstream: Upstream,
    writes: WritePath,
    peers: Peers | undefined,
    health: RackHealth,
    ackLog: ReadonlySet<string>,
  ) {
    this.#upstream = upstream;
    this.#writes = writes;
    this.#peers = peers;
    this.#health = health;
    this.#ackLog = ackLog;
  }

  stats(): RoutingStats {
    return { ...this.#stats };
  }

  /** Sends a read where it can be served; `sink` gets the raw reply or the error that lost it. */
  read(
    request: Uint8Array,
    db: number,
    protocol: Protocol,
    sink: (reply: Uint8Array | UpstreamError) => void,
  ): void {
    const peers = this.#peers;
    if (this.#health.servesReads() || peers === undefined || !peers.canForwardReads()) {
      this.#upstream.send(request, db, protocol, sink);
      return;
    }
    this.#stats.readsForwarded++;
    peers.forwardRead(db, protocol, request).then(sink, (error: unknown) => {
      sink(new UpstreamError(`no rack could serve the read: ${(error as Error).message}`));
    });
  }

  /** Logs a write here, or hands it to another rack when this one cannot apply. */
  write(request: WriteRequest, reply: (bytes: Uint8Array) => void): Promise<void> {
    const peers = this.#peers;
    const single = request.commands.length === 1 && !request.transaction
      ? request.commands[0]!
      : undefined;
    const ackOnLog = single !== undefined && single.reply === "constant" &&
      this.#ackLog.has(single.command.name);
    if (this.#health.applies() || ackOnLog || peers === undefined || !peers.canForwardWrites()) {
      return this.#writes.submit(request, reply);
    }
    this.#stats.writesForwarded++;
    return peers.forwardWrite(
      request.db,
      request.protocol,
      request.transaction,
      request.commands.map((c) => c.argv),
    )
      .then(reply, (error: unknown) => {
        reply(new TextEncoder().encode(
          `-ERR the write was sent to another rack and its outcome is unknown (${
            (error as Error).message
          }); ` +
            "it may or may not be applied\r\n",
        ));
      });
  }
}
