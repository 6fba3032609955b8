/**
 * Finds the rack's Redis master through Sentinel and follows failovers: a
 * subscription to `+switch-master` reacts at once, and a periodic
 * `SENTINEL get-master-addr-by-name` catches what a dropped subscription missed.
 */

import { getLogger } from "@logtape/logtape";
import { describe, type HostPort } from "../net/address.ts";
import type { RedisAccess } from "./access.ts";
import { RedisClient, replyText } from "./client.ts";

const log = getLogger(["pylon", "redis", "sentinel"]);

/** Options of {@linkcode SentinelWatcher}. */
export interface SentinelOptions {
  /** The master the Sentinels are asked about. */
  masterName: string;
  /** Called with each new master a Sentinel names. */
  onChange: (master: HostPort) => void;
  /** How often to ask a Sentinel for the master even without events. */
  pollIntervalMs?: number;
  connectTimeoutMs?: number;
  /** TLS and credentials for the Sentinels. */
  access?: RedisAccess;
}

/** Tracks the master a set of Sentinels names. */
export class SentinelWatcher {
  readonly sentinels: HostPort[];
  readonly masterName: string;
  #onChange: (master: HostPort) => void;
  #current: HostPort | undefined;
  #subscriber: RedisClient | undefined;
  #subscribing = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  #stopped = false;
  #pollIntervalMs: number;
  #connectTimeoutMs: number;
  #access: RedisAccess;
  #polling = false;
  /** Connection used for polling, to the Sentinel at `#index`. */
  #query: RedisClient | undefined;
  #index = 0;

  constructor(sentinels: HostPort[], options: SentinelOptions) {
    if (sentinels.length === 0) throw new Error("SentinelWatcher needs at least one Sentinel");
    this.sentinels = sentinels;
    this.masterName = options.masterName;
    this.#onChange = options.onChange;

    this.#pollIntervalMs = options.pollIntervalMs ?? 1_000;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 1_000;
    this.#access = options.access ?? {};
  }

  /** The master last named by a Sentinel. */
  get current(): HostPort | undefined {
    return this.#current;
  }

  /** Starts watching; resolves once a master is known, or rejects after `timeoutMs`. */
  async start(timeoutMs = 10_000): Promise<HostPort> {
    this.#timer = setInterval(() => void this.#poll(), this.#pollIntervalMs);
    const deadline = performance.now() + timeoutMs;
    while (!this.#stopped) {
      await this.#poll();
      if (this.#current !== undefined) return this.#current;
      if (performance.now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    this.stop();
    throw new Error(
      `No Sentinel of ${
        this.sentinels.map(describe).join(", ")
      } named a master '${this.masterName}' ` +
        `within ${timeoutMs} ms`,
    );
  }

  /** Stops polling and closes the subscription. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#subscriber?.close();
    this.#query?.close();
  }

  #set(master: HostPort, why: string): void {
    const current = this.#current;
    if (current !== undefined && current.host === master.host && current.port === master.port) {
      return;
    }
    this.#current = master;
    log.info("master {name} is {address} ({why})", {
      name: this.masterName,
      address: describe(master),
      why,
    });
    this.#onChange(master);
  }

  /** Asks the Sentinels in turn, over one kept connection, until one names the master. */
  async #poll(): Promise<void> {
    if (this.#polling || this.#stopped) return;
    this.#polling = true;
    try {
      for (let attempt = 0; attempt < this.sentinels.length; attempt++) {
        const sentinel = this.sentinels[this.#index]!;
        try {
          if (this.#query === undefined || this.#query.closed) {
            this.#query = await RedisClient.connect(sentinel, {
              connectTimeoutMs: this.#connectTimeoutMs,
              callTimeoutMs: this.#connectTimeoutMs,
              access: this.#access,
            });
          }
          const reply = await this.#query.call(
            "SENTINEL",
            "get-master-addr-by-name",
            this.masterName,
          );
          if (this.#stopped) return;
          const address = reply.type === "array" && reply.value?.length === 2
            ? reply.value
            : undefined;
          const host = address === undefined ? undefined : replyText(address[0]!);
          const port = address === undefined ? NaN : Number(replyText(address[1]!));
          if (host !== undefined && Number.isInteger(port)) {
            this.#set({ host, port }, `asked Sentinel ${describe(sentinel)}`);
            if (this.#subscriber === undefined || this.#subscriber.closed) void this.#subscribe();
            return;
          }
          log.warning("Sentinel {sentinel} knows no master {name}", {
            sentinel: describe(sentinel),
            name: this.masterName,
          });
        } catch (error) {
          log.debug("Sentinel {sentinel} did not answer: {error}", {
            sentinel: describe(sentinel),
            error: (error as Error).message,
          });
        }
        this.#query?.close();
        this.#query = undefined;
        this.#index = (this.#index + 1) % this.sentinels.length;
      }
    } finally {
      this.#polling = false;
    }
  }

  /** Subscribes to `+switch-master` on the first Sentinel that accepts. */
  async #subscribe(): Promise<void> {
    if (this.#subscribing || this.#stopped) return;
    this.#subscribing = true;
    try {
      for (const sentinel of this.sentinels) {
        try {
          const client = await RedisClient.connect(sentinel, {
            connectTimeoutMs: this.#connectTimeoutMs,
            access: this.#access,
          });
          await client.subscribe(["+switch-master"], (_channel, message) => {
            // "<name> <old-ip> <old-port> <new-ip> <new-port>"
            const [name, , , host, port] = new TextDecoder().decode(message).split(" ");
            if (name === this.masterName && host !== undefined && port !== undefined) {
              this.#set({ host, port: Number(port) }, `+switch-master from ${describe(sentinel)}`);
            }
          });
          if (this.#stopped) {
            client.close();
            return;
          }
          this.#subscriber = client;
          return;
        } catch {
          // try the next Sentinel; polling keeps the master current meanwhile
        }
      }
    } finally {
      this.#subscribing = false;
    }
  }
}
