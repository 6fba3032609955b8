/**
 * A connection for Pylon's own pipelined work (the applier): a group of
 * encoded commands goes out in one write and comes back as the raw reply
 * frames, in order, so replies can be handed on as Redis's exact bytes.
 */

import type * as net from "node:net";
import { ReplyFramer } from "../resp/reply_framer.ts";
import { describe, type HostPort } from "../net/address.ts";
import { ConnectionError } from "./connect.ts";
import { connectSocket } from "./connect.ts";
import { authArgs, type RedisAccess } from "./access.ts";
import { encodeCommand } from "../resp/encoder.ts";
import { concatBytes, plainBytes } from "../resp/bytes.ts";
import type { CommandRunner } from "./command_runner.ts";

interface Group {
  count: number;
  frames: Uint8Array[];
  resolve: (frames: Uint8Array[]) => void;
  reject: (error: Error) => void;
}

/** One connection answering groups of commands with raw frames. */
export class PipelineConnection implements CommandRunner {
  readonly address: HostPort;
  #socket: net.Socket;
  #framer = new ReplyFramer();
  #groups: Group[] = [];
  #closed = false;
  #error: ConnectionError | undefined;

  private constructor(address: HostPort, socket: net.Socket) {
    this.address = address;
    this.#socket = socket;
    socket.on("data", (chunk: Uint8Array) => this.#receive(plainBytes(chunk)));
    socket.on("error", (e: Error) => this.#fail(`${describe(address)}: ${e.message}`));
    socket.on("close", () => this.#fail(`${describe(address)}: connection closed`));
  }

  /** Connects within `timeoutMs`, with TLS and AUTH as `access` says. */
  static async connect(
    address: HostPort,
    access: RedisAccess = {},
    timeoutMs = 2_000,
  ): Promise<PipelineConnection> {
    const connection = new PipelineConnection(
      address,
      await connectSocket(address, timeoutMs, access),
    );
    const auth = authArgs(access);
    if (auth !== undefined) {
      const [reply] = await connection.run([encodeCommand(auth)]);
      if (reply![0] === 45 /* - */) {
        connection.close();
        throw new ConnectionError(
          `${describe(address)}: AUTH refused: ${
            new TextDecoder().decode(reply!.subarray(1)).trim()
          }`,
        );
      }
    }
    return connection;
  }

  /** Whether the connection has ended. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Writes `commands` (each an encoded request) at once; resolves with one raw frame per command. */
  run(commands: Uint8Array[]): Promise<Uint8Array[]> {
    if (this.#closed) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      this.#groups.push({ count: commands.length, frames: [], resolve, reject });
      this.#socket.write(concatBytes(commands));
    });
  }

  /** Closes the connection; pending groups fail. */
  close(): void {
    this.#fail(`${describe(this.address)}: closed by Pylon`);
  }

  #receive(chunk: Uint8Array): void {
    this.#framer.push(chunk);
    while (true) {
      let frame: Uint8Array | undefined;
      try {
        frame = this.#framer.next();
      } catch (error) {
        this.#fail(`${describe(this.address)}: ${(error as Error).message}`);
        return;
      }
      if (frame === undefined) return;
      const group = this.#groups[0];
      if (group === undefined) {
        this.#fail(`${describe(this.address)}: reply with no request`);
        return;
      }
      // Frames may be views of a chunk the socket reuses: keep a copy.
      group.frames.push(frame.slice());
      if (group.frames.length === group.count) {
        this.#groups.shift();
        group.resolve(group.frames);
      }
    }
  }

  #fail(message: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#error = new ConnectionError(message);
    this.#socket.destroy();
    for (const group of this.#groups.splice(0)) group.reject(this.#error);
  }
}
