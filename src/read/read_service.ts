/**
 * Reads: the one implementation the gateway (a client's read) and the peer
 * service (a read another rack forwarded) share.
 *
 * A read is served by a rack only once that rack has applied everything the
 * reading connection must see (`need`: its own writes, its watch position, a
 * strong read's log end), checked on the same Redis connection right before
 * the read, so both describe one state of one Redis. A rack that has not got
 * there waits up to {@linkcode READ_WAIT_MS}; a client's read then goes to the
 * fastest healthy rack, which serves it or fails it — a forwarded read is
 * never forwarded again. Reads that run scripts run as the restricted script
 * user; rack administration is served by this rack's Redis alone. What a
 * request is comes from the command table, decided once.
 */

import type { Need, RackProgress } from "../applier/rack_progress.ts";
import { positionKey } from "../meta_keys.ts";
import { route } from "../command/mod.ts";
import type { Peers } from "../cluster/peers.ts";
import type { RackHealth } from "../cluster/rack_health.ts";
import type { ScriptRunner } from "../redis/script_runner.ts";
import type { Upstream } from "../redis/upstream.ts";
import { UpstreamError } from "../redis/upstream_connection.ts";
import { encodeCommand, encodeError } from "../resp/encoder.ts";
import { bulkPayload } from "../resp/frames.ts";
import { RequestDecoder } from "../resp/request_decoder.ts";
import type { Protocol } from "../resp/value.ts";

/** How long a rack waits to have applied what a read must see, before the read goes elsewhere or fails. */
export const READ_WAIT_MS = 5_000;

/** Delays between retries of a client's read whose Redis connection failed (failover, restart). */
const READ_RETRY_DELAYS_MS = [50, 200, 500, 1_000];

/** One read, as the table classified it. */
export interface Read {
  /** The encoded request (the client's own bytes where they arrived in one piece). */
  request: Uint8Array;
  db: number;
  protocol: Protocol;
  /** Per partition, the position the serving rack must have applied. */
  need: Need;
  /** It runs a script: as the restricted script user. */
  script: boolean;
  /** Rack administration: this rack's Redis only, never another rack's. */
  localOnly: boolean;
}

/** What serving a read here gave. */
export type HereResult =
  | { kind: "reply"; reply: Uint8Array }
  /** This rack has not applied `need` by the deadline. */
  | { kind: "behind" }
  | { kind: "error"; error: UpstreamError };

/** Counters for `PYLON INFO`. */
export interface ReadStats {
  readsForwarded: number;
  /** Reads that waited for this rack to apply what they must see, in vain. */
  readsWaited: number;
}

/** What the read service reads from and through. */
export interface ReadParts {
  rack: string;
  upstream: Upstream;
  progress: RackProgress;
  metaDb: number;
  scripts: ScriptRunner;
  health: RackHealth;
  /** Other racks, for reads this one cannot serve (undefined: a one-rack world). */
  peers: Peers | undefined;
  /**
   * Why this rack's Redis must serve no reads at all (it diverged from the
   * world: src/divergence/), or undefined. Its reads go to another rack or fail.
   */
  diverged?: () => string | undefined;
}

const LACKS_DATA = (rack: string) =>
  `rack '${rack}' is waiting for a rebuild from a peer (its Redis lacks ops the log no longer ` +
  `holds) and no other rack can serve the read now`;

const NOT_APPLIED = (rack: string) =>
  `rack '${rack}' has not applied what the read must see within ${READ_WAIT_MS} ms`;

/** Serves reads here, or at another rack when this one cannot. */
export class ReadService {
  #parts: ReadParts;
  #stats: ReadStats = { readsForwarded: 0, readsWaited: 0 };

  constructor(parts: ReadParts) {
    this.#parts = parts;
  }

  stats(): ReadStats {
    return { ...this.#stats };
  }

  /**
   * Whether a client's read arriving now is served by this rack's Redis: it
   * answers, and the rack serves reads (caught up) or no other rack can. The
   * same decision {@linkcode serve} takes, and what `/readyz` and `PYLON
   * INFO` report, so they say what reads do at the moment they are asked.
   */
  servesHere(): boolean {
    const { health, peers, upstream } = this.#parts;
    if (!upstream.healthy || health.lacksData() || this.#parts.diverged?.() !== undefined) {
      return false;
    }
    return health.servesReads() || !(peers?.canForwardReads() ?? false);
  }

  /**
   * A client's read: served by this rack once it has applied `read.need`,
   * else by the fastest rack that has. `sink` gets Redis's raw reply, or the
   * error that lost it; a read whose Redis connection failed is retried on a
   * fresh one a few times.
   */
  serve(read: Read, sink: (reply: Uint8Array | UpstreamError) => void): void {
    const attempt = (n: number) => {
      this.#serveOnce(read, (reply, final) => {
        const delay = READ_RETRY_DELAYS_MS[n];
        if (!(reply instanceof UpstreamError) || final || delay === undefined) return sink(reply);
        setTimeout(() => attempt(n + 1), delay);
      });
    };
    attempt(0);
  }

  /**
   * A read another rack forwarded: served here or not at all. The table
   * decides what it is; only reads are served for another rack. An empty
   * request only asks whether this rack has applied `need`.
   */
  async forPeer(
    db: number,
    protocol: Protocol,
    request: Uint8Array,
    need: Need,
  ): Promise<{ reply: Uint8Array } | { error: string }> {
    const { health, progress, rack } = this.#parts;
    if (!health.servesReads() || this.#parts.diverged?.() !== undefined) {
      return { error: `rack '${rack}' cannot serve reads now` };
    }
    if (request.length === 0) {
      return await progress.reached(need, READ_WAIT_MS)
        ? { reply: OK }
        : { error: NOT_APPLIED(rack) };
    }
    const decoder = new RequestDecoder();
    decoder.push(request);
    let argv: Uint8Array[] | undefined;
    try {
      argv = decoder.next();
    } catch {
      argv = undefined;
    }
    if (argv === undefined || decoder.bufferedBytes > 0) {
      return { error: "a forwarded read must be one whole request" };
    }
    const routed = route(argv);
    if (routed.kind === "error") return { reply: encodeError(routed.message) };
    if (routed.kind === "rack-admin") {
      return { error: "administration of one rack's Redis is never run for another rack" };
    }
    if (routed.kind !== "read") {
      return {
        error: `'${routed.command.name}' is not a read; only reads are served for another rack`,
      };
    }
    const read: Read = {
      request,
      db,
      protocol,
      need,
      script: routed.command.scriptRead === true,
      localOnly: false,
    };
    const result = await this.here(read, performance.now() + READ_WAIT_MS);
    if (result.kind === "reply") return { reply: result.reply };
    if (result.kind === "error") return { error: result.error.message };
    return { error: NOT_APPLIED(rack) };
  }

  /**
   * Serves `read` from this rack's Redis once it shows `read.need`, waiting
   * until `deadlineMs` (`performance.now()`); then says the rack is behind.
   */
  async here(read: Read, deadlineMs: number): Promise<HereResult> {
    const { upstream, progress, scripts } = this.#parts;
    if (read.script) {
      // Scripts run as a Redis user that cannot reach Pylon's metadata (src/redis/script_runner.ts).
      if (read.need.size > 0) {
        const left = deadlineMs - performance.now();
        if (left <= 0 || !await progress.reached(read.need, left)) return { kind: "behind" };
      }
      const reply = await scripts.run(read.request, read.db, read.protocol);
      return { kind: "reply", reply: typeof reply === "string" ? encodeError(reply) : reply };
    }
    if (read.need.size === 0) {
      return await new Promise((resolve) => {
        upstream.send(read.request, read.db, read.protocol, (reply) => {
          resolve(
            reply instanceof UpstreamError ? { kind: "error", error: reply } : {
              kind: "reply",
              reply,
            },
          );
        });
      });
    }
    return await this.#showing(read, deadlineMs);
  }

  /** One try; `final` marks an error a retry would not mend (no rack has applied what it needs). */
  #serveOnce(read: Read, sink: (reply: Uint8Array | UpstreamError, final?: boolean) => void): void {
    const { peers, health } = this.#parts;
    // The same decision as servesHere(): another rack serves it when this one does not.
    const canForward = !read.localOnly && peers !== undefined && peers.canForwardReads();
    const forward = () => {
      this.#stats.readsForwarded++;
      peers!.forwardRead(read.db, read.protocol, read.request, read.need).then(sink, (error) => {
        sink(new UpstreamError(`no rack could serve the read: ${(error as Error).message}`));
      });
    };
    if (canForward && !health.servesReads()) return forward();
    if (health.lacksData() && !read.localOnly) {
      // Never from a Redis that lacks part of the history, even when no other rack can serve.
      return sink(new UpstreamError(LACKS_DATA(this.#parts.rack)), true);
    }
    // A rack that diverged serves nothing from its Redis (rack administration aside).
    const diverged = read.localOnly ? undefined : this.#parts.diverged?.();
    if (diverged !== undefined) {
      if (canForward) return forward();
      return sink(
        new UpstreamError(
          `rack '${this.#parts.rack}' diverged from the world and no other rack can serve the ` +
            `read now (${diverged})`,
        ),
        true,
      );
    }
    void this.here(read, performance.now() + READ_WAIT_MS).then((result) => {
      if (result.kind === "reply") return sink(result.reply);
      if (result.kind === "error") return sink(result.error);
      this.#stats.readsWaited++;
      if (canForward) return forward();
      sink(new UpstreamError(NOT_APPLIED(this.#parts.rack)), true);
    });
  }

  /**
   * Reads only once this rack's Redis shows `need`: each attempt reads the
   * stored positions on the same connection, right before the read (a
   * failover can roll a Redis back under an open connection).
   */
  #showing(read: Read, deadlineMs: number): Promise<HereResult> {
    const { upstream, progress, metaDb } = this.#parts;
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
}

const OK = new TextEncoder().encode("+OK\r\n");

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
