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
import { acknowledgedOnLog, type WriteRequest, type WriteSubmitter } from "../write/write_path.ts";
import type { Placement } from "../log/op_log.ts";
import type { Need, RackProgress } from "../applier/rack_progress.ts";
import { readShowing } from "../applier/rack_reads.ts";
import { isScriptRead, type ScriptRunner } from "../redis/script_runner.ts";
import { encodeError } from "../resp/encoder.ts";
import type { Peers } from "../cluster/peers.ts";
import type { RackHealth } from "../cluster/rack_health.ts";

/** Counters for `PYLON INFO`. */
export interface RoutingStats {
  readsForwarded: number;
  writesForwarded: number;
  /** Reads that waited for this rack to apply their connection's writes. */
  readsWaited: number;
}

/** How long a read waits for its rack to apply its connection's writes before going elsewhere. */
const READ_YOUR_WRITES_WAIT_MS = 5_000;

/** Routes reads and writes between this rack and its peers. */
export class Router {
  #upstream: Upstream;
  #writes: WriteSubmitter;
  #peers: Peers | undefined;
  #health: RackHealth;
  #ackLog: ReadonlySet<string>;
  #progress: RackProgress;
  #metaDb: number;
  #scripts: ScriptRunner;
  #stats: RoutingStats = { readsForwarded: 0, writesForwarded: 0, readsWaited: 0 };

  constructor(
    upstream: Upstream,
    options: {
      writes: WriteSubmitter;
      peers: Peers | undefined;
      health: RackHealth;
      progress: RackProgress;
      ackLog: ReadonlySet<string>;
      metaDb: number;
      scripts: ScriptRunner;
    },
  ) {
    this.#metaDb = options.metaDb;
    this.#scripts = options.scripts;
    this.#upstream = upstream;
    this.#writes = options.writes;
    this.#peers = options.peers;
    this.#health = options.health;
    this.#progress = options.progress;
    this.#ackLog = options.ackLog;
  }

  stats(): RoutingStats {
    return { ...this.#stats };
  }

  /**
   * Sends a read where it can be served: this rack once it has applied the
   * connection's own writes (`need`), else another rack that has. `sink` gets
   * the raw reply or the error that lost it.
   */
  read(
    request: Uint8Array,
    db: number,
    protocol: Protocol,
    sink: (reply: Uint8Array | UpstreamError) => void,
    need: Need,
    localOnly = false,
  ): void {
    const peers = this.#peers;
    const forward = () => {
      this.#stats.readsForwarded++;
      peers!.forwardRead(db, protocol, request, need).then(sink, (error: unknown) => {
        sink(new UpstreamError(`no rack could serve the read: ${(error as Error).message}`));
      });
    };
    const canForward = !localOnly && peers !== undefined && peers.canForwardReads();
    if (!this.#health.servesReads() && canForward) return forward();
    if (isScriptRead(request)) {
      // Scripts run as a Redis user that cannot reach Pylon's metadata (see script_runner.ts).
      void (async () => {
        if (need.size > 0) await this.#progress.reached(need, READ_YOUR_WRITES_WAIT_MS);
        const reply = await this.#scripts.run(request, db, protocol);
        sink(typeof reply === "string" ? encodeError(reply) : reply);
      })();
      return;
    }
    if (need.size === 0) {
      this.#upstream.send(request, db, protocol, sink);
      return;
    }
    // The connection wrote: read only from a Redis that shows its writes.
    void readShowing(
      this.#upstream,
      this.#progress,
      this.#metaDb,
      { request, db, protocol, need },
      performance.now() + READ_YOUR_WRITES_WAIT_MS,
    ).then((result) => {
      if (result.kind === "reply") return sink(result.reply);
      if (result.kind === "error") return sink(result.error);
      this.#stats.readsWaited++;
      if (canForward) return forward();
      sink(
        new UpstreamError(
          `this rack has not applied the connection's own writes within ${READ_YOUR_WRITES_WAIT_MS} ms`,
        ),
      );
    });
  }

  /** Logs a write here, or hands it to another rack when this one cannot apply. */
  write(
    request: WriteRequest,
    reply: (bytes: Uint8Array) => void,
  ): Promise<Placement | undefined> {
    const peers = this.#peers;
    const ackOnLog = acknowledgedOnLog(request, this.#ackLog);
    // Constant-reply writes in ack=log mode are logged here even when this rack cannot apply;
    // so is a watched transaction (its watch is this rack's position, not the peer's).
    if (
      this.#health.applies() || ackOnLog || request.watch !== undefined || peers === undefined ||
      !peers.canForwardWrites()
    ) {
      return this.#writes.submit(request, reply);
    }
    this.#stats.writesForwarded++;
    return peers.forwardWrite(
      request.db,
      request.protocol,
      request.transaction,
      request.commands.map((c) => c.argv),
    )
      .then(({ reply: bytes, placement }) => {
        reply(bytes);
        return placement;
      }, (error: unknown) => {
        reply(new TextEncoder().encode(
          `-ERR the write was sent to another rack and its outcome is unknown (${
            (error as Error).message
          }); ` +
            "it may or may not be applied\r\n",
        ));
        return undefined;
      });
  }
}
