/**
 * One pipelined connection to the rack's Redis that many client connections
 * share. Requests are written in order and their replies, framed but not
 * decoded, are handed back in the same order. A request carries the db it
 * runs in; the connection sends `SELECT` only when the db changes.
 *
 * At most `queuedRequestsMax` requests wait for their replies on one
 * connection (Pylon's own `SELECT`, `AUTH` and `HELLO` included): past it a
 * request is refused at once with an {@linkcode UpstreamError} that says so,
 * and the connection goes on serving the others. Redis answering slowly (a
 * `KEYS *`, a huge value) therefore costs bounded memory, not a queue that
 * grows with every client's pipeline.
 */

import type * as net from "node:net";
import { setImmediate } from "node:timers";
import { encodeCommand } from "../resp/encoder.ts";
import { ReplyFramer } from "../resp/reply_framer.ts";
import { concatBytes, plainBytes } from "../resp/bytes.ts";
import type { Protocol } from "../resp/value.ts";
import { describe, type HostPort } from "../net/address.ts";
import { fatal } from "../observe/fatal.ts";
import { authArgs, openSocket, type RedisAccess } from "./access.ts";

/** Receives one request's raw reply, or the error that lost it. */
export type ReplySink = (reply: Uint8Array | UpstreamError) => void;

/** The connection to Redis failed before a request got its reply. */
export class UpstreamError extends Error {
  override name = "UpstreamError";
}

const HELLO_3 = encodeCommand(["HELLO", "3"]);
const SELECT: Uint8Array[] = Array.from(
  { length: 16 },
  (_, db) => encodeCommand(["SELECT", String(db)]),
);
/**
 * Requests waiting for replies on one connection, at most (default of
 * `queuedRequestsMax`): each holds its reply sink until answered (and its
 * bytes while the socket has not taken them). A pipelining client has 1,024
 * requests in flight at most and Upstream spreads load over a few connections
 * per protocol once one has 256 waiting, so only a Redis that stalls under
 * many such clients reaches it.
 */
export const QUEUED_REQUESTS_MAX = 100_000;
/** Setup commands a connection may queue before any request: AUTH and HELLO. */
const SETUP_COMMANDS_MAX = 2;

const PLUS = 43;
const PUSH = 62;

function selectCommand(db: number): Uint8Array {
  return SELECT[db] ?? encodeCommand(["SELECT", String(db)]);
}

/** Options of an {@linkcode UpstreamConnection}. */
export interface UpstreamConnectionOptions {
  protocol: Protocol;
  connectTimeoutMs: number;
  /** TLS and credentials (default: plain TCP, no AUTH). */
  access?: RedisAccess;
  /** Called once when the connection fails or closes. */
  onClose: (connection: UpstreamConnection) => void;
  /** Called when the TCP (or TLS) connection is established. */
  onConnect?: () => void;
  /** Requests waiting for replies, at most (default {@linkcode QUEUED_REQUESTS_MAX}). */
  queuedRequestsMax?: number;
}

/** A shared, pipelined connection to one Redis server. */
export class UpstreamConnection {
  readonly address: HostPort;
  readonly protocol: Protocol;
  /** Requests waiting for replies, at most; past it, requests are refused. */
  readonly queuedRequestsMax: number;
  #socket: net.Socket;
  #framer = new ReplyFramer();
  /** Sinks in request order; `#head` is the next to be answered. */
  #sinks: ReplySink[] = [];
  #head = 0;
  #db = 0;
  #connected = false;
  #closed = false;
  #lastReplyAt = performance.now();
  #out: Uint8Array[] = [];
  #flushScheduled = false;
  #onClose: (connection: UpstreamConnection) => void;
  #onConnect: () => void;

  constructor(address: HostPort, options: UpstreamConnectionOptions) {
    this.address = address;
    this.protocol = options.protocol;
    this.queuedRequestsMax = options.queuedRequestsMax ?? QUEUED_REQUESTS_MAX;
    // Room for the setup commands and one request with its SELECT.
    if (
      !Number.isInteger(this.queuedRequestsMax) || this.queuedRequestsMax < SETUP_COMMANDS_MAX + 2
    ) {
      throw new RangeError(
        `queuedRequestsMax "${this.queuedRequestsMax}" must be a whole number, ` +
          `${SETUP_COMMANDS_MAX + 2} or more`,
      );
    }
    this.#onClose = options.onClose;
    this.#onConnect = options.onConnect ?? (() => {});

    const access = options.access ?? {};
    const { socket, ready } = openSocket(address, access);
    this.#socket = socket;
    socket.setTimeout(options.connectTimeoutMs);
    socket.on(ready, () => {
      this.#connected = true;
      socket.setTimeout(0);
      this.#onConnect();
    });
    socket.on("timeout", () => this.fail(`no connection within ${options.connectTimeoutMs} ms`));
    socket.on("data", (chunk: Uint8Array) => this.#receive(plainBytes(chunk)));
    socket.on("error", (error: Error) => this.fail(error.message));
    socket.on("close", () => this.fail("connection closed"));
    // Queued first, so nothing else runs before Redis knows who is asking.
    const auth = authArgs(access);
    if (auth !== undefined) this.#enqueue(encodeCommand(auth), this.#expectSuccess("AUTH"));
    if (options.protocol === 3) this.#enqueue(HELLO_3, this.#expectSuccess("HELLO 3"));
  }

  /** Requests sent and not yet answered. */
  get pending(): number {
    return this.#sinks.length - this.#head;
  }

  /** Whether the TCP connection is established. */
  get connected(): boolean {
    return this.#connected && !this.#closed;
  }

  /** Whether the connection has failed or been closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Milliseconds since the last reply while requests are pending, else 0. */
  stalledMs(now: number): number {
    return this.pending === 0 ? 0 : now - this.#lastReplyAt;
  }

  /**
   * Sends `request` (an encoded command) to run in `db`; `sink` gets its
   * reply, or an {@linkcode UpstreamError} at once when the connection is
   * closed or has `queuedRequestsMax` requests waiting.
   */
  send(request: Uint8Array, db: number, sink: ReplySink): void {
    if (this.#closed) {
      sink(new UpstreamError(`${describe(this.address)}: connection closed`));
      return;
    }
    const needed = db === this.#db ? 1 : 2;
    if (this.pending + needed > this.queuedRequestsMax) {
      sink(
        new UpstreamError(
          `${
            describe(this.address)
          }: ${this.pending} requests are waiting for Redis's replies on ` +
            `this connection, its bound (queuedRequestsMax ${this.queuedRequestsMax}); not sent`,
        ),
      );
      return;
    }
    if (db !== this.#db) {
      this.#db = db;
      this.#enqueue(selectCommand(db), this.#expectSuccess(`SELECT ${db}`));
    }
    this.#enqueue(request, sink);
  }

  #enqueue(request: Uint8Array, sink: ReplySink): void {
    if (this.pending === 0) this.#lastReplyAt = performance.now();
    if (this.pending >= this.queuedRequestsMax) {
      fatal(
        `upstream connection to ${describe(this.address)}`,
        "its queue passed queuedRequestsMax",
      );
    }
    this.#sinks.push(sink);
    this.#out.push(request);
    // Requests from every client handled in this turn of the event loop share one write.
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    const out = this.#out;
    if (out.length === 0 || this.#closed) return;
    this.#out = [];
    this.#socket.write(concatBytes(out));
  }

  /** A sink for Pylon's own setup commands: anything but `+...` breaks the connection. */
  #expectSuccess(what: string): ReplySink {
    return (reply) => {
      if (reply instanceof UpstreamError) return;
      // HELLO answers with a map; SELECT with +OK. Only an error reply is fatal.
      if (reply[0] === PLUS || reply[0] === 37 || reply[0] === 42) return;
      this.fail(`${what} failed: ${new TextDecoder().decode(reply.subarray(0, 200)).trim()}`);
    };
  }

  #receive(chunk: Uint8Array): void {
    this.#lastReplyAt = performance.now();
    this.#framer.push(chunk);
    while (true) {
      let reply: Uint8Array | undefined;
      try {
        reply = this.#framer.next();
      } catch (error) {
        this.fail(`unparseable reply: ${(error as Error).message}`);
        return;
      }
      if (reply === undefined) break;
      // RESP3 pushes are out of band (Pylon never enables them upstream, but they must not shift replies).
      if (reply[0] === PUSH) continue;
      const sink = this.#sinks[this.#head];
      if (sink === undefined) {
        this.fail("reply with no request");
        return;
      }
      this.#sinks[this.#head++] = noop;
      sink(reply);
      if (this.#closed) return;
    }
    // Drop answered sinks once the queue has drained, so it does not grow forever.
    if (this.#head === this.#sinks.length) {
      this.#sinks = [];
      this.#head = 0;
    } else if (this.#head > 1024) {
      this.#sinks = this.#sinks.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Whether the connection failed before it ever connected. */
  neverConnected = false;

  /** Fails every pending request with `reason` and closes the connection. */
  fail(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.neverConnected = !this.#connected;
    this.#socket.destroy();
    const error = new UpstreamError(`${describe(this.address)}: ${reason}`);
    const sinks = this.#sinks.slice(this.#head);
    this.#sinks = [];
    this.#head = 0;
    for (const sink of sinks) sink(error);
    this.#onClose(this);
  }
}

function noop(): void {}
