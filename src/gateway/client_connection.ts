/**
 * One client connection: decodes its requests, routes each through the
 * command table, and writes replies back in request order. Memory is bounded:
 * reading pauses while too many requests are in flight or too many reply bytes
 * wait for a client that does not read, and resumes when they drain.
 */

import type * as net from "node:net";
import { getLogger } from "@logtape/logtape";
import { type Argv, RequestDecoder } from "../resp/request_decoder.ts";
import { encode, encodeCommand, encodeError } from "../resp/encoder.ts";
import { ProtocolError, type RespLimits } from "../resp/protocol_error.ts";
import type { Protocol, RespValue } from "../resp/value.ts";
import { type CommandSpec, route } from "../command/mod.ts";
import { UpstreamError } from "../redis/upstream_connection.ts";
import { ReplyQueue, type Slot } from "./reply_queue.ts";

const log = getLogger(["pylon", "gateway"]);

/** Bounds of one connection. */
export interface ConnectionLimits {
  /** Requests in flight before reading pauses. */
  maxPending: number;
  /** Reply bytes queued for a slow reader before reading pauses. */
  maxOutputBytes: number;
  /** Bounds of the request decoder. */
  resp: Partial<RespLimits>;
}

/** Sends an encoded read to the rack's Redis; `sink` gets the raw reply or the error that lost it. */
export type ForwardRead = (
  request: Uint8Array,
  db: number,
  protocol: Protocol,
  sink: (reply: Uint8Array | UpstreamError) => void,
) => void;

/** What a connection needs from the node around it. */
export interface ConnectionHost {
  forward: ForwardRead;
  /** Answers commands Pylon serves itself (PING, SELECT, CLIENT, PYLON, ...). */
  local(
    connection: ClientConnection,
    argv: Argv,
    command: CommandSpec | undefined,
  ): RespValue | Uint8Array;
  /** Counts a served command. */
  served(): void;
  /** Called once when the connection ends. */
  closed(connection: ClientConnection): void;
}

/** Delays between retries of a read whose Redis connection failed (failover, restart). */
const READ_RETRY_DELAYS_MS = [50, 200, 500, 1_000];

const PYLON = new TextEncoder().encode("pylon");

function isPylonCommand(name: Uint8Array | undefined): boolean {
  if (name === undefined || name.length !== 5) return false;
  for (let i = 0; i < 5; i++) if ((name[i]! | 0x20) !== PYLON[i]) return false;
  return true;
}

/** A client's connection state (`SELECT`ed db, protocol, name) and its reply stream. */
export class ClientConnection {
  readonly id: number;
  readonly createdAt = Date.now();
  readonly remoteAddress: string;
  readonly localAddress: string;
  name = "";
  db = 0;
  protocol: Protocol = 2;
  lastActiveAt = Date.now();
  lastCommand = "NULL";
  #socket: net.Socket;
  #host: ConnectionHost;
  #limits: ConnectionLimits;
  #decoder: RequestDecoder;
  #replies = new ReplyQueue();
  /** No more requests are read; the socket ends once queued replies are written. */
  #closing = false;
  #closed = false;
  #paused = false;
  #flushScheduled = false;

  constructor(id: number, socket: net.Socket, host: ConnectionHost, limits: ConnectionLimits) {
    this.id = id;
    this.#socket = socket;
    this.#host = host;
    this.#limits = limits;
    this.#decoder = new RequestDecoder(limits.resp);
    this.remoteAddress = `${socket.remoteAddress}:${socket.remotePort}`;
    this.localAddress = `${socket.localAddress}:${socket.localPort}`;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Uint8Array) => this.#receive(chunk));
    socket.on("drain", () => this.#maybeResume());
    socket.on("error", () => this.#onClose());
    socket.on("close", () => this.#onClose());
  }

  /** Bytes received and not yet decoded (CLIENT LIST's qbuf). */
  get bufferedInput(): number {
    return this.#decoder.bufferedBytes;
  }

  /** Reply bytes waiting in the socket (CLIENT LIST's omem). */
  get bufferedOutput(): number {
    return this.#socket.writableLength;
  }

  /** Requests in flight. */
  get pending(): number {
    return this.#replies.pending;
  }

  /** Stops reading and ends the connection once queued replies are written (QUIT). */
  closeAfterReplies(): void {
    this.#closing = true;
  }

  /** Closes at once, dropping queued replies. */
  destroy(): void {
    this.#socket.destroy();
    this.#onClose();
  }

  /** Sends one reply and closes (connection limit, shutdown). */
  rejectAndClose(message: string): void {
    this.#closing = true;
    this.#replies.push(encodeError(message));
    this.#flush();
  }

  #receive(chunk: Uint8Array): void {
    if (this.#closing) return;
    this.lastActiveAt = Date.now();
    this.#decoder.push(chunk);
    this.#drain();
  }

  /** Handles decoded requests until input runs out or a bound is reached. */
  #drain(): void {
    while (!this.#closing && this.#replies.pending < this.#limits.maxPending) {
      let argv: Argv | undefined;
      try {
        argv = this.#decoder.next();
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        log.info("client {id} at {addr}: {error}; closing", {
          id: this.id,
          addr: this.remoteAddress,
          error: error.message,
        });
        this.#replies.push(encodeError(`ERR ${error.message}`));
        this.#closing = true;
        break;
      }
      if (argv === undefined) break;
      this.#dispatch(argv);
    }
    this.#checkBackpressure();
    this.#flush();
  }

  #dispatch(argv: Argv): void {
    this.#host.served();
    if (isPylonCommand(argv[0])) {
      this.lastCommand = "pylon";
      this.#answer(this.#host.local(this, argv, undefined));
      return;
    }
    const r = route(argv);
    switch (r.kind) {
      case "read":
        this.lastCommand = r.command.name;
        // The client's own bytes go upstream when they arrived in one piece.
        this.#read(
          this.#decoder.raw ?? encodeCommand(argv),
          this.#replies.reserve(),
          this.db,
          this.protocol,
          0,
        );
        return;
      case "local":
        this.lastCommand = r.command.name;
        this.#answer(this.#host.local(this, argv, r.command));
        return;
      case "write":
        this.lastCommand = r.command.name;
        this.#replies.push(
          encodeError(
            `ERR command '${r.command.name}' is a write and Pylon's write path is not enabled yet`,
          ),
        );
        return;
      case "pubsub":
        this.lastCommand = r.command.name;
        this.#replies.push(
          encodeError(
            `ERR command '${r.command.name}' is refused by Pylon: pub/sub is not served yet`,
          ),
        );
        return;
      case "refused":
        this.lastCommand = r.command.name;
        this.#replies.push(encodeError(r.message));
        return;
      case "error":
        this.#replies.push(encodeError(r.message));
        return;
    }
  }

  #answer(reply: RespValue | Uint8Array): void {
    this.#replies.push(reply instanceof Uint8Array ? reply : encode(reply, this.protocol));
  }

  /** Forwards a read; if its Redis connection fails, retries on a fresh one a few times. */
  #read(request: Uint8Array, slot: Slot, db: number, protocol: Protocol, attempt: number): void {
    this.#host.forward(request, db, protocol, (reply) => {
      if (this.#closed) return;
      if (reply instanceof UpstreamError) {
        const delay = READ_RETRY_DELAYS_MS[attempt];
        if (delay === undefined) {
          slot.reply = encodeError(`ERR Pylon cannot reach the rack's Redis: ${reply.message}`);
          this.#scheduleFlush();
        } else {
          setTimeout(() => {
            if (!this.#closed) this.#read(request, slot, db, protocol, attempt + 1);
          }, delay);
        }
        return;
      }
      slot.reply = reply;
      this.#scheduleFlush();
    });
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    // Replies that arrive together (one read from Redis) leave together.
    queueMicrotask(() => {
      this.#flushScheduled = false;
      this.#flush();
      this.#maybeResume();
    });
  }

  /** Writes the replies that are next in line, batching small ones into one write. */
  #flush(): void {
    if (this.#closed) return;
    const ready = this.#replies.takeReady();
    if (ready.length === 1) {
      this.#socket.write(ready[0]!);
    } else if (ready.length > 1) {
      let batch: Uint8Array[] = [];
      let batchBytes = 0;
      const writeBatch = () => {
        if (batch.length === 0) return;
        if (batch.length === 1) this.#socket.write(batch[0]!);
        else this.#socket.write(concat(batch, batchBytes));
        batch = [];
        batchBytes = 0;
      };
      for (const reply of ready) {
        if (reply.length >= 64 * 1024) {
          writeBatch();
          this.#socket.write(reply);
        } else {
          batch.push(reply);
          batchBytes += reply.length;
        }
      }
      writeBatch();
    }
    if (this.#closing && this.#replies.pending === 0) this.#socket.end();
  }

  #checkBackpressure(): void {
    if (this.#paused || this.#closing) return;
    if (
      this.#replies.pending >= this.#limits.maxPending ||
      this.#socket.writableLength > this.#limits.maxOutputBytes
    ) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  #maybeResume(): void {
    if (!this.#paused || this.#closed) return;
    if (this.#replies.pending >= this.#limits.maxPending / 2) return;
    if (this.#socket.writableLength > this.#limits.maxOutputBytes / 2) return;
    this.#paused = false;
    this.#socket.resume();
    // Requests decoded but not handled while paused are waiting in the decoder.
    this.#drain();
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing = true;
    this.#host.closed(this);
  }
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
