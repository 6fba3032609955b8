/** A standalone `redis-server` on a free loopback port, with its data in a scratch folder. */

import { join } from "node:path";
import { freePort } from "./ports.ts";
import type { RedisBinary } from "./provision.ts";
import { scratchDir, Service } from "./service.ts";
import { waitFor } from "./wait.ts";

/** Options of {@linkcode startRedis}. */
export interface RedisOptions {
  /** Turn on the append-only file (`appendfsync always` for durability tests). */
  appendonly?: "no" | "everysec" | "always";
  /** Start as a replica of this address. */
  replicaOf?: { host: string; port: number };
  /** More `redis.conf` directives, e.g. `{ maxmemory: "100mb" }`. */
  config?: Record<string, string>;
  /** Speak only TLS, on the server's port, with this certificate (clients need not have one). */
  tls?: { certFile: string; keyFile: string; caFile: string };
  /** `requirepass` (and `masterauth`, for replicas): the harness authenticates with it. */
  password?: string;
  /** Another `redis-server` than the machine's (e.g. Redis 6.2 from provision.ts). */
  server?: RedisBinary;
}

/** The folder, inside a server's own, where another Redis version runs (its data apart). */
const OTHER_VERSION_DIR = "other-version";

/**
 * The `redis.conf` directives {@linkcode RedisServer.start} writes (and
 * Sentinel's `replicaof`) that Redis 6.2 reads as Redis 7 does.
 */
const PORTABLE_DIRECTIVES = new Set([
  "bind",
  "port",
  "dir",
  "daemonize",
  "logfile",
  "save",
  "protected-mode",
  "repl-diskless-sync-delay",
  "appendonly",
  "appendfsync",
  "replicaof",
  "slaveof",
  "requirepass",
  "masterauth",
  "tls-port",
  "tls-cert-file",
  "tls-key-file",
  "tls-ca-cert-file",
  "tls-auth-clients",
]);

/** Runs `redis-cli` against an address and returns its output without the final newline. */
export async function redisCli(port: number, args: string[], host = "127.0.0.1"): Promise<string> {
  const { success, stdout, stderr } = await new Deno.Command("redis-cli", {
    args: ["-h", host, "-p", String(port), ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout).replace(/\n$/, "");
  if (!success) {
    throw new Error(`redis-cli -p ${port} ${args.join(" ")}: ${new TextDecoder().decode(stderr)}`);
  }
  return out;
}

/** Parses the `key:value` lines of an `INFO` reply. */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon > 0 && !line.startsWith("#")) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/** A redis-server process owned by a test. */
export class RedisServer implements AsyncDisposable {
  readonly host = "127.0.0.1";
  readonly port: number;
  readonly dir: string;
  readonly service: Service;

  /** The CA to trust when the server speaks only TLS. */
  readonly tlsCa: string | undefined;

  /** The password the harness authenticates with, if the server wants one. */
  readonly password: string | undefined;

  /** What {@linkcode restartOnOtherVersion} put aside: the server's own binary and config. */
  #own: { cmd: string; args: string[] } | undefined;

  private constructor(
    port: number,
    dir: string,
    service: Service,
    tlsCa?: string,
    password?: string,
  ) {
    this.port = port;
    this.dir = dir;
    this.service = service;
    this.tlsCa = tlsCa;
    this.password = password;
  }

  /** Writes the config, starts the server and waits until it answers `PING`. */
  static async start(options: RedisOptions = {}): Promise<RedisServer> {
    const port = freePort();
    const dir = await scratchDir(`redis-${port}`);
    const conf = join(dir, "redis.conf");
    const lines = [
      "bind 127.0.0.1",
      `port ${port}`,
      `dir ${dir}`,
      "daemonize no",
      'logfile ""',
      'save ""',
      "protected-mode no",
      // Replicas sync at once instead of after the default 5 s batching delay.
      "repl-diskless-sync-delay 0",
      `appendonly ${
        options.appendonly === undefined || options.appendonly === "no" ? "no" : "yes"
      }`,
    ];
    // Tests compare racks with DEBUG DIGEST (Redis 7 turned it off by default; 6.2 lacks the option).
    if (Number(options.server?.version.split(".")[0] ?? 7) >= 7) {
      lines.push("enable-debug-command yes");
    }
    if (options.appendonly === "always" || options.appendonly === "everysec") {
      lines.push(`appendfsync ${options.appendonly}`);
    }
    if (options.replicaOf !== undefined) {
      lines.push(`replicaof ${options.replicaOf.host} ${options.replicaOf.port}`);
    }
    if (options.password !== undefined) {
      lines.push(`requirepass ${options.password}`, `masterauth ${options.password}`);
    }
    if (options.tls !== undefined) {
      lines.push(
        "port 0",
        `tls-port ${port}`,
        `tls-cert-file ${options.tls.certFile}`,
        `tls-key-file ${options.tls.keyFile}`,
        `tls-ca-cert-file ${options.tls.caFile}`,
        "tls-auth-clients no",
      );
    }
    for (const [key, value] of Object.entries(options.config ?? {})) lines.push(`${key} ${value}`);
    await Deno.writeTextFile(conf, lines.join("\n") + "\n");
    const service = new Service({
      name: `redis-${port}`,
      cmd: options.server?.path ?? "redis-server",
      args: [conf],
      dir,
    });
    const server = new RedisServer(port, dir, service, options.tls?.caFile, options.password);
    await server.#launch();
    return server;
  }

  /** `host:port` of the server. */
  get address(): string {
    return `${this.host}:${this.port}`;
  }

  /** `redis://host:port` of the server. */
  get url(): string {
    return `redis://${this.address}`;
  }

  async #launch(): Promise<void> {
    this.service.start();
    await this.waitReady();
  }

  /** Waits until the server answers `PING` (and has loaded its data). */
  async waitReady(timeoutMs = 20_000): Promise<void> {
    await waitFor(`redis-server on port ${this.port}`, async () => {
      if (!this.service.running) throw new Error("redis-server exited");
      const pong = await this.call("PING");
      // A server that requires a password is up when it says so.
      return pong === "PONG" || pong.startsWith("NOAUTH") ? true : undefined;
    }, { timeoutMs, context: () => this.service.logTail() });
  }

  /** Runs one command through `redis-cli` and returns its raw output. */
  call(...args: string[]): Promise<string> {
    const tls = this.tlsCa === undefined ? [] : ["--tls", "--cacert", this.tlsCa];
    const auth = this.password === undefined ? [] : ["--no-auth-warning", "-a", this.password];
    return redisCli(this.port, [...tls, ...auth, ...args], this.host);
  }

  /** The `INFO <section>` fields. */
  async info(section: string): Promise<Map<string, string>> {
    return parseInfo(await this.call("INFO", section));
  }

  /** `kill -9` the server: unsynced data is lost, as in a crash. */
  async kill(): Promise<void> {
    await this.service.kill();
  }

  /** Stops the server (SIGTERM: Redis saves if configured to). */
  async stop(): Promise<void> {
    await this.service.stop();
  }

  /** Removes a stopped server's data files, so its next start is empty. */
  async wipe(): Promise<void> {
    if (this.service.running) throw new Error("wipe() needs the server stopped");
    for (const name of ["appendonlydir", "dump.rdb"]) {
      await Deno.remove(join(this.dir, name), { recursive: true }).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
    }
  }

  /**
   * Rewrites directives of the server's `redis.conf` (a value replaces every
   * line of that directive, undefined removes them) and, with `server`, the
   * binary it runs: both take effect at the next start.
   */
  async reconfigure(
    changes: Record<string, string | undefined>,
    server?: RedisBinary | "default",
  ): Promise<void> {
    const conf = join(this.dir, "redis.conf");
    const lines = (await Deno.readTextFile(conf)).trimEnd().split("\n")
      .filter((line) => !(line.split(" ")[0]! in changes));
    for (const [key, value] of Object.entries(changes)) {
      if (value !== undefined) lines.push(`${key} ${value}`);
    }
    await Deno.writeTextFile(conf, lines.join("\n") + "\n");
    if (server !== undefined) {
      this.service.spec.cmd = server === "default" ? "redis-server" : server.path;
    }
  }

  /**
   * Starts the server again on another Redis binary, on the same port, in an
   * empty folder of its own. An older Redis cannot read what a newer one
   * wrote: Redis 6.2 exits on Redis 7's RDB ("Can't handle RDB format
   * version 10") and does not know its multi-part AOF folder (it starts empty
   * and writes its own file beside it). So this server's folder and
   * `redis.conf` are left as they are, for {@linkcode restartOnOwnVersion}.
   * The other binary reads a config of its own: the directives
   * {@linkcode start} writes that every Redis since 6.2 knows (those Redis 7
   * adds on `CONFIG REWRITE`, such as `latency-tracking-info-percentiles`,
   * and its ACL users would stop it), and `config`'s. The server is stopped
   * with `SHUTDOWN NOW` (its data saved, no wait for lagging replicas), so it
   * is down for as short a time as a restart can be.
   */
  async restartOnOtherVersion(
    server: RedisBinary,
    config: Record<string, string> = {},
  ): Promise<void> {
    if (this.#own !== undefined) throw new Error(`redis-${this.port} already runs another version`);
    const own = { cmd: this.service.spec.cmd, args: this.service.spec.args };
    const dir = join(this.dir, OTHER_VERSION_DIR);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.mkdir(dir);
    const lines = (await Deno.readTextFile(join(this.dir, "redis.conf"))).split("\n")
      .filter((line) => PORTABLE_DIRECTIVES.has(line.split(" ")[0]!) && !line.startsWith("dir "));
    const more = Object.entries(config).map(([key, value]) => `${key} ${value}`);
    const conf = join(dir, "redis.conf");
    await Deno.writeTextFile(conf, [...lines, `dir ${dir}`, ...more].join("\n") + "\n");
    // The connection closes as the server exits: redis-cli's complaint says nothing.
    await this.call("SHUTDOWN", "NOW").catch(() => {});
    await this.service.stop();
    this.service.spec.cmd = server.path;
    this.service.spec.args = [conf];
    this.#own = own;
    try {
      await this.#launch();
    } catch (error) {
      // Back on its own, so a failed fault leaves the server as it found it.
      await this.restartOnOwnVersion();
      throw error;
    }
  }

  /**
   * Undoes {@linkcode restartOnOtherVersion}: stops the other binary (SIGTERM),
   * removes its folder and starts the server on its own binary, config and data.
   */
  async restartOnOwnVersion(): Promise<void> {
    const own = this.#own;
    if (own === undefined) throw new Error(`redis-${this.port} runs its own version`);
    await this.service.stop();
    this.service.spec.cmd = own.cmd;
    this.service.spec.args = own.args;
    this.#own = undefined;
    await Deno.remove(join(this.dir, OTHER_VERSION_DIR), { recursive: true }).catch(() => {});
    await this.#launch();
  }

  /** Starts a stopped or killed server again on the same port and folder. */
  async restart(): Promise<void> {
    if (this.service.running) await this.service.stop();
    await this.#launch();
  }

  /** Stops the server and removes its folder. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.service.stop();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** Starts a standalone Redis; use with `await using`. */
export function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  return RedisServer.start(options);
}
