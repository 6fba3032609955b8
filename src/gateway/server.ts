/**
 * The TCP server clients connect to. It accepts up to `clientsMax`
 * connections (more get Redis's "max number of clients reached" and are
 * closed), keeps the registry CLIENT LIST reads, and counts what it serves.
 */

import type { SubscriberTarget } from "../pubsub/subscriber.ts";
import { refused } from "../observe/metrics.ts";
import { infoIncludesPylon } from "./info_rewrite.ts";
import { pylonSection } from "../observe/info.ts";
import * as net from "node:net";
import * as tls from "node:tls";
import { getLogger } from "@logtape/logtape";
import type { HostPort } from "../net/address.ts";
import { optionDefault } from "../config/options.ts";
import type { Argv } from "../resp/request_decoder.ts";
import type { CommandSpec } from "../command/mod.ts";
import {
  ClientConnection,
  type ConnectionHost,
  type ConnectionLimits,
} from "./client_connection.ts";
import { answerLocal, type LocalContext } from "./local_commands.ts";
import { Users } from "../auth/users.ts";
import { AuthLimiter } from "../auth/auth_limiter.ts";
import { MemoryBudget } from "./memory_budget.ts";
import { KeyWaiters } from "../write/key_waiters.ts";
import type { BlockingHost } from "./blocking_call.ts";
import { UpstreamError } from "../redis/upstream_connection.ts";

const log = getLogger(["pylon", "gateway"]);

/** A TLS client port: its certificate, and whether (and by which CAs) clients must prove theirs. */
export interface TlsListener {
  listen: HostPort;
  /** Reads the PEM material now (at start, and again on reload). */
  material: () => { cert: string; key: string; ca?: string };
  /** `yes`: clients must present a certificate the CA signed; `optional`: if they do, it is checked. */
  authClients: "yes" | "no" | "optional";
}

/** Options of {@linkcode Gateway}. */
export interface GatewayOptions {
  /** The plain client port; undefined: TLS only. */
  listen: HostPort | undefined;
  /** The TLS client port, if any. */
  tls?: TlsListener;
  /** Connections accepted at once. */
  clientsMax?: number;
  /** Subscribed clients at once (each holds a connection to the rack's Redis). */
  subscribersMax?: number;
  /** Bounds of each connection. */
  limits?: Partial<ConnectionLimits>;
  /** Bytes all clients together may make the node hold (default 1 GiB). */
  memoryBudgetBytes?: number;
}

/** Where reads go and what local commands read. */
export interface GatewayBackend {
  read: ConnectionHost["read"];
  write: ConnectionHost["write"];
  databases(): number;
  /** Pylon's metadata db: clients cannot select or name it. */
  reservedDb: number;
  /**
   * The metadata db the world's contract records, when known: where every
   * other rack keeps Pylon's metadata, so clients cannot select it either
   * (it differs from {@linkcode reservedDb} only on a rack the contract refuses).
   */
  worldMetaDb?: () => number | undefined;
  /** Membership admin commands. */
  admin?: LocalContext["admin"];
  pylonInfo(): string;
  /** Per partition, the position this rack has applied, as this node knows it (for WATCH). */
  appliedPositions?: () => readonly (number | undefined)[];
  /** Who may connect and what they may do; default: Redis's default user alone. */
  users?: Users;
  /** Refuse non-loopback clients while the default user needs no password (Redis's protected mode). */
  protectedMode?: boolean;
  /** Where subscribing clients' own connections go (the rack's Redis master). */
  subscriberTarget?: SubscriberTarget;
  /** Strong requests (contentious keys, `PYLON CONSISTENCY strong`, `WAIT`). */
  gate?: ConnectionHost["gate"];
  /** The clients waiting in blocking commands, woken by the applier (default: a table of its own). */
  waiters?: KeyWaiters;
  /** What tries took for this node's clients until they have it (default: no claims kept). */
  claims?: BlockingHost["claims"];
}

/** Counters for `PYLON INFO`. */
/** The stats of a gateway not listening yet. */
export const EMPTY_GATEWAY_STATS: GatewayStats = {
  connectedClients: 0,
  totalConnections: 0,
  rejectedConnections: 0,
  totalCommands: 0,
  authFailures: 0,
  authRateLimited: 0,
  clientBufferBytes: 0,
  clientsClosedOverBudget: 0,
};

export interface GatewayStats {
  connectedClients: number;
  totalConnections: number;
  rejectedConnections: number;
  totalCommands: number;
  authFailures: number;
  authRateLimited: number;
  /** Bytes clients make the node hold now (requests not decoded, replies not read). */
  clientBufferBytes: number;
  clientsClosedOverBudget: number;
}

/** Redis's own protected-mode refusal. */
const PROTECTED_MODE =
  "DENIED Redis is running in protected mode because protected mode is enabled and no password " +
  "is set for the default user. In this mode connections are only accepted from the loopback " +
  "interface. If you want to connect from external computers to Redis you may adopt one of the " +
  "following solutions: 1) Just disable protected mode sending the command 'CONFIG SET " +
  "protected-mode no' from the loopback interface by connecting to Redis from the same host the " +
  "server is running, however MAKE SURE Redis is not publicly accessible from internet if you do " +
  "so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable " +
  "the protected mode by editing the Redis configuration file, and setting the protected mode " +
  "option to 'no', and then restarting the server. 3) If you started the server manually just " +
  "for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication " +
  "password for the default user. NOTE: You only need to do one of the above things in order " +
  "for the server to start accepting connections from the outside.";

/** Whether a client address is the loopback interface. */
function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.");
}

const DEFAULT_LIMITS: ConnectionLimits = {
  pendingRequestsMax: 1024,
  outputBytesMax: optionDefault("client-output-buffer-limit"),
  resp: {},
};

/** Pylon's client-facing server. */
export class Gateway {
  readonly options: GatewayOptions;
  #servers: { server: net.Server; listen: HostPort; kind: "plain" | "tls" }[] = [];
  #bound: HostPort[] = [];
  #backend: GatewayBackend;
  #clients = new Map<number, ClientConnection>();
  /** Set while draining: called when the last connection has closed. */
  #whenEmpty: (() => void) | undefined;
  #nextId = 1;
  #limits: ConnectionLimits;
  #clientsMax: number;
  /** Clients subscribed now (see `subscribersMax`). */
  #subscribers = 0;
  #stats = { totalConnections: 0, rejectedConnections: 0, totalCommands: 0 };
  #host: ConnectionHost;
  #local: LocalContext;
  #users: Users;
  #protectedMode: boolean;
  #authLimiter = new AuthLimiter();
  #budget: MemoryBudget;

  constructor(backend: GatewayBackend, options: GatewayOptions) {
    this.options = options;
    this.#backend = backend;
    this.#limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.#clientsMax = options.clientsMax ?? optionDefault("max-clients");
    this.#budget = new MemoryBudget(options.memoryBudgetBytes ?? 1024 ** 3);
    const users = backend.users ??
      new Users({ requirepass: undefined, users: [], worldSecret: undefined });
    this.#users = users;
    this.#protectedMode = backend.protectedMode ?? false;
    // One rule for SELECT, whether run at once or queued in MULTI.
    const selectable = (db: number) =>
      db >= 0 && db < backend.databases() && db !== backend.reservedDb &&
      db !== backend.worldMetaDb?.();
    this.#local = {
      users,
      authLimiter: this.#authLimiter,
      selectable,
      admin: backend.admin ?? (() => undefined),
      clients: () => this.#clients.values(),
      pylonInfo: () => backend.pylonInfo(),
    };
    this.#host = {
      users,
      budget: this.#budget,
      read: backend.read,
      write: backend.write,
      local: (connection: ClientConnection, argv: Argv, command: CommandSpec) =>
        answerLocal(this.#local, connection, argv, command),
      served: () => {
        this.#stats.totalCommands++;
      },
      appliedPositions: () => backend.appliedPositions?.() ?? [],
      subscriberTarget: backend.subscriberTarget ?? { address: () => undefined, access: {} },
      gate: backend.gate,
      subscriberSlot: () => {
        if (this.#subscribers >= (options.subscribersMax ?? 1_000)) return undefined;
        this.#subscribers++;
        let given = false;
        return () => {
          if (given) return;
          given = true;
          this.#subscribers--;
        };
      },
      selectable,
      filters: {
        info: (args) => ({
          metaDb: backend.reservedDb,
          pylonSection: infoIncludesPylon(args) ? pylonSection(backend.pylonInfo()) : undefined,
          blockedClients: this.blockedClients(),
        }),
      },
      blocking: {
        write: backend.write,
        read: (request, { db, protocol, need }, sink) =>
          backend.read(
            { request, db, protocol, need, script: false, localOnly: false },
            (reply) => sink(reply instanceof UpstreamError ? { error: reply.message } : reply),
          ),
        waiters: backend.waiters ?? new KeyWaiters(() => 0),
        appliedPosition: (partition) => backend.appliedPositions?.()[partition],
        ...(backend.claims === undefined ? {} : { claims: backend.claims }),
      },
      closed: (connection) => {
        this.#clients.delete(connection.id);
        if (this.#clients.size === 0) this.#whenEmpty?.();
      },
    };
    if (options.listen !== undefined) {
      this.#servers.push({
        server: net.createServer((socket) => this.#accept(socket)),
        listen: options.listen,
        kind: "plain",
      });
    }
    const secure = options.tls;
    if (secure !== undefined) {
      const server = tls.createServer(
        {
          ...tlsContext(secure),
          requestCert: secure.authClients !== "no",
          rejectUnauthorized: secure.authClients === "yes",
        },
        (socket) => this.#accept(socket),
      );
      // A client that fails the handshake (plain text, an unknown certificate) is refused here.
      server.on("tlsClientError", (error: Error, socket: net.Socket) => {
        this.#stats.rejectedConnections++;
        log.info("TLS client {addr} refused: {error}", {
          addr: socket.remoteAddress,
          error: error.message,
        });
      });
      this.#servers.push({ server, listen: secure.listen, kind: "tls" });
    }
  }

  /**
   * Starts listening; resolves with the bound address of the plain port (or
   * of the TLS one when there is no plain port; port 0 picks a free one).
   */
  async listen(): Promise<HostPort> {
    const bound: HostPort[] = [];
    for (const { server, listen, kind } of this.#servers) {
      bound.push(
        await new Promise<HostPort>((resolve, reject) => {
          server.once("error", reject);
          server.listen(listen.port, listen.host, () => {
            server.off("error", reject);
            const address = server.address() as net.AddressInfo;
            log.info("serving clients on {host}:{port} ({kind})", {
              host: address.address,
              port: address.port,
              kind,
            });
            resolve({ host: address.address, port: address.port });
          });
        }),
      );
    }
    this.#bound = bound;
    return bound[0]!;
  }

  /** The bound TLS address, once listening. */
  get tlsAddress(): HostPort | undefined {
    const at = this.#servers.findIndex((s) => s.kind === "tls");
    return at < 0 ? undefined : this.#bound[at];
  }

  /**
   * Changes the client limits of every connection, open or new (a reload). A
   * lower `clientsMax` refuses new connections; open ones stay, as in Redis.
   */
  setClientLimits(
    limits: { clientsMax: number; outputBytesMax: number; memoryBudgetBytes: number },
  ): void {
    this.#clientsMax = limits.clientsMax;
    this.#limits.outputBytesMax = limits.outputBytesMax;
    this.#budget.limitBytes = limits.memoryBudgetBytes;
  }

  /** Reads the TLS certificate, key and CA again (SIGHUP): new connections use them. */
  reloadTls(): void {
    const secure = this.options.tls;
    const entry = this.#servers.find((s) => s.kind === "tls");
    if (secure === undefined || entry === undefined) return;
    (entry.server as tls.Server).setSecureContext(tlsContext(secure));
    log.info("TLS certificate reloaded");
  }

  /** Clients waiting in a blocking command now (INFO's blocked_clients). */
  blockedClients(): number {
    let count = 0;
    for (const client of this.#clients.values()) if (client.blocked) count++;
    return count;
  }

  /** Counters for `PYLON INFO`. */
  stats(): GatewayStats {
    const auth = this.#authLimiter.stats();
    return {
      connectedClients: this.#clients.size,
      ...this.#stats,
      authFailures: auth.failures,
      authRateLimited: auth.limited,
      clientBufferBytes: this.#budget.totalBytes,
      clientsClosedOverBudget: this.#budget.closedOver,
    };
  }

  /**
   * Drains (SIGTERM): stops accepting, lets every connection finish the
   * requests it took (their replies written, then the connection ended), and
   * after `timeoutMs` closes the ones still open. Resolves with how many had
   * to be cut off.
   */
  async drain(timeoutMs: number): Promise<number> {
    const closed = this.#servers.map(({ server }) =>
      new Promise<void>((resolve) => server.close(() => resolve()))
    );
    const empty = Promise.withResolvers<void>();
    this.#whenEmpty = empty.resolve;
    for (const client of [...this.#clients.values()]) client.drain();
    if (this.#clients.size === 0) empty.resolve();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      empty.promise,
      new Promise<void>((resolve) => timer = setTimeout(resolve, timeoutMs)),
    ]);
    clearTimeout(timer);
    const cut = this.#clients.size;
    if (cut > 0) {
      log.warning("drain: {cut} connections still busy after {ms} ms are closed", {
        cut,
        ms: timeoutMs,
      });
    }
    for (const client of this.#clients.values()) client.destroy();
    await Promise.all(closed);
    return cut;
  }

  /** Stops accepting, closes every connection. */
  async close(): Promise<void> {
    const closed = this.#servers.map(({ server }) =>
      new Promise<void>((resolve) => server.close(() => resolve()))
    );
    for (const client of this.#clients.values()) client.destroy();
    await Promise.all(closed);
  }

  #accept(socket: net.Socket): void {
    this.#stats.totalConnections++;
    const id = this.#nextId++;
    const connection = new ClientConnection(socket, {
      id,
      host: this.#host,
      limits: this.#limits,
    });

    if (this.#clients.size >= this.#clientsMax) {
      this.#stats.rejectedConnections++;
      refused("max_clients");
      connection.rejectAndClose("ERR max number of clients reached");
      return;
    }
    if (this.#protectedMode && !this.#users.authRequired && !isLoopback(socket.remoteAddress)) {
      this.#stats.rejectedConnections++;
      refused("protected_mode");
      connection.rejectAndClose(PROTECTED_MODE);
      return;
    }
    this.#clients.set(id, connection);
  }
}

function tlsContext(secure: TlsListener): { cert: string; key: string; ca?: string } {
  const { cert, key, ca } = secure.material();
  return ca === undefined ? { cert, key } : { cert, key, ca };
}
