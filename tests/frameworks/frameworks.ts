/**
 * What the framework tests share: the server a framework talks to (a Pylon node
 * in front of a rack's Redis, or that Redis alone to prove a test itself right),
 * its Python scripts run with a deadline, and its workers run as services that
 * are always stopped.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  ensureFrameworks,
  type FrameworksInstall,
  type PylonProcess,
  redisCli,
  type RedisServer,
  scratchDir,
  Service,
  startPylon,
  startRedis,
  waitFor,
} from "../harness/mod.ts";

/** This folder: the jobs, the Celery app and the check scripts are imported from it. */
export const FRAMEWORKS_DIR = fileURLToPath(new URL(".", import.meta.url));

/** Every Python process: imports from this folder, writes no `__pycache__` into it. */
const PYTHON_ENV = { PYTHONPATH: FRAMEWORKS_DIR, PYTHONDONTWRITEBYTECODE: "1" };

/** Which server the framework talks to. */
export type TargetKind = "redis" | "pylon";

/** The server a framework talks to, and the rack's Redis that ends up holding the data. */
export class Target implements AsyncDisposable {
  readonly kind: TargetKind;
  /** The rack's Redis: the data's home, read directly to check what the framework did. */
  readonly rack: RedisServer;
  readonly pylon: PylonProcess | undefined;

  constructor(kind: TargetKind, rack: RedisServer, pylon: PylonProcess | undefined) {
    this.kind = kind;
    this.rack = rack;
    this.pylon = pylon;
  }

  /** The port the framework connects to: Pylon's, or the Redis's itself. */
  get port(): number {
    return this.pylon?.port ?? this.rack.port;
  }

  /** The URL the framework is given (db 0). */
  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  /** One command through what the framework talks to (Pylon, or the plain Redis). */
  call(...args: string[]): Promise<string> {
    return redisCli(this.port, args);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.pylon?.[Symbol.asyncDispose]();
    await this.rack[Symbol.asyncDispose]();
  }
}

/** Starts a plain Redis, and a Pylon node (embedded log) in front of it for `"pylon"`. */
export async function startTarget(kind: TargetKind): Promise<Target> {
  const rack = await startRedis();
  if (kind === "redis") return new Target(kind, rack, undefined);
  try {
    const pylon = await startPylon({ redis: { url: rack.url } });
    return new Target(kind, rack, pylon);
  } catch (error) {
    await rack[Symbol.asyncDispose]();
    throw error;
  }
}

/** How a framework's Python process is run. */
export interface PythonOptions {
  /** More environment variables (PYTHONPATH is this folder). */
  env?: Record<string, string>;
  /** Killed past this. */
  timeoutMs: number;
}

/**
 * Runs a Python script of this folder in the frameworks' virtual environment and
 * parses the one JSON line it prints; a failure or a run past the deadline fails
 * the test with the script's stderr.
 */
export async function runPython<T>(
  script: string,
  args: string[],
  options: PythonOptions,
): Promise<T> {
  const install = await ensureFrameworks();
  const child = new Deno.Command(install.python, {
    args: [`${FRAMEWORKS_DIR}${script}`, ...args],
    env: { ...options.env, ...PYTHON_ENV },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, options.timeoutMs);
  const output = await child.output();
  clearTimeout(timer);
  const decoder = new TextDecoder();
  const stderr = decoder.decode(output.stderr);
  assert.ok(!timedOut, `${script} ${args.join(" ")} ran past ${options.timeoutMs} ms:\n${stderr}`);
  assert.ok(output.success, `${script} ${args.join(" ")} failed:\n${stderr}`);
  return JSON.parse(decoder.decode(output.stdout).trim()) as T;
}

/** A framework's worker process (`rq worker`, `celery worker`), its output in a log file. */
export class Worker implements AsyncDisposable {
  readonly service: Service;

  private constructor(service: Service) {
    this.service = service;
  }

  /** Starts `command(install) ...args` with this folder on PYTHONPATH. */
  static async start(
    name: string,
    command: (install: FrameworksInstall) => string,
    args: string[],
    env: Record<string, string> = {},
  ): Promise<Worker> {
    const install = await ensureFrameworks();
    const dir = await scratchDir(name);
    const service = new Service({
      name,
      cmd: command(install),
      args,
      dir,
      env: { ...env, ...PYTHON_ENV, PYTHONUNBUFFERED: "1" },
    });
    service.start();
    return new Worker(service);
  }

  /** Everything the worker printed so far. */
  async log(): Promise<string> {
    return await Deno.readTextFile(this.service.logPath).catch(() => "");
  }

  /**
   * Waits until the log matches `pattern` or the worker exits, whichever comes
   * first (a worker that dies is not waited for until the deadline).
   */
  async waitForLogOrExit(
    what: string,
    pattern: RegExp,
    timeoutMs: number,
  ): Promise<"matched" | "exited"> {
    return await waitFor(what, async () => {
      if (pattern.test(await this.log())) return "matched";
      return this.service.running ? undefined : "exited";
    }, { timeoutMs, intervalMs: 100, context: () => this.service.logTail(60) });
  }

  /** Waits (bounded) for the worker to exit by itself; its exit code. */
  async exit(timeoutMs: number): Promise<number> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const status = await Promise.race([
      this.service.exited,
      new Promise<undefined>((resolve) => timer = setTimeout(() => resolve(undefined), timeoutMs)),
    ]);
    clearTimeout(timer);
    if (status === undefined) {
      throw new Error(
        `${this.service.spec.name} did not exit within ${timeoutMs} ms\n${await this.service
          .logTail(60)}`,
      );
    }
    return status.code;
  }

  /**
   * Whether the worker is still running after `ms`: an observation window for
   * "it stays up", never a wait for something to happen.
   */
  async staysUpFor(ms: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      this.service.exited.then(() => "exited" as const),
      new Promise<"up">((resolve) => timer = setTimeout(() => resolve("up"), ms)),
    ]);
    clearTimeout(timer);
    return outcome === "up";
  }

  /** Stops the worker (SIGTERM: a warm shutdown; SIGKILL past the grace period), removes its folder. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.service.stop(10_000);
    await Deno.remove(this.service.spec.dir, { recursive: true }).catch(() => {});
  }
}

/**
 * The distinct lines of a log that match `needle` (ids shown as `<id>`), at most
 * `max`, for assertion messages.
 */
export function linesWith(log: string, needle: RegExp, max = 5): string {
  const uuid = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
  const lines = log.split("\n").filter((line) => needle.test(line));
  const distinct = [...new Set(lines.map((line) => line.replaceAll(uuid, "<id>")))];
  const more = distinct.length > max ? `\n(${distinct.length - max} more)` : "";
  return distinct.slice(0, max).join("\n") + more;
}

/** What a framework's log says went wrong: its distinct error lines, else its last lines. */
export function errorsIn(log: string): string {
  const errors = linesWith(log, /Error: |refused by Pylon/);
  return errors !== "" ? errors : log.trimEnd().split("\n").slice(-20).join("\n");
}
