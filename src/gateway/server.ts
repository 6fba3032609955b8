/**
 * The TCP server clients connect to. It accepts up to `maxClients`
 * connections (more get Redis's "max number of clients reached" and are
 * closed), keeps the registry CLIENT LIST reads, and counts what it serves.
 */

import * as net from "node:net";
import { getLogger } from "@logtape/logtape";
import type { HostPort } from "../config.ts";
import type { Argv } from "../resp/request_decoder.ts";
import type { CommandSpec } from "../command/mod.ts";
import {
  ClientConnection,
  type ConnectionHost,
  type ConnectionLimits,
  type ForwardRead,
} from "./client_connection.ts";
import { answerLocal, type LocalContext } from "./local_commands.ts";

const log = getLogger(["pylon", "gateway"]);

/** Options of {@linkcode Gateway}. */
export interface GatewayOptions {
  listen: HostPort;
  /** Connections accepted at once. */
  maxClients?: number;
  /** Bounds of each connection. */
  limits?: Partial<ConnectionLimits>;
}

/** Where reads go and what local commands read. */
export interface GatewayBackend {
  forward: ForwardRead;
  write: ConnectionHost["write"];
  databases(): number;
  /** Pylon's metadata db: clients cannot select or name it. */
  reservedDb: number;
  /** Membership admin commands. */
  admin?: LocalContext["admin"];
  pylonInfo(): string;
}

/** Counters for `PYLON INFO`. */
export interface GatewayStats {
  connectedClients: number;
  totalConnections: number;
  rejectedConnections: number;
  totalCommands: number;
}

const DEFAULT_LIMITS: ConnectionLimits = {
  maxPending: 1024,
  maxOutputBytes: 64 * 1024 * 1024,
  resp: {},
};

/** Pylon's client-facing server. */
export class Gateway {
  readonly options: GatewayOptions;
  #server: net.Server;
  #backend: GatewayBackend;
  #clients = new Map<number, ClientConnection>();
  #nextId = 1;
  #limits: ConnectionLimits;
  #maxClients: number;
  #stats = { totalConnections: 0, rejectedConnections: 0, totalCommands: 0 };
  #host: ConnectionHost;
  #local: LocalContext;

  constructor(backend: GatewayBackend, options: GatewayOptions) {
    this.options = options;
    this.#backend = backend;
    this.#limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.#maxClients = options.maxClients ?? 10_000;
    this.#local = {
      databases: () => backend.databases(),
      reservedDb: backend.reservedDb,
      admin: backend.admin ?? (() => undefined),
      clients: () => this.#clients.values(),
      pylonInfo: () => backend.pylonInfo(),
    };
    this.#host = {
      forward: backend.forward,
      write: backend.write,
      local: (
        connection: ClientConnection,
        argv: Argv,
        command: CommandSpec | undefined,
      ) => answerLocal(this.#local, connection, argv, command),
      served: () => {
        this.#stats.totalCommands++;
      },
      closed: (connection) => {
        this.#clients.delete(connection.id);
      },
    };
    this.#server = net.createServer((socket) => this.#accept(socket));
  }

  /** Starts listening; resolves with the bound address (port 0 picks a free one). */
  listen(): Promise<HostPort> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(this.options.listen.port, this.options.listen.host, () => {
        this.#server.off("error", reject);
        const address = this.#server.address() as net.AddressInfo;
        log.info("serving clients on {host}:{port}", { host: address.address, port: address.port });
        resolve({ host: address.address, port: address.port });
      });
    });
  }

  /** Counters for `PYLON INFO`. */
  stats(): GatewayStats {
    return { connectedClients: this.#clients.size, ...this.#stats };
  }

  /** Stops accepting, closes every connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const client of this.#clients.values()) client.destroy();
    await closed;
  }

  #accept(socket: net.Socket): void {
    this.#stats.totalConnections++;
    const id = this.#nextId++;
    const connection = new ClientConnection(id, socket, this.#host, this.#limits);
    if (this.#clients.size >= this.#maxClients) {
      this.#stats.rejectedConnections++;
      connection.rejectAndClose("ERR max number of clients reached");
      return;
    }
    this.#clients.set(id, connection);
  }
}
