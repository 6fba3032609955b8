/**
 * A small Redis command client for Pylon's own traffic (Sentinel queries,
 * subscriptions, control commands): pipelined calls answered in order, decoded
 * into {@linkcode RespValue}s. Forwarded client traffic does not use it.
 */

import * as net from "node:net";
import { encodeCommand } from "../resp/encoder.ts";
import { ReplyDecoder } from "../resp/reply_decoder.ts";
import { ConnectionError, connectSocket } from "./connect.ts";
import { authArgs, type RedisAccess } from "./access.ts";
import type { RespValue } from "../resp/value.ts";
import { describe, type HostPort } from "../net/address.ts";

/** An error reply from Redis, raised by {@linkcode RedisClient.command}. */
export class ReplyError extends Error {
  override name = "ReplyError";
}

/** Options of {@linkcode RedisClient.connect}. */
export interface ClientOptions {
  connectTimeoutMs?: number;
  /** TLS and credentials (default: plain TCP, no AUTH). */
  access?: RedisAccess;
  /** Fail a call (and close the connection) when no reply comes within this long. */
  callTimeoutMs?: number;
}

interface Pending {
  resolve: (value: RespValue) => void;
  reject: (error: Error) => void;
  sentAt: number;
}

const utf8 = new TextDecoder();

/** One connection to a Redis or Sentinel server. */
export class RedisClient {
  readonly address: HostPort;
  #socket: net.Socket;
  #decoder = new ReplyDecoder();
  #pending: Pending[] = [];
  #closed = false;
  #closeError: ConnectionError | undefined;
  #onMessage: ((channel: string, message: Uint8Array) => void) | undefined;
  #onClose: ((error: ConnectionError) => void)[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;

  private constructor(address: HostPort, socket: net.Socket, options: ClientOptions) {
    this.address = address;
    this.#socket = socket;
    // Plain views: decoded values compare equal to Uint8Arrays made elsewhere.
    socket.on(
      "data",
      (chunk: Uint8Array) =>
        this.#receive(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)),
    );
    socket.on(
      "error",
      (error: Error) => this.#fail(new ConnectionError(`${describe(address)}: ${error.message}`)),
    );
    socket.on(
      "close",
      () => this.#fail(new ConnectionError(`${describe(address)}: connection closed`)),
    );
    const callTimeoutMs = options.callTimeoutMs;
    if (callTimeoutMs !== undefined) {
      this.#timer = setInterval(() => {
        const oldest = this.#pending[0];
        if (oldest !== undefined && performance.now() - oldest.sentAt > callTimeoutMs) {
          this.#fail(
            new ConnectionError(`${describe(address)}: no reply within ${callTimeoutMs} ms`),
          );
        }
      }, Math.min(callTimeoutMs, 500));
    }
  }

  /** Connects, failing after `connectTimeoutMs` (default 2 s). */
  static async connect(address: HostPort, options: ClientOptions = {}): Promise<RedisClient> {
    const access = options.access ?? {};
    const socket = await connectSocket(address, options.connectTimeoutMs ?? 2_000, access);
    const client = new RedisClient(address, socket, options);
    const auth = authArgs(access);
    if (auth !== undefined) {
      const reply = await client.call(...auth).catch((error) => {
        client.close();
        throw error;
      });
      if (reply.type === "error") {
        client.close();
        // Redis's own words, never the password.
        throw new ConnectionError(`${describe(address)}: AUTH refused: ${reply.value}`);
      }
    }
    return client;
  }

  /** Whether the connection has ended. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Runs `fn` once when the connection ends, with the reason. */
  onClose(fn: (error: ConnectionError) => void): void {
    if (this.#closed) fn(this.#closeError!);
    else this.#onClose.push(fn);
  }

  /** Sends one command; resolves with the reply, error replies included. */
  call(...argv: (string | Uint8Array)[]): Promise<RespValue> {
    if (this.#closed) return Promise.reject(this.#closeError);
    return new Promise((resolve, reject) => {
      this.#pending.push({ resolve, reject, sentAt: performance.now() });
      this.#socket.write(encodeCommand(argv));
    });
  }

  /** Sends one command; rejects with {@linkcode ReplyError} on an error reply. */
  async command(...argv: (string | Uint8Array)[]): Promise<RespValue> {
    const reply = await this.call(...argv);
    if (reply.type === "error") throw new ReplyError(reply.value);
    return reply;
  }

  /**
   * Subscribes to `channels`; the connection is then in pub/sub mode and
   * `onMessage` gets every message.
   */
  async subscribe(
    channels: string[],
    onMessage: (channel: string, message: Uint8Array) => void,
  ): Promise<void> {
    this.#onMessage = onMessage;
    await this.command("SUBSCRIBE", ...channels);
    // Each channel after the first confirms with its own reply.
    for (let i = 1; i < channels.length; i++) await this.#nextConfirmation();
  }

  #nextConfirmation(): Promise<RespValue> {
    return new Promise((resolve, reject) =>
      this.#pending.push({ resolve, reject, sentAt: performance.now() })
    );
  }

  /** Closes the connection; pending calls fail. */
  close(): void {
    this.#fail(new ConnectionError(`${describe(this.address)}: closed by Pylon`));
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #receive(chunk: Uint8Array): void {
    this.#decoder.push(chunk);
    let value: RespValue | undefined;
    try {
      value = this.#decoder.next();
    } catch (error) {
      this.#fail(new ConnectionError(`${describe(this.address)}: ${(error as Error).message}`));
      return;
    }
    while (value !== undefined) {
      if (!this.#deliverMessage(value)) {
        const pending = this.#pending.shift();
        if (pending === undefined) {
          this.#fail(new ConnectionError(`${describe(this.address)}: reply with no request`));
          return;
        }
        pending.resolve(value);
      }
      try {
        value = this.#decoder.next();
      } catch (error) {
        this.#fail(new ConnectionError(`${describe(this.address)}: ${(error as Error).message}`));
        return;
      }
    }
  }

  /** Pub/sub messages arrive unrequested: `message <channel> <payload>`. */
  #deliverMessage(value: RespValue): boolean {
    if (this.#onMessage === undefined) return false;
    const items = value.type === "array" || value.type === "push" ? value.value : null;
    if (items === null || items.length !== 3) return false;
    const [kind, channel, payload] = items;
    if (kind?.type !== "bulk" || kind.value === null || utf8.decode(kind.value) !== "message") {
      return false;
    }
    if (
      channel?.type !== "bulk" || channel.value === null || payload?.type !== "bulk" ||
      payload.value === null
    ) {
      return false;
    }
    this.#onMessage(utf8.decode(channel.value), payload.value);
    return true;
  }

  #fail(error: ConnectionError): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = error;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#socket.destroy();
    const pending = this.#pending;
    this.#pending = [];
    for (const p of pending) p.reject(error);
    for (const fn of this.#onClose) fn(error);
    this.#onClose = [];
  }
}

/** The text of a bulk or simple string reply, or undefined for anything else. */
export function replyText(value: RespValue): string | undefined {
  if (value.type === "simple") return value.value;
  if (value.type === "bulk" && value.value !== null) return utf8.decode(value.value);
  return undefined;
}
