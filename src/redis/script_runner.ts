/**
 * Read-only scripts and functions (`EVAL_RO`, `EVALSHA_RO`, `FCALL_RO`) run
 * on the rack's Redis as a restricted Redis user, `pylon-scripts`, that may
 * not `SELECT` (nor `SWAPDB`, `MOVE`, `COPY`): a script can then only touch
 * the client's own db, never Pylon's metadata db. Redis checks ACLs on the
 * commands a script calls, so no inspection of the script is needed.
 *
 * Each script runs on a connection of its own small pool: authenticate as
 * Pylon, select the client's db, switch protocol, authenticate as the
 * restricted user, run the script; the script's reply goes to the client as
 * Redis's own bytes. Pylon creates (or refreshes) the user on each new
 * connection; a Redis that refuses that (no ACLs, no rights) refuses scripts.
 */

import { createHash } from "node:crypto";
import type { HostPort } from "../net/address.ts";
import { encodeCommand } from "../resp/encoder.ts";
import { frameText, isErrorFrame } from "../resp/frames.ts";
import type { Protocol } from "../resp/value.ts";
import type { RedisAccess } from "./access.ts";
import type { PipelineConnection } from "./pipeline_connection.ts";
import { readScriptRequest } from "../determinism/functions.ts";
import { DEFAULT_BUDGET_STEPS } from "../determinism/script_budget.ts";

/** The restricted Redis user scripts run as. */
export const SCRIPT_USER = "pylon-scripts";

/**
 * What the restricted user may not run: everything that reaches another db,
 * and INFO, whose reply a client sees only rewritten (src/gateway/reply_filters.ts).
 * TIME stays allowed: the determinism wrapper (src/determinism/) needs it.
 */
const DENIED = ["-select", "-swapdb", "-move", "-copy", "-@admin", "-info"];

/** Connections kept for scripts. */
const POOL_SIZE = 4;

/** Runs read-only scripts as the restricted user. */
export class ScriptRunner {
  #connect: (address: HostPort) => Promise<PipelineConnection>;
  #address: () => HostPort | undefined;
  #access: RedisAccess;
  #password: string;
  #idle: PipelineConnection[] = [];
  #budgetSteps: () => number;

  constructor(
    io: {
      connect: (address: HostPort) => Promise<PipelineConnection>;
      address: () => HostPort | undefined;
    },
    options: {
      access: RedisAccess;
      /** Names the world: the restricted user's password derives from it and Pylon's own. */
      logId: string;
      /** The script budget of a read-only function, in steps (src/determinism/script_budget.ts). */
      budgetSteps?: () => number;
    },
  ) {
    const { access, logId } = options;
    this.#budgetSteps = options.budgetSteps ?? (() => DEFAULT_BUDGET_STEPS);
    this.#connect = io.connect;
    this.#address = io.address;
    this.#access = access;
    // Only someone who already holds Pylon's Redis password can compute it.
    this.#password = createHash("sha256")
      .update(`${SCRIPT_USER}|${access.password ?? ""}|${logId}`)
      .digest("hex");
  }

  /**
   * Runs `request` (an encoded script command) in `db`; Redis's raw reply, or
   * an error text. A function runs with T, the seed and the budget its
   * library's prologue expects (src/determinism/functions.ts).
   */
  async run(request: Uint8Array, db: number, protocol: Protocol): Promise<Uint8Array | string> {
    request = readScriptRequest(request, {
      logTimeMs: Date.now(),
      seed: "0",
      budgetSteps: this.#budgetSteps(),
    });
    let connection: PipelineConnection;
    try {
      connection = await this.#take();
    } catch (error) {
      return `ERR Pylon cannot run scripts on this rack's Redis: ${(error as Error).message}`;
    }
    try {
      const frames = await connection.run([
        encodeCommand(this.#ownAuth()),
        encodeCommand(["SELECT", String(db)]),
        encodeCommand(["HELLO", String(protocol)]),
        encodeCommand(["AUTH", SCRIPT_USER, this.#password]),
        request,
      ]);
      for (const frame of frames.slice(0, 4)) {
        if (isErrorFrame(frame)) {
          connection.close();
          return `ERR Pylon could not prepare the script's connection: ${frameText(frame)}`;
        }
      }
      this.#give(connection);
      return frames[4]!;
    } catch (error) {
      connection.close();
      return `ERR Pylon lost the rack's Redis while running the script: ${
        (error as Error).message
      }`;
    }
  }

  close(): void {
    for (const connection of this.#idle.splice(0)) connection.close();
  }

  /** `AUTH` back to Pylon's own user (a password-less default user takes any password). */
  #ownAuth(): string[] {
    return ["AUTH", this.#access.username ?? "default", this.#access.password ?? "pylon"];
  }

  async #take(): Promise<PipelineConnection> {
    while (this.#idle.length > 0) {
      const connection = this.#idle.pop()!;
      if (!connection.closed) return connection;
    }
    const address = this.#address();
    if (address === undefined) throw new Error("no Redis master known");
    const connection = await this.#connect(address);
    const [made] = await connection.run([
      encodeCommand([
        "ACL",
        "SETUSER",
        SCRIPT_USER,
        "reset",
        "on",
        `>${this.#password}`,
        "~*",
        "&*",
        "+@all",
        ...DENIED,
      ]),
    ]);
    if (isErrorFrame(made!)) {
      connection.close();
      throw new Error(
        `it refused to create the restricted user '${SCRIPT_USER}' (${frameText(made!)}), ` +
          "without which a script could read Pylon's metadata",
      );
    }
    return connection;
  }

  #give(connection: PipelineConnection): void {
    if (this.#idle.length < POOL_SIZE && !connection.closed) this.#idle.push(connection);
    else connection.close();
  }
}
