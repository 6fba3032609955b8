/**
 * One client connection: decodes its requests, routes each through the
 * command table, and writes replies back in request order. Memory is bounded:
 * reading pauses while too many requests are in flight or too many reply bytes
 * wait for a client that does not read, and resumes when they drain.
 */

import type * as net from "node:net";
import { getLogger } from "@logtape/logtape";
import { type Argv, RequestDecoder } from "../resp/request_decoder.ts";
import { encode, encodeCommand, encodeError, REPLY } from "../resp/encoder.ts";
import { readSeconds, refused, sinceTurn, turnNow } from "../observe/metrics.ts";
import { rewriteInfo } from "./info_rewrite.ts";
import {
  blockingSources,
  blockingTimeoutError,
  blockingTypeError,
} from "../command/blocking_timeout.ts";
import { withoutSecrets } from "./config_rewrite.ts";
import { ProtocolError, type RespLimits } from "../resp/protocol_error.ts";
import type { Protocol, RespValue } from "../resp/value.ts";
import {
  commandKeysIfKnown,
  type CommandSpec,
  findCommand,
  queueableInTransaction,
  type Route,
  route,
} from "../command/mod.ts";
import type { AclCommand, AclUser } from "../auth/acl.ts";
import type { Users } from "../auth/users.ts";
import { isWorldChange, pylonCommand, WORLD_CHANGE_NEEDS_AUTH } from "../auth/pylon_commands.ts";
import { equalsIgnoreCase, parseStrictInteger } from "../command/bytes.ts";
import { RACK_ADMIN_COMMANDS, rackAdminRefusal } from "../auth/rack_admin.ts";
import { UpstreamError } from "../redis/upstream_connection.ts";
import { ReplyQueue, type Slot } from "./reply_queue.ts";
import type { MemoryBudget } from "./memory_budget.ts";
import { concatBytes, plainBytes } from "../resp/bytes.ts";
import type { Placement, WriteCommand, WriteRequest } from "../write/write_path.ts";
import type { Need } from "../applier/rack_progress.ts";
import { Subscriber, type SubscriberTarget } from "../pubsub/subscriber.ts";
import { quorumError, type StrongConsistency } from "../consistency/strong.ts";
import type { Contentious } from "../consistency/contentious.ts";

const log = getLogger(["pylon", "gateway"]);

/** Bounds of one connection. */
export interface ConnectionLimits {
  /** Requests in flight before reading pauses. */
  pendingRequestsMax: number;
  /**
   * Reply bytes held for a client that does not read them: past a quarter of
   * this reading pauses; past all of it the client is closed (Redis's
   * `client-output-buffer-limit`).
   */
  outputBytesMax: number;
  /** Bounds of the request decoder. */
  resp: Partial<RespLimits>;
}

/**
 * Sends an encoded read where it can be served, once the serving rack has
 * applied `need` (the connection's own writes); `sink` gets the raw reply or
 * the error that lost it.
 */
export type ForwardRead = (
  request: Uint8Array,
  db: number,
  protocol: Protocol,
  sink: (reply: Uint8Array | UpstreamError) => void,
  need: Need,
  /** Only this rack's Redis may answer (rack administration): never another rack. */
  localOnly?: boolean,
) => void;

/** What a connection needs from the node around it. */
export interface ConnectionHost {
  forward: ForwardRead;
  /** Answers commands Pylon serves itself (PING, SELECT, CLIENT, PYLON, ...). */
  local(
    connection: ClientConnection,
    argv: Argv,
    command: CommandSpec | undefined,
  ): RespValue | Uint8Array | Promise<RespValue>;
  /**
   * Submits a write; `reply` gets the client's reply bytes once. Settles when
   * the write is applied or has failed, so later reads can be ordered after
   * it, with where the log put it (so later reads wait until their rack applied it).
   */
  write(
    request: WriteRequest,
    reply: (bytes: Uint8Array) => void,
  ): Promise<Placement | undefined>;
  /** Counts a served command. */
  served(): void;
  /** Who may connect, and with which rights. */
  users: Users;
  /** The node-wide budget for client buffers. */
  budget: MemoryBudget;
  /** Called once when the connection ends. */
  closed(connection: ClientConnection): void;
  /** Per partition, the position this rack has applied, as far as this node knows. */
  appliedPositions(): readonly (number | undefined)[];
  /** Strong (linearizable) requests: contentious keys and `PYLON CONSISTENCY strong`. */
  strong: { service: StrongConsistency; contentious: Contentious; timeoutMs(): number } | undefined;
  /** Whether clients may SELECT `db` (in range, not Pylon's metadata db). */
  selectable(db: number): boolean;
  /** Where a subscribing client's own connection to the rack's Redis goes. */
  subscriberTarget: SubscriberTarget;
  /** A place for one more subscribed client (its release), or undefined at the limit. */
  subscriberSlot(): (() => void) | undefined;
  /** How `INFO <args>` from Redis is shown to clients (src/gateway/info_rewrite.ts). */
  info(args: string[]): { metaDb: number; pylonSection: string | undefined };
}

/** Delays between retries of a read whose Redis connection failed (failover, restart). */
const READ_RETRY_DELAYS_MS = [50, 200, 500, 1_000];

const utf8 = new TextDecoder();

/** Whether `name` is `word` (lowercase ASCII) in any case. */
function is(name: Uint8Array | undefined, word: string): boolean {
  return name !== undefined && equalsIgnoreCase(name, word);
}

const EMPTY_ARRAY = new TextEncoder().encode("*0\r\n");
const NULL_ARRAY = new TextEncoder().encode("*-1\r\n");
const NULL_RESP3 = new TextEncoder().encode("_\r\n");

/** Requests in flight before the connection knows how large its replies are. */
const INITIAL_WINDOW = 16;
/** How long an ended connection waits for the client to close its side. */
const LINGER_MS = 1_000;

/** The need of a connection that wrote nothing yet. */
const NO_NEED: Need = new Map();

/** What Redis runs on a RESP2 connection in subscribe mode. */
const SUBSCRIBE_CONTEXT = new Set([
  "subscribe",
  "psubscribe",
  "ssubscribe",
  "unsubscribe",
  "punsubscribe",
  "sunsubscribe",
  "ping",
  "quit",
  "reset",
]);

/** Where a read's reply goes and how it is read. */
interface ReadPlace {
  slot: Slot;
  startedAt: number;
  db: number;
  protocol: Protocol;
  rewrite: ((reply: Uint8Array) => Uint8Array) | undefined;
  localOnly: boolean;
  /** The positions the serving rack must have applied (default: the connection's own writes). */
  need?: Need;
}

/** How long `WAIT n 0` ("forever" in Redis) waits here. */
const WAIT_FOREVER_MS = 60_000;

/** A client's connection state (`SELECT`ed db, protocol, name) and its reply stream. */
export class ClientConnection {
  readonly id: number;
  readonly createdAt = Date.now();
  readonly remoteAddress: string;
  readonly localAddress: string;
  name = "";
  db = 0;
  protocol: Protocol = 2;
  /** The Pylon user the connection acts as. */
  user: AclUser;
  /** Whether the connection proved a password (AUTH, HELLO .. AUTH). */
  authenticated = false;
  /** `PYLON CONSISTENCY`: strong makes every request of the connection linearizable. */
  consistency: "local" | "strong" = "local";
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
  #ending = false;
  /** How long an ended connection waits for the client's close (0 after a protocol error). */
  #lingerMs = LINGER_MS;
  #linger: ReturnType<typeof setTimeout> | undefined;
  #flushScheduled = false;
  /** Writes not yet applied (or failed), and a promise settled once all of them are. */
  #writesInFlight = 0;
  #writesSettled: Promise<void> = Promise.resolve();
  /** Reads held behind writes, and a promise settled once all of them have replies. */
  #readsHeld = 0;
  #readsSettled: Promise<void> = Promise.resolve();
  /** The largest reply handed to the socket since it last drained. */
  #largestUnsent = 0;
  /** Replies written so far, and their recent average size (for the pipelining window). */
  #repliesSeen = 0;
  #replyBytesAverage = 0;
  /** Per partition, the position a rack must have applied to show this connection's writes. */
  #seen = new Map<number, number>();
  /** Commands queued since MULTI; undefined outside a transaction. */
  #transaction: WriteCommand[] | undefined;
  #transactionFailed = false;
  /** The db the connection is in after the transaction's last valid SELECT, if any. */
  #transactionDb: number | undefined;
  /**
   * Keys watched since the last EXEC, DISCARD or UNWATCH, with the db they
   * were watched in and, per partition, the position this rack had applied
   * when the first was watched (what the client can have seen since).
   */
  #watch:
    | { db: number; keys: Uint8Array[]; from: (number | undefined)[]; mixedDbs: boolean }
    | undefined;
  /** The client's own subscribed connection to the rack's Redis, while it subscribes. */
  #subscriber: Subscriber | undefined;
  /** A subscribe command waiting for the subscriber to connect. */
  #subscriberWaiting: (() => void) | undefined;
  /** Gives the subscriber's place back. */
  #subscriberRelease: (() => void) | undefined;

  constructor(
    socket: net.Socket,
    options: { id: number; host: ConnectionHost; limits: ConnectionLimits },
  ) {
    const { host, limits } = options;
    this.id = options.id;

    this.#socket = socket;
    this.#host = host;
    this.#limits = limits;
    this.#decoder = new RequestDecoder(limits.resp);
    this.user = host.users.defaultUser;
    this.remoteAddress = `${socket.remoteAddress}:${socket.remotePort}`;
    this.localAddress = `${socket.localAddress}:${socket.localPort}`;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Uint8Array) => this.#receive(plainBytes(chunk)));
    socket.on("drain", () => {
      this.#largestUnsent = 0;
      this.#maybeResume();
    });
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

  /** Commands queued since MULTI, or -1 outside a transaction (CLIENT LIST's multi). */
  get queuedInTransaction(): number {
    return this.#transaction?.length ?? -1;
  }

  /** Channels, patterns and shard channels subscribed (CLIENT LIST's sub, psub, ssub). */
  get subscriptions(): { channels: number; patterns: number; shardChannels: number } {
    const s = this.#subscriber?.subscriptions;
    return {
      channels: s?.channels.size ?? 0,
      patterns: s?.patterns.size ?? 0,
      shardChannels: s?.shardChannels.size ?? 0,
    };
  }

  /** Leaves subscribe mode (RESET). */
  closeSubscriber(): void {
    this.#subscriber?.close();
    this.#subscriber = undefined;
    this.#subscriberWaiting = undefined;
    this.#subscriberRelease?.();
    this.#subscriberRelease = undefined;
  }

  /** Requests in flight. */
  get pending(): number {
    return this.#replies.pending;
  }

  /** Stops reading and ends the connection once queued replies are written (QUIT). */
  closeAfterReplies(): void {
    this.#closing = true;
  }

  /**
   * A drain (SIGTERM): takes no more requests, and ends the connection once
   * every request already taken has its reply written. What the client sends
   * meanwhile is read and dropped, so the kernel never answers it with a reset
   * that could discard replies the client has not read yet.
   */
  drain(): void {
    this.#closing = true;
    this.#paused = false;
    this.#socket.resume();
    this.#flush();
  }

  /** Closes at once, dropping queued replies. */
  destroy(): void {
    if (!this.#closed && this.#host.budget.totalBytes > this.#host.budget.limitBytes) {
      refused("memory_budget");
      log.warning(
        "client {id} at {addr} closed: the node's client memory budget of {limit} bytes is spent and it holds the most",
        {
          id: this.id,
          addr: this.remoteAddress,
          limit: this.#host.budget.limitBytes,
        },
      );
    }
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
    if (!this.#account()) return;
    this.#drain();
  }

  /** Reply bytes held for this client: in the socket, and answered but queued behind others. */
  get #outputBytes(): number {
    return this.#socket.writableLength + this.#replies.heldBytes;
  }

  /**
   * Reports what this connection holds to the node's budget; closes it (false)
   * when its output is past its own limit or its growth takes the node past
   * the budget.
   */
  #account(): boolean {
    if (this.#closed) return false;
    const output = this.#outputBytes;
    // One reply larger than the limit (a 100 MB value) is still delivered: the limit is on what
    // piles up around it.
    if (output - this.#largestUnsent > this.#limits.outputBytesMax) {
      refused("output_limit");
      log.warning(
        "client {id} at {addr} closed: {output} reply bytes unread, over the limit of {limit}",
        {
          id: this.id,
          addr: this.remoteAddress,
          output,
          limit: this.#limits.outputBytesMax,
        },
      );
      this.destroy();
      return false;
    }
    return this.#host.budget.update(this, this.#decoder.bufferedBytes + output);
  }

  /**
   * Handles decoded requests until input runs out or a bound is reached. Replies
   * answered at once (PING, local commands) can drain the queue during the
   * flush, with nothing left in flight to resume reading later: then it goes on.
   */
  #drain(): void {
    do this.#handleDecoded(); while (this.#resumable());
  }

  #handleDecoded(): void {
    while (
      !this.#closing && this.#replies.pending < this.#window() && !this.#subscriberBusy
    ) {
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
        refused("protocol");
        this.#replies.push(encodeError(`ERR ${error.message}`));
        this.#closing = true;
        // As Redis: the error, then the connection closes; what the client still sends is refused.
        this.#lingerMs = 0;
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
    const name = argv[0];
    if (this.protocol === 2 && (this.#subscriber?.count ?? 0) > 0) {
      this.#dispatchSubscribed(argv);
      return;
    }
    if (is(name, "pylon")) {
      this.lastCommand = "pylon";
      const refusal = this.#refusal(pylonCommand(argv), argv, undefined) ??
        (isWorldChange(argv) && !this.authenticated ? WORLD_CHANGE_NEEDS_AUTH : undefined);
      if (refusal !== undefined) this.#refuse(refusal);
      else this.#answer(this.#host.local(this, argv, undefined));
      return;
    }
    if (is(name, "watch") || is(name, "unwatch")) {
      const spec = findCommand(utf8.decode(name!).toLowerCase())!;
      const refusal = this.#refusal(spec, argv, spec);
      if (refusal !== undefined) this.#refuse(refusal);
      else this.#watchCommand(argv);
      return;
    }
    if (is(name, "multi") || is(name, "exec") || is(name, "discard")) {
      const refusal = this.#refusal(
        findCommand(utf8.decode(name!).toLowerCase())!,
        argv,
        undefined,
      );
      if (refusal !== undefined) this.#refuse(refusal);
      else this.#transactionCommand(argv);
      return;
    }
    const r = route(argv);
    if (r.kind !== "error") {
      const refusal = this.#refusal(r.command, argv, r.command);
      if (refusal !== undefined) {
        this.lastCommand = r.command.name;
        if (this.#transaction !== undefined) this.#transactionFailed = true;
        this.#refuse(refusal);
        return;
      }
    }
    if (this.#transaction !== undefined) {
      this.#queueInTransaction(argv, r);
      return;
    }
    switch (r.kind) {
      case "read": {
        this.lastCommand = r.command.name;
        if (RACK_ADMIN_COMMANDS.has(r.command.name)) {
          const refusal = rackAdminRefusal(r.command.name, argv, this.authenticated);
          if (refusal !== undefined) {
            refused("noperm");
            this.#replies.push(encodeError(refusal));
            return;
          }
          return this.#readInOrder(encodeCommand(argv), undefined, true);
        }
        // The client's own bytes go upstream when they arrived in one piece.
        const request = this.#decoder.raw ?? encodeCommand(argv);
        if (r.command.name === "config|get") {
          const protocol = this.protocol;
          return this.#readInOrder(request, (reply) => withoutSecrets(reply, protocol));
        }
        if (this.#isStrong([{ command: r.command, argv }])) {
          return this.#readInOrder(request, undefined, false, true);
        }
        if (r.command.name !== "info") return this.#readInOrder(request, undefined);
        const shown = this.#host.info(argv.slice(1).map((a) => utf8.decode(a)));
        return this.#readInOrder(request, (reply) => rewriteInfo(reply, shown));
      }
      case "local":
        this.lastCommand = r.command.name;
        if (r.command.name === "wait") return this.#waitCommand(argv);
        this.#answer(this.#host.local(this, argv, r.command));
        return;
      case "write": {
        this.lastCommand = r.command.name;
        const commands = [{ argv, command: r.command, reply: r.reply }];
        this.#write(commands, false, undefined, this.#isStrong(commands));
        return;
      }
      case "pubsub":
        this.lastCommand = r.command.name;
        this.#subscribeCommand(this.#decoder.raw ?? encodeCommand(argv));
        return;
      case "refused": {
        this.lastCommand = r.command.name;
        // A blocking command's wrong timeout gets Redis's error before Pylon's refusal.
        const timeout = blockingTimeoutError(r.command.name, argv);
        if (timeout !== undefined) {
          this.#replies.push(encodeError(timeout));
          return;
        }
        refused("not_served");
        const keys = (commandKeysIfKnown(r.command, argv) ?? []).map((i) => argv[i]!);
        const sources = blockingSources(r.command.name, keys);
        if (sources === undefined) this.#replies.push(encodeError(r.message));
        else this.#refuseBlocking(sources, r.message);
        return;
      }
      case "error":
        refused(r.message.includes("wrong number of arguments") ? "arity" : "unknown_command");
        this.#replies.push(encodeError(r.message));
        return;
    }
  }

  /**
   * A RESP2 connection in subscribe mode: Redis runs only the subscribe
   * commands, PING, QUIT and RESET, and refuses the rest in its own words.
   */
  #dispatchSubscribed(argv: Argv): void {
    const r = route(argv);
    if (r.kind === "error") {
      this.#replies.push(encodeError(r.message));
      return;
    }
    this.lastCommand = r.command.name;
    const refusal = this.#refusal(r.command, argv, r.command);
    if (refusal !== undefined) {
      this.#refuse(refusal);
      return;
    }
    if (!SUBSCRIBE_CONTEXT.has(r.command.name)) {
      this.#replies.push(encodeError(
        `ERR Can't execute '${r.command.name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`,
      ));
      return;
    }
    // PING answers in subscribe mode's shape, which the subscribed connection gives.
    if (r.kind === "pubsub" || r.command.name === "ping") {
      this.#subscribeCommand(this.#decoder.raw ?? encodeCommand(argv));
      return;
    }
    this.#answer(this.#host.local(this, argv, r.command));
  }

  /** Whether the subscriber holds the next command (one in flight, or connecting). */
  get #subscriberBusy(): boolean {
    return this.#subscriber !== undefined &&
      (this.#subscriber.busy || this.#subscriberWaiting !== undefined);
  }

  /** A subscribe command: on the client's own subscribed connection, its reply in order. */
  #subscribeCommand(request: Uint8Array): void {
    if (this.#subscriber === undefined) {
      this.#subscriberRelease = this.#host.subscriberSlot();
      if (this.#subscriberRelease === undefined) {
        refused("max_subscribers");
        this.#replies.push(encodeError(
          "ERR Pylon serves its limit of subscribed clients (max-subscribers); each holds a connection to the rack's Redis",
        ));
        return;
      }
    }
    const slot = this.#replies.reserve();
    if (this.#subscriber === undefined) {
      const subscriber: Subscriber = new Subscriber(this.#host.subscriberTarget, this.protocol, {
        message: (frame) => {
          if (this.#closed || this.#subscriber !== subscriber) return;
          this.#replies.push(frame);
          this.#scheduleFlush();
        },
        ready: () => {
          if (this.#closed || this.#subscriber !== subscriber) return;
          const waiting = this.#subscriberWaiting;
          this.#subscriberWaiting = undefined;
          // A command waited for the connection; else the commands held behind the last one go on.
          if (waiting !== undefined) waiting();
          else this.#drain();
        },
        lost: (reason) => {
          if (this.#closed || this.#subscriber !== subscriber) return;
          log.info("client {id} at {addr}: its subscription was lost ({reason}); closing", {
            id: this.id,
            addr: this.remoteAddress,
            reason,
          });
          this.closeSubscriber();
          this.destroy();
        },
      });
      this.#subscriber = subscriber;
    }
    const subscriber = this.#subscriber;
    const send = () =>
      subscriber.send(request, (reply) => {
        if (this.#closed) return;
        this.#replies.fill(slot, reply);
        // Subscribed to nothing: Redis has left subscribe mode, and the connection goes.
        if (subscriber.count === 0 && this.#subscriber === subscriber) this.closeSubscriber();
        this.#scheduleFlush();
      });
    if (subscriber.busy) this.#subscriberWaiting = send;
    else send();
  }

  /**
   * A blocking command's refusal, unless Redis would first answer WRONGTYPE
   * for one of its sources: their types are read from the rack, in order.
   */
  #refuseBlocking(sources: { type: string; keys: readonly Uint8Array[] }, message: string): void {
    const slot = this.#replies.reserve();
    const db = this.db;
    const typeOf = (key: Uint8Array) =>
      new Promise<string>((resolve) =>
        this.#host.forward(encodeCommand(["TYPE", key]), db, 2, (reply) => {
          resolve(reply instanceof UpstreamError ? "unknown" : utf8.decode(reply).slice(1).trim());
        }, this.#seen.size === 0 ? NO_NEED : new Map(this.#seen))
      );
    void (async () => {
      const types: string[] = [];
      for (const key of sources.keys) {
        const type = await typeOf(key);
        types.push(type);
        if (type !== "none") break;
      }
      return blockingTypeError(sources.type, types) ?? message;
    })().then((answer) => {
      if (this.#closed) return;
      this.#replies.fill(slot, encodeError(answer));
      this.#scheduleFlush();
    });
  }

  /** Answers a refusal of this connection's rights (NOAUTH, NOPERM, WRONGPASS). */
  #refuse(message: string): void {
    refused(message.startsWith("NOPERM") ? "noperm" : "noauth");
    this.#replies.push(encodeError(message));
  }

  /**
   * Why this connection may not run `command` now, in Redis's words: not
   * authenticated (only commands flagged `no_auth` pass), or the user's ACL
   * rules refuse the command or one of its keys.
   */
  #refusal(
    command: AclCommand & { readonly flags?: readonly string[] },
    argv: Argv,
    keys: CommandSpec | undefined,
  ): string | undefined {
    if (!this.authenticated && this.#host.users.authRequired) {
      return command.flags?.includes("no_auth") ? undefined : "NOAUTH Authentication required.";
    }
    if (!this.user.mayRun(command)) {
      return `NOPERM this user has no permissions to run the '${command.name}' command`;
    }
    if (keys !== undefined && !this.user.mayAccessKeys(keys, argv)) {
      return "NOPERM this user has no permissions to access one of the keys used as arguments";
    }
    return undefined;
  }

  /** MULTI, EXEC and DISCARD: a transaction becomes one op, applied atomically on every rack. */
  /** WATCH and UNWATCH, as Redis answers them. */
  #watchCommand(argv: Argv): void {
    const name = utf8.decode(argv[0]).toLowerCase();
    this.lastCommand = name;
    if (name === "unwatch") {
      if (argv.length !== 1) {
        this.#replies.push(encodeError("ERR wrong number of arguments for 'unwatch' command"));
        return;
      }
      this.#watch = undefined;
      this.#replies.push(REPLY.ok);
      return;
    }
    if (argv.length < 2) {
      this.#replies.push(encodeError("ERR wrong number of arguments for 'watch' command"));
      if (this.#transaction !== undefined) this.#transactionFailed = true;
      return;
    }
    // Redis refuses it inside MULTI without failing the transaction.
    if (this.#transaction !== undefined) {
      this.#replies.push(encodeError("ERR WATCH inside MULTI is not allowed"));
      return;
    }
    const positions = this.#host.appliedPositions();
    if (this.#watch === undefined) {
      this.#watch = { db: this.db, keys: [], from: [...positions], mixedDbs: false };
    } else {
      if (this.#watch.db !== this.db) this.#watch.mixedDbs = true;
      // The earliest position any watched key was read after is the one that counts.
      this.#watch.from = this.#watch.from.map((p, i) =>
        p === undefined || positions[i] === undefined ? undefined : Math.min(p, positions[i]!)
      );
    }
    for (const key of argv.slice(1)) this.#watch.keys.push(key.slice());
    this.#replies.push(REPLY.ok);
  }

  /** RESET: leaves any transaction and watch. */
  resetTransaction(): void {
    this.#transaction = undefined;
    this.#transactionFailed = false;
    this.#watch = undefined;
  }

  #transactionCommand(argv: Argv): void {
    const name = new TextDecoder().decode(argv[0]).toLowerCase();
    this.lastCommand = name;
    if (argv.length !== 1) {
      this.#replies.push(encodeError(`ERR wrong number of arguments for '${name}' command`));
      if (this.#transaction !== undefined) this.#transactionFailed = true;
      return;
    }
    if (name === "multi") {
      if (this.#transaction !== undefined) {
        this.#replies.push(encodeError("ERR MULTI calls can not be nested"));
        return;
      }
      this.#transaction = [];
      this.#transactionFailed = false;
      this.#transactionDb = undefined;
      this.#replies.push(REPLY.ok);
      return;
    }
    const queued = this.#transaction;
    this.#transaction = undefined;
    if (queued === undefined) {
      this.#replies.push(encodeError(`ERR ${name.toUpperCase()} without MULTI`));
      return;
    }
    // EXEC and DISCARD end the watch, whatever the outcome.
    const watch = this.#watch;
    this.#watch = undefined;
    if (name === "discard") {
      this.#replies.push(REPLY.ok);
    } else if (this.#transactionFailed) {
      this.#replies.push(
        encodeError("EXECABORT Transaction discarded because of previous errors."),
      );
    } else if (watch?.mixedDbs) {
      // Keys watched in several dbs are not tracked: the transaction is aborted, never wrongly run.
      this.#replies.push(this.protocol === 3 ? NULL_RESP3 : NULL_ARRAY);
    } else if (queued.length === 0) {
      this.#replies.push(EMPTY_ARRAY);
    } else {
      this.#write(
        queued,
        true,
        watch === undefined ? undefined : { db: watch.db, keys: watch.keys, from: watch.from },
        this.#isStrong(queued),
      );
      // A SELECT that EXEC runs moves the connection, for the commands after EXEC too.
      if (this.#transactionDb !== undefined) this.db = this.#transactionDb;
    }
  }

  /** A command between MULTI and EXEC: queued if Redis can run it in the transaction. */
  #queueInTransaction(argv: Argv, r: Route): void {
    if (r.kind === "error") {
      this.#transactionFailed = true;
      this.#replies.push(encodeError(r.message));
      return;
    }
    this.lastCommand = r.command.name;
    if (r.command.flags.includes("no_multi")) {
      // Redis's own refusal, which fails the transaction (SAVE, SHUTDOWN, SYNC, PSYNC).
      this.#transactionFailed = true;
      this.#replies.push(encodeError("ERR Command not allowed inside a transaction"));
      return;
    }
    if (r.command.name === "select") argv = this.#selectInTransaction(argv);
    if (RACK_ADMIN_COMMANDS.has(r.command.name)) {
      // EXEC runs on every rack: administration of one rack's Redis has no place in it.
      this.#transactionFailed = true;
      this.#replies.push(encodeError(
        `ERR command '${r.command.name}' is refused by Pylon inside MULTI: it acts on one rack's Redis`,
      ));
      return;
    }
    if (queueableInTransaction(r)) {
      this.#transaction!.push({
        argv,
        command: r.command,
        reply: r.kind === "write" ? r.reply : "data",
      });
      this.#replies.push(REPLY.queued);
      return;
    }
    this.#transactionFailed = true;
    this.#replies.push(
      encodeError(
        r.kind === "refused"
          ? r.message
          : `ERR command '${r.command.name}' is refused by Pylon inside MULTI: it is not a read or a write`,
      ),
    );
  }

  /**
   * SELECT queued in MULTI: it runs in EXEC as Redis runs it. Pylon's metadata
   * db is named as an index Redis refuses with the same words.
   */
  #selectInTransaction(argv: Argv): Argv {
    const db = parseStrictInteger(argv[1]!);
    if (db === undefined) return argv;
    if (this.#host.selectable(db)) {
      this.#transactionDb = db;
      return argv;
    }
    return [argv[0]!, new TextEncoder().encode("-1")];
  }

  #answer(reply: RespValue | Uint8Array | Promise<RespValue>): void {
    if (reply instanceof Promise) {
      // An admin command waits for a commit; its place in line is kept meanwhile.
      const slot = this.#replies.reserve();
      const protocol = this.protocol;
      // Settled either way: a slot left empty would hold every later reply of the connection.
      void reply.then(
        (value) => encode(value, protocol),
        (error: unknown) => encodeError(`ERR ${error instanceof Error ? error.message : error}`),
      ).then((bytes) => {
        this.#replies.fill(slot, bytes);
        if (!this.#closed) this.#scheduleFlush();
      });
      return;
    }
    this.#replies.push(reply instanceof Uint8Array ? reply : encode(reply, this.protocol));
  }

  /**
   * Submits a write. It waits for reads held before it (so they do not see
   * it), and later reads wait for it (so the connection sees its own writes).
   */
  #write(
    commands: WriteCommand[],
    transaction: boolean,
    watch?: WriteRequest["watch"],
    strong = false,
  ): void {
    const slot = this.#replies.reserve();
    const request: WriteRequest = { commands, transaction, db: this.db, protocol: this.protocol };
    if (watch !== undefined) request.watch = watch;
    const deliver = (bytes: Uint8Array) => {
      if (slot.reply !== undefined) return;
      this.#replies.fill(slot, bytes);
      if (!this.#closed) this.#scheduleFlush();
    };
    // A strong write's reply waits for a quorum of racks (src/consistency/strong.ts).
    let held: Uint8Array | undefined;
    const answer = strong ? (bytes: Uint8Array) => void (held ??= bytes) : deliver;
    const submit = () => {
      try {
        return this.#host.write(request, answer);
      } catch (error) {
        return Promise.reject(error);
      }
    };
    this.#writesInFlight++;
    const settled = (this.#readsHeld > 0 ? this.#readsSettled.then(submit) : submit()).then(
      async (placement) => {
        if (placement !== undefined) {
          const { partition, offset } = placement;
          this.#seen.set(partition, Math.max(this.#seen.get(partition) ?? 0, offset + 1));
        }
        if (strong) await this.#confirmStrong(placement, held, deliver);
      },
      (error: unknown) => {
        // The write path settles every write; this is the net under it, so the slot never hangs.
        log.error("client {id}: a write failed outside the write path: {error}", {
          id: this.id,
          error: String(error),
        });
        answer(encodeError(
          `ERR Pylon lost track of this write (${error}); it may or may not be applied`,
        ));
      },
    ).then(() => {
      this.#writesInFlight--;
    });
    this.#writesSettled = Promise.all([this.#writesSettled, settled]).then(() => {});
  }

  /** Whether requests made of these commands are strong on this connection. */
  #isStrong(commands: readonly { command: CommandSpec; argv: Argv }[]): boolean {
    const strong = this.#host.strong;
    if (strong === undefined) return false;
    return this.consistency === "strong" || strong.contentious.touches(commands);
  }

  /** Delivers a strong write's reply once a quorum of racks applied it, else the error saying so. */
  async #confirmStrong(
    placement: Placement | undefined,
    reply: Uint8Array | undefined,
    deliver: (bytes: Uint8Array) => void,
  ): Promise<void> {
    const strong = this.#host.strong!;
    strong.service.stats.writes++;
    // Refused, failed or timed out: it is not (known to be) in the log; its error is the answer.
    if (placement === undefined || reply === undefined) {
      deliver(
        reply ?? encodeError("ERR Pylon lost track of this write; it may or may not be applied"),
      );
      return;
    }
    const wanted = strong.service.quorum();
    const timeoutMs = strong.timeoutMs();
    const startedAt = performance.now();
    const need = new Map([[placement.partition, placement.offset + 1]]);
    const outcome = await strong.service.confirm(need, wanted, timeoutMs);
    strong.service.stats.writeWaitMs += performance.now() - startedAt;
    if (outcome.confirmed >= wanted) {
      deliver(reply);
      return;
    }
    strong.service.stats.quorumFailures++;
    deliver(encodeError(quorumError(placement, outcome, wanted, timeoutMs)));
  }

  /**
   * WAIT numracks timeout: once the connection's writes so far are settled,
   * how many racks (this one included) have applied them, waiting up to
   * `timeout` ms (0: up to a minute) for `numracks`.
   */
  #waitCommand(argv: Argv): void {
    this.lastCommand = "wait";
    const numracks = parseStrictInteger(argv[1]!);
    const timeout = parseStrictInteger(argv[2]!);
    if (numracks === undefined || timeout === undefined) {
      this.#replies.push(encodeError("ERR value is not an integer or out of range"));
      return;
    }
    if (timeout < 0) {
      this.#replies.push(encodeError("ERR timeout is negative"));
      return;
    }
    const strong = this.#host.strong;
    if (strong === undefined) {
      this.#replies.push(encodeError("ERR WAIT needs the node's racks, which it does not know"));
      return;
    }
    const slot = this.#replies.reserve();
    void this.#writesSettled.then(async () => {
      strong.service.stats.waits++;
      const outcome = await strong.service.confirm(
        new Map(this.#seen),
        numracks,
        timeout === 0 ? WAIT_FOREVER_MS : timeout,
      );
      if (this.#closed) return;
      this.#replies.fill(
        slot,
        encode({ type: "integer", value: BigInt(outcome.confirmed) }, this.protocol),
      );
      this.#scheduleFlush();
    });
  }

  /** Forwards a read at once, or after the writes sent before it are applied. */
  #readInOrder(
    request: Uint8Array,
    rewrite: ((reply: Uint8Array) => Uint8Array) | undefined,
    localOnly = false,
    strong = false,
  ): void {
    const place: ReadPlace = {
      slot: this.#replies.reserve(),
      startedAt: turnNow(),
      db: this.db,
      protocol: this.protocol,
      rewrite,
      localOnly,
    };
    // A linearizable read takes the log's end now and is served by a rack that applied it.
    const service = strong ? this.#host.strong!.service : undefined;
    const ends = service?.readNeed();
    if (ends === undefined && this.#writesInFlight === 0) {
      this.#read(request, place, 0, undefined);
      return;
    }
    if (service !== undefined) service.stats.reads++;
    this.#readsHeld++;
    const answered = Promise.all([ends, this.#writesSettled]).then(
      ([ends]) =>
        new Promise<void>((done) => {
          if (ends === undefined) return this.#read(request, place, 0, done);
          const need = new Map(this.#seen);
          for (const [p, end] of ends) need.set(p, Math.max(need.get(p) ?? 0, end));
          this.#read(request, { ...place, need }, 0, () => {
            service!.stats.readWaitMs += performance.now() - place.startedAt;
            done();
          });
        }),
      (error: unknown) => {
        // Only the log's end can fail here.
        if (this.#closed) return;
        this.#replies.fill(
          place.slot,
          encodeError(`ERR Pylon cannot read the log's end for a strong read: ${error}`),
        );
        this.#scheduleFlush();
      },
    ).then(() => {
      this.#readsHeld--;
    });
    this.#readsSettled = Promise.all([this.#readsSettled, answered]).then(() => {});
  }

  /** Forwards a read; if its Redis connection fails, retries on a fresh one a few times. */
  #read(
    request: Uint8Array,
    place: ReadPlace,
    attempt: number,
    done: (() => void) | undefined,
  ): void {
    const { slot, db, protocol } = place;
    if (this.#closed) {
      done?.();
      return;
    }
    this.#host.forward(
      request,
      db,
      protocol,
      (reply) => {
        if (this.#closed) {
          done?.();
          return;
        }
        if (reply instanceof UpstreamError) {
          const delay = READ_RETRY_DELAYS_MS[attempt];
          if (delay === undefined) {
            readSeconds.observe(sinceTurn(place.startedAt));
            this.#replies.fill(
              slot,
              encodeError(`ERR Pylon cannot reach the rack's Redis: ${reply.message}`),
            );
            this.#scheduleFlush();
            done?.();
          } else {
            setTimeout(() => this.#read(request, place, attempt + 1, done), delay);
          }
          return;
        }
        readSeconds.observe(sinceTurn(place.startedAt));
        this.#replies.fill(slot, place.rewrite === undefined ? reply : place.rewrite(reply));
        this.#scheduleFlush();
        done?.();
      },
      place.need ?? (this.#seen.size === 0 ? NO_NEED : new Map(this.#seen)),
      place.localOnly,
    );
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

  /**
   * Requests this connection may have in flight: as many as fit a quarter of
   * its output limit at the size replies have had lately (a client asking for
   * 1 MiB values pipelines 16 at a time under a 64 MiB limit; small replies
   * pipeline up to `pendingRequestsMax`), so a client that reads is never closed for
   * replies it had no time to read.
   */
  #window(): number {
    if (this.#repliesSeen < INITIAL_WINDOW) return INITIAL_WINDOW;
    const fit = Math.floor(this.#limits.outputBytesMax / 4 / Math.max(1, this.#replyBytesAverage));
    return Math.max(1, Math.min(this.#limits.pendingRequestsMax, fit));
  }

  /** Writes the replies that are next in line, batching small ones into one write. */
  #flush(): void {
    if (this.#closed) return;
    const ready = this.#replies.takeReady();
    for (const reply of ready) {
      if (reply.length > this.#largestUnsent) this.#largestUnsent = reply.length;
      this.#repliesSeen++;
      this.#replyBytesAverage += (reply.length - this.#replyBytesAverage) / 16;
    }
    if (ready.length === 1) {
      this.#socket.write(ready[0]!);
    } else if (ready.length > 1) {
      let batch: Uint8Array[] = [];
      let batchBytes = 0;
      const writeBatch = () => {
        if (batch.length === 0) return;
        if (batch.length === 1) this.#socket.write(batch[0]!);
        else this.#socket.write(concatBytes(batch, batchBytes));
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
    if (this.#closing && this.#replies.pending === 0) this.#end();
    this.#account();
  }

  /**
   * Ends the connection once its replies are written: FIN, then the client's
   * own close is waited for a moment (closing at once with its requests
   * unread would make the kernel send a reset, which can discard replies the
   * client has not read yet).
   */
  #end(): void {
    if (this.#ending) return;
    this.#ending = true;
    this.#socket.end(() => {
      if (this.#lingerMs === 0) this.#socket.destroy();
      else this.#linger = setTimeout(() => this.#socket.destroy(), this.#lingerMs);
    });
  }

  #checkBackpressure(): void {
    if (this.#paused || this.#closing) return;
    if (
      this.#subscriberBusy ||
      this.#replies.pending >= this.#window() ||
      this.#outputBytes > this.#limits.outputBytesMax / 4
    ) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  #maybeResume(): void {
    // Requests decoded but not handled while paused are waiting in the decoder.
    if (this.#resumable()) this.#drain();
  }

  /** Unpauses reading (true) once the backlog is below half its bounds. */
  #resumable(): boolean {
    if (!this.#paused || this.#closed || this.#subscriberBusy) return false;
    if (this.#replies.pending >= this.#window() / 2) return false;
    if (this.#outputBytes > this.#limits.outputBytesMax / 8) return false;
    this.#paused = false;
    this.#socket.resume();
    return true;
  }

  #onClose(): void {
    clearTimeout(this.#linger);
    if (this.#closed) return;
    this.#closed = true;
    this.#closing = true;
    this.#host.budget.update(this, 0);
    this.closeSubscriber();
    // What it held is dropped now, not when its last upstream reply comes back.
    this.#decoder = new RequestDecoder(this.#limits.resp);
    this.#replies = new ReplyQueue();
    this.#host.closed(this);
  }
}
