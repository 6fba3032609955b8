/**
 * One client connection: decodes its requests, looks each up once in the
 * command table, dispatches it through one handler per kind, and writes
 * replies back in request order.
 *
 * The decisions live in small parts beside it, each without a socket:
 * the table (src/command/) says what a command is; src/auth/access.ts who
 * may run it; the transaction machine (transaction.ts) MULTI, EXEC and
 * WATCH; request_order.ts when a read or a write may go; subscribe_mode.ts
 * what a subscribed connection may run; output_window.ts how much may be in
 * flight; reply_filters.ts how replies are shown; src/consistency/gate.ts
 * which requests are strong. What stays here is the socket, the reply queue
 * and the plumbing between them. Memory is bounded: reading pauses while too
 * many requests are in flight or too many reply bytes wait for a client that
 * does not read, and resumes when they drain.
 */

import type * as net from "node:net";
import { getLogger } from "@logtape/logtape";
import { type Argv, RequestDecoder } from "../resp/request_decoder.ts";
import { encode, encodeCommand, encodeError } from "../resp/encoder.ts";
import { readSeconds, refused, sinceTurn, turnNow } from "../observe/metrics.ts";
import { blockingRequest } from "../command/blocking.ts";
import { BlockingCall, type BlockingHost } from "./blocking_call.ts";
import { ProtocolError, type RespLimits } from "../resp/protocol_error.ts";
import type { Protocol, RespValue } from "../resp/value.ts";
import { type CommandSpec, type Route, route } from "../command/mod.ts";
import type { AclUser } from "../auth/acl.ts";
import type { Users } from "../auth/users.ts";
import { accessRefusal } from "../auth/access.ts";
import { rackAdminRefusal } from "../auth/rack_admin.ts";
import { UpstreamError } from "../redis/upstream_connection.ts";
import { ReplyQueue } from "./reply_queue.ts";
import type { MemoryBudget } from "./memory_budget.ts";
import { concatBytes, plainBytes } from "../resp/bytes.ts";
import type { Placement, WriteCommand, WriteRequest } from "../write/write_path.ts";
import type { Need } from "../applier/rack_progress.ts";
import { Subscriber, type SubscriberTarget } from "../pubsub/subscriber.ts";
import type { ConsistencyGate } from "../consistency/gate.ts";
import { parseStrictInteger } from "../command/bytes.ts";
import type { Read } from "../read/read_service.ts";
import { Transaction, type TransactionContext, type Watch, watchForWrite } from "./transaction.ts";
import { watchedExpiries, watchedExpiriesRequest } from "./watch_expiries.ts";
import { RequestOrder, SeenPositions, type Ticket } from "./request_order.ts";
import { inSubscribeMode, subscribedStep } from "./subscribe_mode.ts";
import { OutputWindow } from "./output_window.ts";
import { commandRefused } from "../observe/refused_commands.ts";
import { type FilterContext, filterExecReply, filterReply } from "./reply_filters.ts";

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

/** What a connection needs from the node around it. */
export interface ConnectionHost {
  /** Serves a read here or at another rack (src/read/read_service.ts); `sink` gets Redis's bytes. */
  read(read: Read, sink: (reply: Uint8Array | UpstreamError) => void): void;
  /** Answers commands Pylon serves itself (PING, SELECT, CLIENT, PYLON, ...). */
  local(
    connection: ClientConnection,
    argv: Argv,
    command: CommandSpec,
  ): RespValue | Uint8Array | Promise<RespValue>;
  /**
   * Submits a write; `reply` gets the client's reply bytes once. Settles when
   * the write is applied or has failed, with where the log put it (so later
   * reads wait until their rack applied it).
   */
  write(request: WriteRequest, reply: (bytes: Uint8Array) => void): Promise<Placement | undefined>;
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
  /** Strong (linearizable) requests; undefined when the node does not know its racks. */
  gate: ConsistencyGate | undefined;
  /** Whether clients may SELECT `db` (in range, not Pylon's metadata db). */
  selectable(db: number): boolean;
  /** Where a subscribing client's own connection to the rack's Redis goes. */
  subscriberTarget: SubscriberTarget;
  /** A place for one more subscribed client (its release), or undefined at the limit. */
  subscriberSlot(): (() => void) | undefined;
  /** What reply filters need of the node (src/gateway/reply_filters.ts). */
  filters: FilterContext;
  /** What blocking commands need: tries, reads, the node's table of waiting clients. */
  blocking: BlockingHost;
}

/** How long an ended connection waits for the client to close its side. */
const LINGER_MS = 1_000;

/** How long `WAIT n 0` ("forever" in Redis) waits here. */
const WAIT_FOREVER_MS = 60_000;

/** A routed request Pylon handles (not an unknown command or a wrong arity). */
type Known = Exclude<Route, { kind: "error" }>;

/** A client's connection state (`SELECT`ed db, protocol, name, user) and its reply stream. */
export class ClientConnection {
  readonly id: number;
  readonly createdAt = Date.now();
  readonly remoteAddress: string;
  readonly localAddress: string;
  name = "";
  db = 0;
  protocol: Protocol = 2;
  /** `PYLON CONSISTENCY`: strong makes every request of the connection linearizable. */
  consistency: "local" | "strong" = "local";
  lastActiveAt = Date.now();
  lastCommand = "NULL";
  #user: AclUser;
  #authenticated = false;
  #socket: net.Socket;
  #host: ConnectionHost;
  #limits: ConnectionLimits;
  #decoder: RequestDecoder;
  #replies = new ReplyQueue();
  #window: OutputWindow;
  /** No more requests are read; the socket ends once queued replies are written. */
  #closing = false;
  #closed = false;
  #paused = false;
  #ending = false;
  /** How long an ended connection waits for the client's close (0 after a protocol error). */
  #lingerMs = LINGER_MS;
  #linger: ReturnType<typeof setTimeout> | undefined;
  #flushScheduled = false;
  #transaction = new Transaction();
  #order = new RequestOrder();
  /** Requests held back by {@linkcode RequestOrder}, each started when it may go. */
  #held = new Map<Ticket, () => void>();
  #seen = new SeenPositions();
  /** Settled once the expiries of every key watched so far are read (EXEC waits for it). */
  #watchReads: Promise<void> = Promise.resolve();
  /** Writes handed over late still to reach the log, and when the last of them has. */
  #handingOver = 0;
  #handedOver: Promise<void> = Promise.resolve();
  /** The client's own subscribed connection to the rack's Redis, while it subscribes. */
  #subscriber: Subscriber | undefined;
  /** A subscribe command waiting for the subscriber to connect. */
  #subscriberWaiting: (() => void) | undefined;
  /** Gives the subscriber's place back. */
  #subscriberRelease: (() => void) | undefined;
  /** The blocking command this client waits in; nothing after it is dispatched meanwhile. */
  #blocked: BlockingCall | undefined;

  /** One handler per kind the table gives: nothing else decides what a command is. */
  readonly #handlers: {
    [K in Known["kind"]]: (argv: Argv, r: Extract<Known, { kind: K }>) => void;
  } = {
    read: (argv, r) => this.#readCommand(argv, r.command, false),
    write: (argv, r) => this.#writeCommand([{ argv, command: r.command, reply: r.reply }], false),
    local: (argv, r) => this.#answer(this.#host.local(this, argv, r.command)),
    wait: (argv) => this.#waitCommand(argv),
    "rack-admin": (argv, r) => {
      const refusal = rackAdminRefusal(r.command.name, argv);
      if (refusal === undefined) return this.#readCommand(argv, r.command, true);
      refused("noperm");
      this.#replies.push(encodeError(refusal));
    },
    "world-admin": (argv, r) => this.#answer(this.#host.local(this, argv, r.command)),
    pubsub: (argv) => this.#subscribeCommand(this.#decoder.raw ?? encodeCommand(argv)),
    transaction: (argv, r) => this.#transactionCommand(argv, r.command),
    blocking: (argv, r) => this.#blockingCommand(argv, r.command),
    refused: (argv, r) => this.#refusedCommand(argv, r.command, r.message),
  };

  constructor(
    socket: net.Socket,
    options: { id: number; host: ConnectionHost; limits: ConnectionLimits },
  ) {
    const { host, limits } = options;
    this.id = options.id;

    this.#socket = socket;
    this.#host = host;
    this.#limits = limits;
    this.#window = new OutputWindow(limits);
    this.#decoder = new RequestDecoder(limits.resp);
    this.#user = host.users.defaultUser;
    this.remoteAddress = `${socket.remoteAddress}:${socket.remotePort}`;
    this.localAddress = `${socket.localAddress}:${socket.localPort}`;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Uint8Array) => this.#receive(plainBytes(chunk)));
    socket.on("drain", () => {
      this.#window.drained();
      this.#maybeResume();
    });
    socket.on("error", () => this.#onClose());
    socket.on("close", () => this.#onClose());
  }

  /** The Pylon user the connection acts as. */
  get user(): AclUser {
    return this.#user;
  }

  /** Whether the connection proved a password (AUTH, HELLO .. AUTH). */
  get authenticated(): boolean {
    return this.#authenticated;
  }

  /** The connection proved `user`'s password (AUTH, HELLO .. AUTH). */
  authenticate(user: AclUser): void {
    this.#user = user;
    this.#authenticated = true;
  }

  /** RESET: back to a new connection's state (db 0, RESP2, no name, default user, no transaction). */
  reset(): void {
    this.db = 0;
    this.protocol = 2;
    this.name = "";
    this.consistency = "local";
    this.#user = this.#host.users.defaultUser;
    this.#authenticated = false;
    this.#transaction.reset();
    this.closeSubscriber();
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
    return this.#transaction.queuedCount;
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

  /** Whether it waits in a blocking command (CLIENT LIST's `b`, INFO's blocked_clients). */
  get blocked(): boolean {
    return this.#blocked?.blocked ?? false;
  }

  /**
   * CLIENT UNBLOCK: ends its blocking command with nil (`timeout`) or
   * Redis's UNBLOCKED error; false if it waits in none.
   */
  unblock(mode: "timeout" | "error"): boolean {
    return this.#blocked?.unblock(mode) ?? false;
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
   * every request already taken has its reply written (a blocking command's is
   * its timeout's nil, at once). What the client sends
   * meanwhile is read and dropped, so the kernel never answers it with a reset
   * that could discard replies the client has not read yet.
   */
  drain(): void {
    // A client waiting in a blocking command gets its timeout's nil now, as if its time ran out.
    this.#blocked?.unblock("timeout");
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
        { id: this.id, addr: this.remoteAddress, limit: this.#host.budget.limitBytes },
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
    if (this.#window.overLimit(output)) {
      refused("output_limit");
      log.warning(
        "client {id} at {addr} closed: {output} reply bytes unread, over the limit of {limit}",
        { id: this.id, addr: this.remoteAddress, output, limit: this.#limits.outputBytesMax },
      );
      this.destroy();
      return false;
    }
    const waiting = this.#blocked?.heldBytes ?? 0;
    return this.#host.budget.update(this, this.#decoder.bufferedBytes + output + waiting);
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
      !this.#closing && this.#replies.pending < this.#window.window() && !this.#subscriberBusy &&
      this.#blocked === undefined
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

  /**
   * One request: one lookup in the table, one access decision, then the
   * subscribe mode, the open transaction, or the handler of its kind.
   */
  #dispatch(argv: Argv): void {
    this.#host.served();
    const r = route(argv);
    const subscribed = inSubscribeMode(this.protocol, this.#subscriber?.count ?? 0);
    if (r.kind === "error") {
      // Redis rejects it before queueing, which fails an open transaction.
      this.#transaction.fail();
      if (!subscribed) {
        refused(r.message.includes("wrong number of arguments") ? "arity" : "unknown_command");
      }
      this.#replies.push(encodeError(r.message));
      return;
    }
    this.lastCommand = r.command.name;
    const refusal = accessRefusal(this, this.#host.users.authRequired, r.command, r.kind, argv);
    if (refusal !== undefined) {
      this.#transaction.fail();
      refused(refusal.startsWith("NOPERM") ? "noperm" : "noauth");
      this.#replies.push(encodeError(refusal));
      return;
    }
    if (subscribed) return this.#dispatchSubscribed(argv, r);
    if (this.#transaction.active && r.kind !== "transaction") {
      if (r.kind === "refused") commandRefused(r.command.name, this.remoteAddress, r.message);
      this.#replies.push(this.#transaction.queue(r, argv, this.#transactionContext()));
      return;
    }
    (this.#handlers[r.kind] as (argv: Argv, r: Known) => void)(argv, r);
  }

  /** A RESP2 connection in subscribe mode runs only what Redis runs there. */
  #dispatchSubscribed(argv: Argv, r: Known): void {
    const step = subscribedStep(r);
    if (step === "subscriber") this.#subscribeCommand(this.#decoder.raw ?? encodeCommand(argv));
    else if (step === "local") this.#answer(this.#host.local(this, argv, r.command));
    else this.#replies.push(encodeError(step.error));
  }

  #transactionContext(): TransactionContext {
    return {
      db: this.db,
      protocol: this.protocol,
      positions: () => this.#host.appliedPositions(),
      selectable: (db) => this.#host.selectable(db),
      nowMs: () => Date.now(),
    };
  }

  /**
   * Reads the expiries of keys just watched from the rack (as a script read,
   * after the connection's own writes), for EXEC to abort if one expires
   * before the transaction; EXEC waits for it.
   */
  #readWatchExpiries(watched: { start: number; keys: Uint8Array[] }): void {
    const watch = this.#transaction.watch;
    if (watch === undefined) return;
    const read: Read = {
      request: watchedExpiriesRequest(watched.keys),
      db: this.db,
      protocol: 2,
      need: this.#seen.need(),
      script: true,
      localOnly: false,
    };
    const done = new Promise<void>((resolve) =>
      this.#host.read(read, (reply) => {
        const values = reply instanceof UpstreamError
          ? undefined
          : watchedExpiries(reply, watched.keys.length);
        this.#transaction.setExpiries(watch, watched.start, values);
        resolve();
      })
    );
    this.#watchReads = Promise.all([this.#watchReads, done]).then(() => {});
  }

  /** MULTI, EXEC, DISCARD, WATCH, UNWATCH: the transaction machine decides. */
  #transactionCommand(argv: Argv, command: CommandSpec): void {
    const decision = this.#transaction.control(command.name, argv, this.#transactionContext());
    if (decision.kind === "reply") {
      this.#replies.push(decision.reply);
      if (decision.watched !== undefined) this.#readWatchExpiries(decision.watched);
      return;
    }
    const { commands, watch, dbAfter } = decision;
    const protocol = this.protocol;
    const filters = this.#host.filters;
    this.#writeCommand(
      commands,
      true,
      watch,
      (reply) => filterExecReply(commands, reply, protocol, filters),
    );
    // A SELECT that EXEC runs moves the connection, for the commands after EXEC too.
    if (dbAfter !== undefined) this.db = dbAfter;
  }

  /**
   * A read, in order after the connection's writes, served where it shows
   * what the connection must see, its reply filtered as the table says.
   */
  #readCommand(argv: Argv, command: CommandSpec, localOnly: boolean): void {
    // The client's own bytes go upstream when they arrived in one piece.
    const request = localOnly ? encodeCommand(argv) : this.#decoder.raw ?? encodeCommand(argv);
    const strong = !localOnly && this.#isStrong([{ command, argv }]);
    const slot = this.#replies.reserve();
    const startedAt = turnNow();
    const db = this.db;
    const protocol = this.protocol;
    const filters = this.#host.filters;
    const gate = strong ? this.#host.gate : undefined;
    let ends: Need | undefined;
    const { ticket, go } = this.#order.read(gate !== undefined);
    const send = () => {
      const read: Read = {
        request,
        db,
        protocol,
        // Its own writes, the watch it may check in EXEC, and a strong read's log end.
        need: this.#seen.need(this.#transaction.watch?.from, ends),
        script: command.scriptRead === true,
        localOnly,
      };
      this.#host.read(read, (reply) => {
        if (!go) this.#release(this.#order.answered(ticket));
        if (this.#closed) return;
        readSeconds.observe(sinceTurn(startedAt));
        if (gate !== undefined) gate.readAnswered(performance.now() - startedAt);
        this.#replies.fill(
          slot,
          reply instanceof UpstreamError
            ? encodeError(`ERR Pylon cannot reach the rack's Redis: ${reply.message}`)
            : filterReply(command, argv, reply, protocol, filters),
        );
        this.#scheduleFlush();
      });
    };
    if (go) return send();
    this.#held.set(ticket, send);
    if (gate === undefined) return;
    // A linearizable read takes the log's end now and is served by a rack that applied it.
    gate.readNeed().then((need) => {
      ends = need;
      this.#release(this.#order.gateOpened(ticket));
    }, (error: unknown) => {
      this.#held.delete(ticket);
      this.#release(this.#order.cancel(ticket));
      if (this.#closed) return;
      this.#replies.fill(
        slot,
        encodeError(`ERR Pylon cannot read the log's end for a strong read: ${error}`),
      );
      this.#scheduleFlush();
    });
  }

  /**
   * Submits a write. It waits for reads held before it (so they do not see
   * it), and later reads wait for it (so the connection sees its own writes).
   */
  #writeCommand(
    commands: WriteCommand[],
    transaction: boolean,
    watch?: Readonly<Watch>,
    filter?: (reply: Uint8Array) => Uint8Array,
  ): void {
    const slot = this.#replies.reserve();
    const request: WriteRequest = { commands, transaction, db: this.db, protocol: this.protocol };
    if (this.#isStrong(commands)) request.strong = true;
    const deliver = (bytes: Uint8Array) => {
      if (slot.reply !== undefined || this.#closed) return;
      this.#replies.fill(slot, filter === undefined ? bytes : filter(bytes));
      this.#scheduleFlush();
    };
    const { ticket, go } = this.#order.write();
    const submit = () => {
      let written: Promise<Placement | undefined>;
      // Writes reach the log in the connection's order: after a write handed over late (a
      // watched EXEC waits for its keys' expiries and the log's check), later ones wait for it.
      const late = watch !== undefined || this.#handingOver > 0;
      const handed = Promise.withResolvers<void>();
      if (late) {
        this.#handingOver++;
        request.handedOver = handed.resolve;
        const before = this.#handedOver;
        this.#handedOver = handed.promise;
        handed.promise.then(() => this.#handingOver--);
        written = before.then(() => watch === undefined ? undefined : this.#watchReads).then(() => {
          // The watch goes with its keys' expiries, once read.
          if (watch !== undefined) request.watch = watchForWrite(watch);
          return this.#host.write(request, deliver);
        });
        written.then(() => handed.resolve(), () => handed.resolve());
      } else {
        try {
          written = this.#host.write(request, deliver);
        } catch (error) {
          written = Promise.reject(error);
        }
      }
      written.then((placement) => {
        if (placement !== undefined) this.#seen.placed(placement.partition, placement.offset);
      }, (error: unknown) => {
        // The write path settles every write; this is the net under it, so the slot never hangs.
        log.error("client {id}: a write failed outside the write path: {error}", {
          id: this.id,
          error: String(error),
        });
        deliver(encodeError(
          `ERR Pylon lost track of this write (${error}); it may or may not be applied`,
        ));
      }).then(() => this.#release(this.#order.settled(ticket)));
    };
    if (go) submit();
    else this.#held.set(ticket, submit);
  }

  /** Starts the requests {@linkcode RequestOrder} let go. */
  #release(tickets: Ticket[]): void {
    for (const ticket of tickets) {
      const start = this.#held.get(ticket);
      this.#held.delete(ticket);
      start?.();
    }
  }

  /** Whether a request made of these commands is strong on this connection. */
  #isStrong(commands: readonly { command: CommandSpec; argv: Uint8Array[] }[]): boolean {
    return this.#host.gate?.isStrong(this.consistency === "strong", commands) ?? false;
  }

  /**
   * WAIT numracks timeout: once the connection's writes so far are settled,
   * how many racks (this one included) have applied them, waiting up to
   * `timeout` ms (0: up to a minute) for `numracks`.
   */
  #waitCommand(argv: Argv): void {
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
    const gate = this.#host.gate;
    if (gate === undefined) {
      this.#replies.push(encodeError("ERR WAIT needs the node's racks, which it does not know"));
      return;
    }
    const slot = this.#replies.reserve();
    const protocol = this.protocol;
    // It counts the writes sent before it: ordered as a read.
    const { ticket, go } = this.#order.read();
    const count = async () => {
      const confirmed = await gate.waitRacks(
        this.#seen.need(),
        numracks,
        timeout === 0 ? WAIT_FOREVER_MS : timeout,
      );
      if (!go) this.#release(this.#order.answered(ticket));
      if (this.#closed) return;
      this.#replies.fill(slot, encode({ type: "integer", value: BigInt(confirmed) }, protocol));
      this.#scheduleFlush();
    };
    if (go) void count();
    else this.#held.set(ticket, () => void count());
  }

  /** A refused command: Pylon's refusal with its reason. */
  #refusedCommand(_argv: Argv, command: CommandSpec, message: string): void {
    refused("not_served");
    commandRefused(command.name, this.remoteAddress, message);
    this.#replies.push(encodeError(message));
  }

  /**
   * A blocking command (src/gateway/blocking_call.ts): in order after the
   * connection's earlier requests; nothing after it is dispatched until it
   * is answered, as Redis runs nothing of a blocked client's.
   */
  #blockingCommand(argv: Argv, command: CommandSpec): void {
    const request = blockingRequest(command.name, argv);
    if ("error" in request) {
      this.#replies.push(encodeError(request.error));
      return;
    }
    const slot = this.#replies.reserve();
    const call: BlockingCall = new BlockingCall(this.#host.blocking, {
      command,
      argv,
      request,
      db: this.db,
      protocol: this.protocol,
      answer: (reply) => {
        if (this.#blocked === call) this.#blocked = undefined;
        if (this.#closed) return;
        this.#replies.fill(slot, reply);
        this.#scheduleFlush();
        // The requests that arrived behind it go on.
        queueMicrotask(() => this.#drain());
      },
      placed: (placement) => this.#seen.placed(placement.partition, placement.offset),
    });
    this.#blocked = call;
    const reads = request.kind === "stream-read";
    const { ticket, go } = reads ? this.#order.read() : this.#order.write();
    const start = () =>
      call.start(this.#seen.need(), () => {
        this.#release(
          reads ? (go ? [] : this.#order.answered(ticket)) : this.#order.settled(ticket),
        );
      });
    if (go) start();
    else this.#held.set(ticket, start);
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
    for (const reply of ready) this.#window.written(reply.length);
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
      this.#subscriberBusy || this.#window.shouldPause(this.#replies.pending, this.#outputBytes)
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
    if (!this.#window.mayResume(this.#replies.pending, this.#outputBytes)) return false;
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
    this.#blocked?.gone();
    // What it held is dropped now, not when its last upstream reply comes back.
    this.#decoder = new RequestDecoder(this.#limits.resp);
    this.#replies = new ReplyQueue();
    this.#host.closed(this);
  }
}
