/**
 * The source side of a rebuild: a node of a healthy rack serves its rack's
 * snapshot to a rebuilding node over their authenticated peer link.
 *
 * The snapshot is taken the way a Redis replica takes one: this node opens a
 * replication connection to its rack's Redis master (`REPLCONF rdb-only 1`,
 * `REPLCONF capa eof`, `SYNC`), and Redis forks and sends an RDB of its
 * whole dataset as of one instant — client data and Pylon's metadata db
 * together, so the log positions (and log times) in it are exactly those of
 * the data beside them, written by the same MULTI/EXEC. The master keeps
 * serving and the rack keeps applying meanwhile; the connection announces
 * itself as `pylon-snapshot.invalid` (a name that never resolves), so
 * Sentinel, which learns replicas from the master's INFO, does not record it
 * as a replica of the rack.
 *
 * The RDB's bytes are passed on as they arrive, never collected: only while
 * the asker's credit lasts (src/rebuild/frames.ts), and only while the peer
 * socket keeps up; otherwise the Redis connection is paused, which holds
 * Redis's fork back through TCP. One snapshot at a time per node (a rebuild
 * asks its source rack's leader, so one per rack): another is refused with
 * the reason, as is any while this rack does not serve reads.
 */

import type * as net from "node:net";
import { getLogger } from "@logtape/logtape";
import { connectSocket } from "../redis/connect.ts";
import { authArgs, type RedisAccess } from "../redis/access.ts";
import { describe, type HostPort } from "../net/address.ts";
import { encodeCommand } from "../resp/encoder.ts";
import { concatBytes, plainBytes } from "../resp/bytes.ts";
import { bulkPayload } from "../resp/frames.ts";
import type { CommandRunner } from "../redis/command_runner.ts";
import type { PeerStream, StreamLink } from "../cluster/peer_server.ts";
import { FrameType } from "../cluster/peer_protocol.ts";
import { SyncStream } from "./sync_stream.ts";
import {
  BYTES_HEAD,
  decodeRequest,
  encodeEnd,
  encodeHeader,
  encodeStart,
  KEEPALIVE,
  type SnapshotHeader,
} from "./frames.ts";

const log = getLogger(["pylon", "rebuild", "source"]);

/** The largest SnapshotData frame of payload bytes. */
export const SNAPSHOT_CHUNK_BYTES = 256 * 1024;

/** How this connection names itself to Redis (INFO replication): never resolves, so Sentinel skips it. */
export const SNAPSHOT_ANNOUNCE = "pylon-snapshot.invalid";

/** How long connecting to the rack's Redis may take. */
const CONNECT_TIMEOUT_MS = 5_000;

/** Keepalives passed on to the asker at most this often (Redis sends one a second). */
const KEEPALIVE_INTERVAL_MS = 1_000;

/** What a source node needs. */
export interface SnapshotSourceParts {
  nodeId: string;
  rack: string;
  metaDb: number;
  /** Whether this rack serves reads now (caught up, applying): only then is its snapshot whole. */
  servesReads(): boolean;
  /** The rack's Redis master now. */
  master(): HostPort | undefined;
  /** How to reach it (TLS, credentials). */
  access: RedisAccess;
  /** `databases` of the rack's Redis. */
  databases(): number;
  /** The keys and the version of the rack's Redis, read before the snapshot starts. */
  describeRedis(address: HostPort): Promise<{ keys: number; version: string }>;
}

/** Counters for `PYLON INFO` and `/metrics`. */
export interface SnapshotSourceStats {
  /** The asking node of the snapshot being served, if one is. */
  serving: string | undefined;
  servingBytes: number;
  served: number;
  failed: number;
  refused: number;
  bytesSent: number;
}

/** Serves this rack's snapshot to rebuilding peers, one at a time. */
export class SnapshotSource {
  #parts: SnapshotSourceParts;
  #current: Serving | undefined;
  #stats = { served: 0, failed: 0, refused: 0, bytesSent: 0 };

  constructor(parts: SnapshotSourceParts) {
    this.#parts = parts;
  }

  stats(): SnapshotSourceStats {
    return {
      serving: this.#current?.asker,
      servingBytes: this.#current?.sent ?? 0,
      ...this.#stats,
      bytesSent: this.#stats.bytesSent + (this.#current?.sent ?? 0),
    };
  }

  /** A peer's request (the peer service's `snapshot`): the stream, or why it is refused. */
  serve(from: string, payload: Uint8Array, link: StreamLink): PeerStream | string {
    const refusal = this.#refusal(payload);
    if (refusal !== undefined) {
      this.#stats.refused++;
      log.warning("refused a snapshot to node {from}: {refusal}", { from, refusal });
      return refusal;
    }
    const request = decodeRequest(payload);
    const asker = `${request.node} (rack ${request.rack})`;
    const serving = new Serving(this.#parts, link, asker, request.creditBytes, (outcome) => {
      if (this.#current === serving) this.#current = undefined;
      this.#stats.bytesSent += serving.sent;
      if (outcome === "served") this.#stats.served++;
      else this.#stats.failed++;
    });
    this.#current = serving;
    void serving.run();
    return serving;
  }

  /** Stops the snapshot being served (the node stops). */
  stop(): void {
    this.#current?.cancel();
  }

  #refusal(payload: Uint8Array): string | undefined {
    const { rack } = this.#parts;
    try {
      decodeRequest(payload);
    } catch {
      return "malformed snapshot request";
    }
    const current = this.#current;
    if (current !== undefined) {
      return `rack '${rack}' is already serving a snapshot (to node ${current.asker}, ` +
        `${Math.round((performance.now() - current.startedAt) / 1000)} s, ` +
        `${current.sent} bytes so far); it serves one at a time`;
    }
    if (!this.#parts.servesReads()) {
      return `rack '${rack}' does not serve reads now (its Redis is down, catching up or ` +
        `itself waiting for a rebuild), so its snapshot may lack ops`;
    }
    if (this.#parts.master() === undefined) return `rack '${rack}' knows no Redis master now`;
    return undefined;
  }
}

/** One snapshot being served. */
class Serving implements PeerStream {
  readonly asker: string;
  readonly startedAt = performance.now();
  /** Payload bytes sent to the asker. */
  sent = 0;
  #parts: SnapshotSourceParts;
  #link: StreamLink;
  #credit: number;
  #socket: net.Socket | undefined;
  /** Payload bytes read from Redis, not yet sent (at most one socket read beyond the credit). */
  #pending: Uint8Array[] = [];
  #waitingForDrain = false;
  #ended = false;
  #redisEnded = false;
  #lastKeepalive = 0;
  #done: (outcome: "served" | "failed") => void;

  constructor(
    parts: SnapshotSourceParts,
    link: StreamLink,
    asker: string,
    credit: number,
    done: (outcome: "served" | "failed") => void,
  ) {
    this.#parts = parts;
    this.#link = link;
    this.asker = asker;
    this.#credit = credit;
    this.#done = done;
  }

  credit(bytes: number): void {
    this.#credit += bytes;
    this.#pump();
  }

  cancel(): void {
    this.#finish({ error: "cancelled by the asker" }, "the asker stopped or its link closed");
  }

  async run(): Promise<void> {
    const parts = this.#parts;
    const address = parts.master();
    try {
      if (address === undefined) throw new Error("no Redis master known");
      const described = await parts.describeRedis(address);
      if (this.#ended) return;
      const header: SnapshotHeader = {
        node: parts.nodeId,
        rack: parts.rack,
        metaDb: parts.metaDb,
        databases: parts.databases(),
        keys: described.keys,
        redisVersion: described.version,
      };
      this.#link.send(FrameType.SnapshotData, encodeHeader(header));
      const socket = await connectSocket(address, CONNECT_TIMEOUT_MS, parts.access);
      if (this.#ended) {
        socket.destroy();
        return;
      }
      this.#socket = socket;
      log.info(
        "serving a snapshot of rack {rack} (Redis at {address}, {keys} keys) to node {asker}",
        { rack: parts.rack, address: describe(address), keys: described.keys, asker: this.asker },
      );
      const auth = authArgs(parts.access);
      const handshake = [
        ...(auth === undefined ? [] : [auth]),
        // Only the RDB, not the command stream after it (Redis 7.0+; older ones refuse, then the
        // connection is closed after the RDB instead).
        ["REPLCONF", "rdb-only", "1"],
        ["REPLCONF", "capa", "eof"],
        ["REPLCONF", "ip-address", SNAPSHOT_ANNOUNCE],
      ];
      const stream = new SyncStream(handshake.length);
      let replies = 0;
      socket.on("data", (chunk: Uint8Array) => {
        if (this.#ended) return;
        try {
          for (const event of stream.push(plainBytes(chunk))) {
            switch (event.kind) {
              case "reply":
                // AUTH must succeed; a REPLCONF an older Redis does not know may fail.
                if (replies++ === 0 && auth !== undefined && !event.text.startsWith("+")) {
                  throw new Error(`Redis refused AUTH: ${event.text.slice(1)}`);
                }
                // SYNC only once every reply is out: Redis refuses it with replies pending.
                if (replies === handshake.length) socket.write(encodeCommand(["SYNC"]));
                break;
              case "keepalive":
                if (performance.now() - this.#lastKeepalive >= KEEPALIVE_INTERVAL_MS) {
                  this.#lastKeepalive = performance.now();
                  this.#link.send(FrameType.SnapshotData, KEEPALIVE);
                }
                break;
              case "start":
                this.#link.send(FrameType.SnapshotData, encodeStart(event.bytesTotal));
                break;
              case "data":
                this.#pending.push(event.bytes);
                break;
              case "end":
                this.#redisEnded = true;
                break;
            }
          }
        } catch (error) {
          return this.#finish({ error: (error as Error).message }, (error as Error).message);
        }
        this.#pump();
      });
      socket.on("error", (error: Error) => {
        this.#finish({ error: `Redis: ${error.message}` }, `Redis: ${error.message}`);
      });
      socket.on("close", () => {
        if (!this.#redisEnded) {
          this.#finish(
            { error: "the rack's Redis closed the replication connection before the end" },
            "Redis closed the connection before the end",
          );
        }
      });
      socket.write(concatBytes(handshake.map((argv) => encodeCommand(argv))));
    } catch (error) {
      this.#finish({ error: (error as Error).message }, (error as Error).message);
    }
  }

  /** Sends what the credit and the peer socket allow; pauses Redis when it must wait. */
  #pump(): void {
    if (this.#ended) return;
    while (this.#pending.length > 0 && this.#credit > 0 && !this.#waitingForDrain) {
      const first = this.#pending[0]!;
      const n = Math.min(first.length, this.#credit, SNAPSHOT_CHUNK_BYTES);
      const bytes = first.subarray(0, n);
      if (n === first.length) this.#pending.shift();
      else this.#pending[0] = first.subarray(n);
      this.#credit -= n;
      this.sent += n;
      const keepsUp = this.#link.send(FrameType.SnapshotData, BYTES_HEAD, bytes);
      if (!keepsUp && !this.#link.closed) {
        this.#waitingForDrain = true;
        this.#link.onDrain(() => {
          this.#waitingForDrain = false;
          this.#pump();
        });
      }
    }
    if (this.#pending.length === 0 && this.#redisEnded) {
      this.#finish({ ok: encodeEnd(this.sent) }, undefined);
      return;
    }
    // Redis waits (TCP holds its fork back) while the asker or the link cannot take more.
    const wait = this.#pending.length > 0;
    if (wait) this.#socket?.pause();
    else this.#socket?.resume();
  }

  #finish(answer: { ok: Uint8Array } | { error: string }, failure: string | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#socket?.destroy();
    this.#pending = [];
    this.#link.end(answer);
    const seconds = ((performance.now() - this.startedAt) / 1000).toFixed(1);
    if (failure === undefined) {
      log.info("served a snapshot of {bytes} bytes to node {asker} in {seconds} s", {
        bytes: this.sent,
        asker: this.asker,
        seconds,
      });
      this.#done("served");
    } else {
      log.warning("a snapshot for node {asker} ended after {bytes} bytes: {failure}", {
        asker: this.asker,
        bytes: this.sent,
        failure,
      });
      this.#done("failed");
    }
  }
}

/** The keys (all dbs) and the version of the Redis behind `connection`, from INFO. */
export async function describeRedis(
  connection: CommandRunner,
): Promise<{ keys: number; version: string }> {
  const [keyspace, server] = await connection.run([
    encodeCommand(["INFO", "keyspace"]),
    encodeCommand(["INFO", "server"]),
  ]);
  const text = (frame: Uint8Array) => new TextDecoder().decode(bulkPayload(frame));
  let keys = 0;
  for (const match of text(keyspace!).matchAll(/^db\d+:keys=(\d+)/gm)) keys += Number(match[1]);
  const version = /^redis_version:(\S+)/m.exec(text(server!))?.[1] ?? "unknown";
  return { keys, version };
}
