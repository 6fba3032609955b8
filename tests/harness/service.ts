/**
 * One server process started by a test: its log goes to a file in its own
 * folder, it can be stopped, killed, paused and restarted, and the suite runner
 * kills it if a test forgets to.
 */

import { join } from "node:path";

/** Environment variable naming the suite's scratch root (set by tests/run.ts). */
export const TEST_ROOT_ENV = "PYLON_TEST_ROOT";

/** How a service is started. */
export interface ServiceSpec {
  /** Short name used in messages, e.g. "redis:6379". */
  name: string;
  cmd: string;
  args: string[];
  /** Folder the service owns (its log goes here). */
  dir: string;
  env?: Record<string, string>;
}

/**
 * Set by `deno task test:unit`: a test that starts a server there is not a unit
 * test, and fails saying so instead of quietly needing Redis or Kafka.
 */
export const UNIT_ONLY_ENV = "PYLON_UNIT_ONLY";

/** Makes a scratch folder under the suite root (or the system temp folder). */
export async function scratchDir(prefix: string): Promise<string> {
  const root = Deno.env.get(TEST_ROOT_ENV);
  if (root !== undefined) await Deno.mkdir(root, { recursive: true });
  return await Deno.makeTempDir({
    prefix: `${prefix}-`,
    ...(root === undefined ? {} : { dir: root }),
  });
}

function pidFile(pid: number): string | undefined {
  const root = Deno.env.get(TEST_ROOT_ENV);
  return root === undefined ? undefined : join(root, "pids", String(pid));
}

/** A running (or stopped) server process. */
export class Service {
  readonly spec: ServiceSpec;
  readonly logPath: string;
  #child: Deno.ChildProcess | undefined;
  #status: Promise<Deno.CommandStatus> | undefined;
  #exited = true;
  #paused = false;

  constructor(spec: ServiceSpec) {
    this.spec = spec;
    this.logPath = join(spec.dir, `${spec.name.replaceAll(/[^a-zA-Z0-9_.-]/g, "_")}.log`);
  }

  /** Starts the process; its stdout and stderr are appended to {@linkcode logPath}. */
  start(): void {
    if (!this.#exited) throw new Error(`${this.spec.name} is already running`);
    if (Deno.env.get(UNIT_ONLY_ENV) === "1") {
      throw new Error(`${this.spec.name}: a unit test starts no servers (${UNIT_ONLY_ENV}=1)`);
    }
    // `exec` keeps the pid of the shell, so signals reach the server itself.
    const command = new Deno.Command("sh", {
      args: ["-c", 'exec "$@" >>"$PYLON_SERVICE_LOG" 2>&1', "sh", this.spec.cmd, ...this.spec.args],
      env: { ...this.spec.env, PYLON_SERVICE_LOG: this.logPath },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    });
    const child = command.spawn();
    this.#child = child;
    this.#exited = false;
    this.#paused = false;
    const file = pidFile(child.pid);
    if (file !== undefined) {
      Deno.mkdirSync(join(file, ".."), { recursive: true });
      Deno.writeTextFileSync(file, `${this.spec.name}\n`);
    }
    this.#status = child.status.then((status) => {
      this.#exited = true;
      if (file !== undefined) Deno.removeSync(file);
      return status;
    });
  }

  /** The process id of the current run. */
  get pid(): number {
    if (this.#child === undefined) throw new Error(`${this.spec.name} was never started`);
    return this.#child.pid;
  }

  /** Whether the process is alive (paused counts as alive). */
  get running(): boolean {
    return !this.#exited;
  }

  /** Resolves when the current run ends. */
  get exited(): Promise<Deno.CommandStatus> {
    if (this.#status === undefined) throw new Error(`${this.spec.name} was never started`);
    return this.#status;
  }

  /** The last lines of the service's log, for error messages. */
  async logTail(lines = 40): Promise<string> {
    let text: string;
    try {
      text = await Deno.readTextFile(this.logPath);
    } catch {
      return `(no log at ${this.logPath})`;
    }
    const tail = text.trimEnd().split("\n").slice(-lines).join("\n");
    return `--- last ${lines} lines of ${this.logPath} ---\n${tail}`;
  }

  /** Sends a signal if the process is alive. */
  signal(signal: Deno.Signal): void {
    if (this.#exited || this.#child === undefined) return;
    try {
      this.#child.kill(signal);
    } catch (error) {
      // It may have exited between the check and the signal.
      if (!(error instanceof TypeError) && !(error instanceof Deno.errors.NotFound)) throw error;
    }
  }

  /** `kill -9`: ends the process at once, with no chance to clean up. */
  async kill(): Promise<void> {
    this.signal("SIGKILL");
    await this.#status;
  }

  /** `kill -STOP`: the process hangs, its sockets stay open. */
  pause(): void {
    this.signal("SIGSTOP");
    this.#paused = true;
  }

  /** `kill -CONT`: undoes {@linkcode pause}. */
  resume(): void {
    this.signal("SIGCONT");
    this.#paused = false;
  }

  /** Asks the process to stop (SIGTERM) and kills it if it takes longer than `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.#exited) {
      await this.#status;
      return;
    }
    if (this.#paused) this.resume();
    this.signal("SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), graceMs);
    });
    const outcome = await Promise.race([this.#status, timedOut]);
    clearTimeout(timer);
    if (outcome === "timeout") await this.kill();
  }
}
