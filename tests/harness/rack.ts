/**
 * A Sentinel-watched Redis rack: a master, one replica and three
 * `redis-sentinel`s, all on free loopback ports.
 */

import { join } from "node:path";
import { freePort } from "./ports.ts";
import { parseInfo, redisCli, type RedisOptions, RedisServer } from "./redis.ts";
import { scratchDir, Service } from "./service.ts";
import { waitFor } from "./wait.ts";

/** The master name the rack's Sentinels monitor. */
export const MASTER_NAME = "pylon";

/** A `host:port` pair. */
export interface Address {
  host: string;
  port: number;
}

/** Options of {@linkcode startRack}. */
export interface RackOptions {
  /** Options for both Redis servers. */
  redis?: RedisOptions;
  /** Sentinel's `down-after-milliseconds`: how soon a dead master is noticed. */
  downAfterMs?: number;
  /** The Sentinels' own password (`requirepass`); with `redis.password` they also auth to Redis. */
  sentinelPassword?: string;
}

/** One `redis-sentinel` process. */
export class SentinelServer {
  readonly host = "127.0.0.1";
  readonly port: number;
  readonly service: Service;

  readonly password: string | undefined;

  constructor(port: number, service: Service, password?: string) {
    this.port = port;
    this.service = service;
    this.password = password;
  }

  /** Runs one command against this Sentinel. */
  call(...args: string[]): Promise<string> {
    const auth = this.password === undefined ? [] : ["--no-auth-warning", "-a", this.password];
    return redisCli(this.port, [...auth, ...args], this.host);
  }

  /** The master address this Sentinel currently believes in. */
  async masterAddress(): Promise<Address> {
    const [host, port] = (await this.call("SENTINEL", "get-master-addr-by-name", MASTER_NAME))
      .split("\n");
    if (host === undefined || port === undefined || host === "") {
      throw new Error(`Sentinel ${this.port} knows no master '${MASTER_NAME}'`);
    }
    return { host, port: Number(port) };
  }

  /** The fields of `SENTINEL MASTER <name>`. */
  async masterState(): Promise<Map<string, string>> {
    const lines = (await this.call("SENTINEL", "MASTER", MASTER_NAME)).split("\n");
    const fields = new Map<string, string>();
    for (let i = 0; i + 1 < lines.length; i += 2) fields.set(lines[i]!, lines[i + 1]!);
    return fields;
  }
}

/** A master, a replica and three Sentinels. */
export class SentinelRack implements AsyncDisposable {
  readonly masterName = MASTER_NAME;
  /** Both Redis servers; which one is master changes with failovers. */
  readonly redis: RedisServer[];
  readonly sentinels: SentinelServer[];
  readonly dir: string;

  private constructor(redis: RedisServer[], sentinels: SentinelServer[], dir: string) {
    this.redis = redis;
    this.sentinels = sentinels;
    this.dir = dir;
  }

  /** Starts the rack and waits until the Sentinels agree on the master and know the replica and each other. */
  static async start(options: RackOptions = {}): Promise<SentinelRack> {
    const master = await RedisServer.start(options.redis ?? {});
    const redis = [master];
    const sentinels: SentinelServer[] = [];
    const dir = await scratchDir("sentinels");
    const rack = new SentinelRack(redis, sentinels, dir);
    try {
      redis.push(
        await RedisServer.start({
          ...options.redis,
          replicaOf: { host: master.host, port: master.port },
        }),
      );
      await waitFor("the replica to sync with its master", async () => {
        const info = await redis[1]!.info("replication");
        return info.get("master_link_status") === "up" ? true : undefined;
      }, { context: () => redis[1]!.service.logTail() });

      for (let i = 0; i < 3; i++) {
        const port = freePort();
        const conf = join(dir, `sentinel-${port}.conf`);
        await Deno.writeTextFile(
          conf,
          [
            "bind 127.0.0.1",
            `port ${port}`,
            `dir ${dir}`,
            "daemonize no",
            'logfile ""',
            "protected-mode no",
            `sentinel monitor ${MASTER_NAME} ${master.host} ${master.port} 2`,
            `sentinel down-after-milliseconds ${MASTER_NAME} ${options.downAfterMs ?? 1_000}`,
            `sentinel failover-timeout ${MASTER_NAME} 10000`,
            `sentinel parallel-syncs ${MASTER_NAME} 1`,
            ...(options.redis?.password === undefined
              ? []
              : [`sentinel auth-pass ${MASTER_NAME} ${options.redis.password}`]),
            ...(options.sentinelPassword === undefined ? [] : [
              `requirepass ${options.sentinelPassword}`,
              `sentinel sentinel-pass ${options.sentinelPassword}`,
            ]),
          ].join("\n") + "\n",
        );
        const service = new Service({
          name: `sentinel-${port}`,
          cmd: "redis-sentinel",
          args: [conf],
          dir,
        });
        service.start();
        sentinels.push(new SentinelServer(port, service, options.sentinelPassword));
      }
      await rack.waitSettled({ host: master.host, port: master.port });
      return rack;
    } catch (error) {
      await rack[Symbol.asyncDispose]();
      throw error;
    }
  }

  /** `host:port,host:port,...` of the Sentinels, as Pylon's `--sentinel` takes it. */
  get sentinelList(): string {
    return this.sentinels.map((s) => `${s.host}:${s.port}`).join(",");
  }

  /** The Sentinels' addresses. */
  get sentinelAddresses(): Address[] {
    return this.sentinels.map((s) => ({ host: s.host, port: s.port }));
  }

  /** The server that is master now, according to the Sentinels. */
  async master(): Promise<RedisServer> {
    const address = await this.sentinels[0]!.masterAddress();
    const server = this.redis.find((r) => r.port === address.port);
    if (server === undefined) throw new Error(`Sentinels name unknown master ${address.port}`);
    return server;
  }

  /**
   * Waits until every Sentinel names `master`, sees one replica and the two
   * other Sentinels, and the replica's link to the master is up.
   */
  async waitSettled(master: Address, timeoutMs = 30_000): Promise<void> {
    const logs = async () =>
      (await Promise.all(this.sentinels.map((s) => s.service.logTail(15)))).join("\n");
    await waitFor(`the Sentinels to agree on master ${master.port}`, async () => {
      for (const sentinel of this.sentinels) {
        if (!sentinel.service.running) throw new Error(`sentinel ${sentinel.port} exited`);
        const state = await sentinel.masterState();
        if (Number(state.get("port")) !== master.port) return undefined;
        if (state.get("num-slaves") !== "1") return undefined;
        if (state.get("num-other-sentinels") !== String(this.sentinels.length - 1)) {
          return undefined;
        }
        if (!(state.get("flags") ?? "").split(",").includes("master")) return undefined;
        if ((state.get("flags") ?? "").includes("down")) return undefined;
      }
      const replica = this.redis.find((r) => r.port !== master.port)!;
      const info = parseInfo(await replica.call("INFO", "replication"));
      if (info.get("role") !== "slave" || info.get("master_port") !== String(master.port)) {
        return undefined;
      }
      return info.get("master_link_status") === "up" ? true : undefined;
    }, { timeoutMs, context: logs });
  }

  /**
   * Forces a failover with `SENTINEL FAILOVER` and waits until the rack is
   * settled around the new master, which it returns.
   */
  async failover(timeoutMs = 30_000): Promise<RedisServer> {
    const old = await this.master();
    const reply = await this.sentinels[0]!.call("SENTINEL", "FAILOVER", MASTER_NAME);
    if (reply !== "OK") throw new Error(`SENTINEL FAILOVER refused: ${reply}`);
    const promoted = this.redis.find((r) => r !== old)!;
    await waitFor("the replica to be promoted", async () => {
      const info = await promoted.info("replication");
      return info.get("role") === "master" ? true : undefined;
    }, { timeoutMs });
    await this.waitSettled(promoted, timeoutMs);
    return promoted;
  }

  /** Stops Sentinels first (so they do not fail over a stopping master), then Redis. */
  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all(this.sentinels.map((s) => s.service.stop()));
    await Promise.all(this.redis.map((r) => r[Symbol.asyncDispose]()));
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** Starts a Sentinel-watched rack; use with `await using`. */
export function startRack(options: RackOptions = {}): Promise<SentinelRack> {
  return SentinelRack.start(options);
}
