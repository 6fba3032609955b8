/** A Pylon node run as a real process (`main.ts`), as users run it. */

import { dirname, fromFileUrl } from "./paths.ts";
import { freePort } from "./ports.ts";
import { parseInfo, redisCli } from "./redis.ts";
import { scratchDir, Service } from "./service.ts";
import { waitFor } from "./wait.ts";

/**
 * Environment variable naming another checkout's `main.ts` to run instead of
 * this one's: a test run against old code shows what a new test catches.
 */
export const PYLON_MAIN_ENV = "PYLON_TEST_MAIN";

const OTHER_MAIN = Deno.env.get(PYLON_MAIN_ENV) || undefined;
const MAIN = OTHER_MAIN ?? `${dirname(dirname(dirname(fromFileUrl(import.meta.url))))}/main.ts`;
/** That checkout's own imports and lock file. */
const CONFIG_FLAGS = OTHER_MAIN === undefined
  ? []
  : ["--config", `${dirname(OTHER_MAIN)}/deno.json`];

/** Options of {@linkcode startPylon}. */
export interface PylonOptions {
  /** Where the rack's Redis is: `--redis redis://...` or Sentinel flags. */
  redis?: { url: string } | { sentinels: string; master: string };
  /** More command-line flags. */
  args?: string[];
  /** Client port (default: a free one). */
  port?: number;
  /** An existing data folder to run on (kept when the process is disposed); default: a new one. */
  dataDir?: string;
  /** More environment variables (e.g. `PYLON_FAILPOINTS`). */
  env?: Record<string, string>;
  /** More flags for `deno run` itself (e.g. `--inspect` for a profile). */
  denoFlags?: string[];
  /** Wait until the node answers PING (default true). */
  waitReady?: boolean;
  /**
   * Data a test writes into the rack's Redis directly, behind Pylon's back.
   * Pylon refuses a Redis that holds data it did not write, so this runs once
   * the node's applier has claimed the (empty) Redis.
   */
  seed?: () => Promise<unknown>;
}

/** A running `main.ts`. */
export class PylonProcess implements AsyncDisposable {
  readonly host = "127.0.0.1";
  readonly port: number;
  readonly dir: string;
  readonly service: Service;
  /** How it was started. */
  readonly options: PylonOptions;
  /** Whether the data folder is this process's own (removed on dispose). */
  #ownsDir: boolean;

  private constructor(
    port: number,
    dir: string,
    service: Service,
    options: PylonOptions,
  ) {
    this.port = port;
    this.dir = dir;
    this.service = service;
    this.options = options;
    this.#ownsDir = options.dataDir === undefined;
  }

  /**
   * Starts the same node (port, data folder, flags) as another process, with
   * `changes` (environment, readiness); this one must be stopped. The new
   * process does not remove the folder; this one still does.
   */
  startAgain(changes: Pick<PylonOptions, "env" | "waitReady"> = {}): Promise<PylonProcess> {
    if (this.service.running) throw new Error("startAgain() needs the node stopped");
    return PylonProcess.start({ ...this.options, ...changes, port: this.port, dataDir: this.dir });
  }

  /** Starts the node and waits until it answers PING. */
  static async start(options: PylonOptions = {}): Promise<PylonProcess> {
    const port = options.port ?? freePort();
    const dir = options.dataDir ?? await scratchDir(`pylon-${port}`);
    const redis = options.redis;
    const redisArgs = redis === undefined
      ? []
      : "url" in redis
      ? ["--redis", redis.url]
      : ["--sentinel", redis.sentinels, "--master", redis.master];
    const service = new Service({
      name: `pylon-${port}`,
      cmd: Deno.execPath(),
      // Types are checked by `deno task check`; skipping it here keeps startup fast.
      args: [
        "run",
        "--allow-all",
        "--no-check",
        "--v8-flags=--expose-gc",
        ...CONFIG_FLAGS,
        ...(options.denoFlags ?? []),
        MAIN,
        "--listen",
        `127.0.0.1:${port}`,
        "--data-dir",
        dir,
        ...redisArgs,
        ...(options.args ?? []),
      ],
      dir,
      ...(options.env === undefined ? {} : { env: options.env }),
    });
    const pylon = new PylonProcess(port, dir, service, options);
    service.start();
    if (options.waitReady !== false) await pylon.waitReady();
    if (options.seed !== undefined) {
      await pylon.waitApplying();
      await options.seed();
    }
    return pylon;
  }

  /** `host:port` clients use. */
  get address(): string {
    return `${this.host}:${this.port}`;
  }

  /** Waits until the node answers PING. */
  async waitReady(timeoutMs = 20_000): Promise<void> {
    await waitFor(`Pylon on port ${this.port}`, async () => {
      if (!this.service.running) throw new Error("pylon exited");
      return (await redisCli(this.port, ["PING"])) === "PONG" ? true : undefined;
    }, { timeoutMs, context: () => this.service.logTail() });
  }

  /** Waits until every partition's applier runs (it has checked, or claimed, the rack's Redis). */
  async waitApplying(timeoutMs = 20_000): Promise<void> {
    await waitFor(`Pylon on port ${this.port} to apply`, async () => {
      const states = [...(await this.call("PYLON", "INFO")).matchAll(/^partition_\d+:(\w+)/gm)];
      return states.length > 0 && states.every((m) => m[1] === "applying" || m[1] === "waiting")
        ? true
        : undefined;
    }, { timeoutMs, context: () => this.service.logTail() });
  }

  /** `PYLON INFO` as a map of its fields. */
  async info(): Promise<Map<string, string>> {
    return parseInfo(await this.call("PYLON", "INFO"));
  }

  /** Runs one command through `redis-cli` against the node. */
  call(...args: string[]): Promise<string> {
    return redisCli(this.port, args, this.host);
  }

  /** Stops the node (SIGTERM, then kill -9 past a grace period). */
  async stop(): Promise<void> {
    await this.service.stop();
  }

  /** `kill -9` the node. */
  async kill(): Promise<void> {
    await this.service.kill();
  }

  /** Starts a stopped or killed node again on the same port. */
  async restart(): Promise<void> {
    if (this.service.running) await this.service.stop();
    this.service.start();
    await this.waitReady();
  }

  /** Waits (bounded) for the node to exit; its status and log tail. */
  async exit(timeoutMs = 30_000): Promise<{ code: number; log: string }> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const status = await Promise.race([
      this.service.exited,
      new Promise<undefined>((resolve) => timer = setTimeout(() => resolve(undefined), timeoutMs)),
    ]);
    clearTimeout(timer);
    if (status === undefined) {
      throw new Error(
        `Pylon on port ${this.port} did not exit within ${timeoutMs} ms\n${await this.service
          .logTail()}`,
      );
    }
    return { code: status.code, log: await Deno.readTextFile(this.service.logPath) };
  }

  /** Waits (bounded) until the node's log has a line matching `pattern`. */
  async waitForLog(pattern: RegExp, timeoutMs = 20_000): Promise<void> {
    await waitFor(`Pylon's log to match ${pattern}`, async () => {
      const text = await Deno.readTextFile(this.service.logPath).catch(() => "");
      return pattern.test(text) ? true : undefined;
    }, { timeoutMs, context: () => this.service.logTail() });
  }

  /** Stops the node and removes its folder (unless the test gave it). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.service.stop();
    if (this.#ownsDir) await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** Starts a Pylon node; use with `await using`. */
export function startPylon(options: PylonOptions = {}): Promise<PylonProcess> {
  return PylonProcess.start(options);
}
