/**
 * The rack's Redis as the gateway sees it: where the master is (a fixed
 * address, or whatever Sentinel names now) and a small pool of shared
 * connections to it.
 *
 * Why multiplexing and not a connection per client: Redis runs commands on one
 * thread, so what costs it is syscalls and context switches, not connection
 * count. A few pipelined connections let requests from many clients share one
 * write and one read on each side (as twemproxy does), keep Redis's connection
 * count independent of Pylon's, and make failover a matter of replacing a few
 * sockets. It is safe because every command that would leave state on a
 * connection (WATCH, MULTI, CLIENT TRACKING, SUBSCRIBE, ...) is answered by
 * Pylon or refused, and the db travels with each request. Several connections
 * per protocol, chosen by fewest pending replies, keep one slow command
 * (`KEYS *`, a 100 MB value) from stalling every client.
 */

import { getLogger } from "@logtape/logtape";
import { describe, type HostPort } from "../net/address.ts";
import type { RedisTarget } from "../config/types.ts";
import type { Protocol } from "../resp/value.ts";
import { encodeCommand } from "../resp/encoder.ts";
import { type ClientOptions, RedisClient, replyText } from "./client.ts";
import { PipelineConnection } from "./pipeline_connection.ts";
import { SentinelWatcher } from "./sentinel.ts";
import { type ReplySink, UpstreamConnection, UpstreamError } from "./upstream_connection.ts";

const log = getLogger(["pylon", "redis"]);

const PING = encodeCommand(["PING"]);

/** Pending replies past which a connection counts as backed up. */
const DEEP_QUEUE = 256;

/** Options of {@linkcode Upstream}. */
export interface UpstreamOptions {
  /** Connections per protocol (RESP2 and RESP3 clients use separate ones). */
  connections?: number;
  connectTimeoutMs?: number;
  /** Fail pending requests when Redis sends nothing for this long. */
  replyTimeoutMs?: number;
}

/** What `PYLON INFO` shows about the upstream. */
export interface UpstreamStatus {
  source: "direct" | "sentinel";
  address: string;
  connections: number;
  connected: number;
  pending: number;
  failovers: number;
}

/** The rack's Redis master and the connections to it. */
export class Upstream {
  readonly target: RedisTarget;
  #address: HostPort | undefined;
  #pools: Record<Protocol, UpstreamConnection[]> = { 2: [], 3: [] };
  #size: number;
  #connectTimeoutMs: number;
  #replyTimeoutMs: number;
  #watcher: SentinelWatcher | undefined;
  #watchdog: ReturnType<typeof setInterval>;
  #databases = 16;
  #failovers = 0;
  #stopped = false;
  #listeners: (() => void)[] = [];
  #resetListeners: (() => void)[] = [];
  /** Whether the last connection attempt to the master succeeded. */
  #reachable = false;
  #lastFailure: string | undefined;

  constructor(target: RedisTarget, options: UpstreamOptions = {}) {
    this.target = target;
    this.#size = options.connections ?? 4;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 2_000;
    this.#replyTimeoutMs = options.replyTimeoutMs ?? 30_000;
    if (target.kind === "direct") this.#address = { host: target.host, port: target.port };
    // The watchdog also keeps one connection open, so reachability is known without traffic.
    this.#watchdog = setInterval(() => {
      this.#checkStalls();
      if (!this.#stopped && ![...this.#pools[2], ...this.#pools[3]].some((c) => c.connected)) {
        this.send(PING, 0, 2, () => {});
      }
    }, 500);
  }

  /**
   * Starts following the master. With Sentinel, waits up to `timeoutMs` for a
   * first answer; Pylon still starts without one and keeps asking.
   */
  async start(timeoutMs = 5_000): Promise<void> {
    if (this.target.kind === "sentinel") {
      this.#watcher = new SentinelWatcher(this.target.sentinels, {
        masterName: this.target.master,
        onChange: (m) => this.#switchTo(m),
        access: this.target.sentinelAccess,
      });
      try {
        await this.#watcher.start(timeoutMs);
      } catch (error) {
        log.warning("{error}; reads fail until a Sentinel answers", {
          error: (error as Error).message,
        });
      }
    }
    await this.#readDatabases();
  }

  /** The number of logical databases Redis has (`SELECT` accepts 0 to this minus one). */
  get databases(): number {
    return this.#databases;
  }

  /** Whether the rack's Redis master is known and accepts connections. */
  get healthy(): boolean {
    return this.#address !== undefined && this.#reachable;
  }

  /** Why the master is not reachable, when it is not. */
  get lastFailure(): string | undefined {
    return this.#lastFailure;
  }

  /** The master's address, if known. */
  get address(): HostPort | undefined {
    return this.#address;
  }

  /** A command client to `address` (the master, usually), with the rack's TLS and credentials. */
  connectClient(
    address: HostPort,
    options: Omit<ClientOptions, "access"> = {},
  ): Promise<RedisClient> {
    return RedisClient.connect(address, { ...options, access: this.target.access });
  }

  /** A pipelined connection to `address` (the applier's), with the rack's TLS and credentials. */
  connectPipeline(address: HostPort): Promise<PipelineConnection> {
    return PipelineConnection.connect(address, this.target.access);
  }

  /** Calls `fn` whenever the master moves (a failover followed). */
  onMasterChange(fn: () => void): void {
    this.#listeners.push(fn);
  }

  /**
   * Calls `fn` whenever a connection to the master is lost or the master
   * moves: what was read from it before may no longer hold (a restart, a
   * failover to a replica that lagged).
   */
  onReset(fn: () => void): void {
    this.#resetListeners.push(fn);
  }

  /** Sends an encoded read to the master; `sink` gets the raw reply or an {@linkcode UpstreamError}. */
  send(request: Uint8Array, db: number, protocol: Protocol, sink: ReplySink): void {
    const connection = this.#pick(protocol);
    if (connection === undefined) {
      sink(new UpstreamError(`no Redis master known for ${this.#describeTarget()}`));
      return;
    }
    connection.send(request, db, sink);
  }

  /**
   * Sends `checks` and then `request` on one connection, back to back, so
   * their replies describe one state of one Redis (a read-your-writes read
   * checks the applied position in the same breath as it reads); `sink` gets
   * every reply in order, or the error that lost them.
   */
  sendTogether(
    checks: { request: Uint8Array; db: number }[],
    request: Uint8Array,
    db: number,
    protocol: Protocol,
    sink: (replies: Uint8Array[] | UpstreamError) => void,
  ): void {
    const connection = this.#pick(protocol);
    if (connection === undefined) {
      sink(new UpstreamError(`no Redis master known for ${this.#describeTarget()}`));
      return;
    }
    const replies: Uint8Array[] = [];
    let failed = false;
    const collect = (reply: Uint8Array | UpstreamError) => {
      if (failed) return;
      if (reply instanceof UpstreamError) {
        failed = true;
        sink(reply);
        return;
      }
      replies.push(reply);
      if (replies.length === checks.length + 1) sink(replies);
    };
    for (const check of checks) connection.send(check.request, check.db, collect);
    connection.send(request, db, collect);
  }

  /** Counters and addresses for `PYLON INFO`. */
  status(): UpstreamStatus {
    const all = [...this.#pools[2], ...this.#pools[3]];
    return {
      source: this.target.kind,
      address: this.#address === undefined ? "unknown" : describe(this.#address),
      connections: all.length,
      connected: all.filter((c) => c.connected).length,
      pending: all.reduce((n, c) => n + c.pending, 0),
      failovers: this.#failovers,
    };
  }

  /** Closes every connection and stops following Sentinel. */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#watchdog);
    this.#watcher?.stop();
    for (const c of [...this.#pools[2], ...this.#pools[3]]) c.fail("Pylon is stopping");
  }

  #describeTarget(): string {
    return this.target.kind === "direct"
      ? describe(this.target)
      : `Sentinel master '${this.target.master}'`;
  }

  /**
   * The first connection that is not backed up, so that requests arriving
   * together share one write and Redis reads them with one syscall; a new
   * connection opens only when every open one has a deep queue (a slow
   * command, a huge reply), and past the pool size the least loaded is used.
   */
  #pick(protocol: Protocol): UpstreamConnection | undefined {
    const address = this.#address;
    if (address === undefined || this.#stopped) return undefined;
    const pool = this.#pools[protocol];
    let best: UpstreamConnection | undefined;
    for (const connection of pool) {
      if (connection.pending < DEEP_QUEUE) return connection;
      if (best === undefined || connection.pending < best.pending) best = connection;
    }
    if (best !== undefined && pool.length >= this.#size) return best;
    const connection = new UpstreamConnection(address, {
      protocol,
      connectTimeoutMs: this.#connectTimeoutMs,
      access: this.target.access,
      onClose: (closed) => this.#remove(closed),
      onConnect: () => {
        this.#reachable = true;
        this.#lastFailure = undefined;
      },
    });

    pool.push(connection);
    return connection;
  }

  #remove(connection: UpstreamConnection): void {
    const pool = this.#pools[connection.protocol];
    const at = pool.indexOf(connection);
    if (at >= 0) pool.splice(at, 1);
    if (connection.neverConnected) {
      this.#reachable = false;
      this.#lastFailure = `cannot connect to ${describe(connection.address)}`;
      return;
    }
    for (const fn of this.#resetListeners) fn();
    // The last open connection went: reachable again only once one connects (the watchdog tries).
    if (![...this.#pools[2], ...this.#pools[3]].some((c) => c.connected)) {
      this.#reachable = false;
      this.#lastFailure = `lost the connection to ${describe(connection.address)}`;
    }
  }

  #switchTo(master: HostPort): void {
    const previous = this.#address;
    this.#address = master;
    if (previous === undefined) return;
    this.#failovers++;
    log.warning("following failover from {from} to {to}", {
      from: describe(previous),
      to: describe(master),
    });
    // Requests already sent to the old master may still be answered; new ones go to the new master.
    for (const protocol of [2, 3] as const) {
      const old = this.#pools[protocol];
      this.#pools[protocol] = [];
      for (const connection of old) {
        if (connection.pending === 0) connection.fail("master moved");
        else {setTimeout(() =>
            connection.fail("master moved"), Math.min(this.#replyTimeoutMs, 5_000));}
      }
    }
    void this.#readDatabases();
    for (const fn of this.#listeners) fn();
    for (const fn of this.#resetListeners) fn();
  }

  #checkStalls(): void {
    const now = performance.now();
    for (const connection of [...this.#pools[2], ...this.#pools[3]]) {
      if (connection.stalledMs(now) > this.#replyTimeoutMs) {
        connection.fail(`no reply within ${this.#replyTimeoutMs} ms`);
      }
    }
  }

  /** Reads `databases` so SELECT can be checked before it reaches a shared connection. */
  async #readDatabases(): Promise<void> {
    const address = this.#address;
    if (address === undefined) return;
    let client: RedisClient | undefined;
    try {
      client = await this.connectClient(address, {
        connectTimeoutMs: this.#connectTimeoutMs,
        callTimeoutMs: this.#connectTimeoutMs,
      });
      const reply = await client.call("CONFIG", "GET", "databases");
      const count = reply.type === "array" && reply.value !== null && reply.value[1] !== undefined
        ? Number(replyText(reply.value[1]))
        : NaN;
      if (Number.isInteger(count) && count > 0) this.#databases = count;
    } catch (error) {
      log.debug("could not read 'databases' from {address}: {error}", {
        address: describe(address),
        error: (error as Error).message,
      });
    } finally {
      client?.close();
    }
  }
}
