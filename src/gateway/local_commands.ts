/**
 * Commands Pylon answers itself, for the connection that sent them: PING,
 * ECHO, SELECT, HELLO, AUTH, QUIT, RESET, UNWATCH, CLIENT (its own
 * connections), COMMAND (from the table) and PYLON. Replies follow Redis's
 * wording where Redis has one.
 */

import { selectSections } from "../observe/info.ts";
import type { Argv } from "../resp/request_decoder.ts";
import { array, bulk, error, integer, map, nil, type RespValue, simple } from "../resp/value.ts";
import { REPLY } from "../resp/encoder.ts";
import { parseDecimal } from "../resp/chunk_buffer.ts";
import { commandReply, type CommandSpec } from "../command/mod.ts";
import type { ClientConnection } from "./client_connection.ts";
import type { Users } from "../auth/users.ts";
import type { AuthLimiter } from "../auth/auth_limiter.ts";
import { aclReply } from "../auth/acl_commands.ts";

/** What local commands read from the node. */
export interface LocalContext {
  /** Whether `SELECT` takes `db`: in range, and not Pylon's metadata db (refused as if absent). */
  selectable(db: number): boolean;
  /** Every open client connection (CLIENT LIST). */
  clients(): Iterable<ClientConnection>;
  /** The text of `PYLON INFO`. */
  pylonInfo(): string;
  /** Admin commands (`PYLON WORLD|NODE|RACK|REBUILD ...`); undefined for others. */
  admin(argv: Argv): Promise<RespValue> | undefined;
  /** Pylon's users. */
  users: Users;
  /** Failed authentications per source address. */
  authLimiter: AuthLimiter;
}

/** Redis version Pylon reports in HELLO: the version its command table comes from. */
export const REDIS_COMPAT_VERSION = "7.0.15";

const utf8 = new TextDecoder();

function text(arg: Uint8Array | undefined): string {
  return arg === undefined ? "" : utf8.decode(arg);
}

function lower(arg: Uint8Array | undefined): string {
  return text(arg).toLowerCase();
}

/** Parses an integer argument the way Redis does (string2ll: strict decimal). */
function parseInteger(arg: Uint8Array | undefined): number | undefined {
  return arg === undefined ? undefined : parseDecimal(arg, 0, arg.length);
}

const NOT_INTEGER = "ERR value is not an integer or out of range";

/** Answers one local command. */
export function answerLocal(
  context: LocalContext,
  connection: ClientConnection,
  argv: Argv,
  command: CommandSpec,
): RespValue | Uint8Array | Promise<RespValue> {
  if (command.container?.name === "pylon") return pylon(context, connection, argv, command.name);
  switch (command.name) {
    case "ping":
      // Redis's table says any arity; its implementation takes at most one message.
      if (argv.length > 2) return error("ERR wrong number of arguments for 'ping' command");
      if (argv.length > 1) return bulk(argv[1]!);
      return REPLY.pong;
    case "echo":
      return bulk(argv[1]!);
    case "select": {
      const db = parseInteger(argv[1]);
      if (db === undefined) return error(NOT_INTEGER);
      if (!context.selectable(db)) {
        return error("ERR DB index is out of range");
      }
      connection.db = db;
      return REPLY.ok;
    }
    case "hello":
      return hello(context, connection, argv);
    case "auth": {
      if (argv.length > 3) return error("ERR syntax error");
      const [name, password] = argv.length === 2 ? ["default", text(argv[1])] : [
        text(argv[1]),
        text(argv[2]),
      ];
      if (argv.length === 2 && !context.users.authRequired) {
        return error(
          "ERR AUTH <password> called without any password configured for the default user. " +
            "Are you sure your configuration is correct?",
        );
      }
      return authenticate(context, connection, name, password) ?? REPLY.ok;
    }
    case "quit":
      connection.closeAfterReplies();
      return REPLY.ok;
    case "reset":
      connection.reset();
      return simple("RESET");
    default:
      if (command.name === "command" || command.name.startsWith("command|")) {
        return commandReply(argv);
      }
      if (command.name.startsWith("client|")) {
        return client(context, connection, argv, command.name);
      }
      if (command.name.startsWith("acl|")) return acl(context, connection, argv, command.name);
      return error(`ERR command '${command.name}' is not answered by Pylon`);
  }
}

/**
 * Checks a user's password for `connection`: undefined when it is now that
 * user, else the error to answer (Redis's `WRONGPASS`, or Pylon's refusal of
 * an address that failed too often).
 */
function authenticate(
  context: LocalContext,
  connection: ClientConnection,
  name: string,
  password: string,
): RespValue | undefined {
  const address = hostOf(connection.remoteAddress);
  const now = performance.now();
  const waitMs = context.authLimiter.waitMs(address, now);
  if (waitMs > 0) {
    return error(
      `ERR too many failed authentication attempts from ${address}; try again in ${
        Math.ceil(waitMs / 1000)
      } s`,
    );
  }
  const user = context.users.authenticate(name, password);
  if (user === undefined) {
    context.authLimiter.failed(address, now);
    return error("WRONGPASS invalid username-password pair or user is disabled.");
  }
  connection.authenticate(user);
  return undefined;
}

/** The host part of `host:port` (IPv6 included). */
function hostOf(address: string): string {
  const colon = address.lastIndexOf(":");
  return colon < 0 ? address : address.slice(0, colon);
}

function hello(context: LocalContext, connection: ClientConnection, argv: Argv): RespValue {
  let protocol = connection.protocol;
  let name: string | undefined;
  let credentials: [string, string] | undefined;
  if (argv.length > 1) {
    const version = parseInteger(argv[1]);
    if (version === undefined) {
      return error("ERR Protocol version is not an integer or out of range");
    }
    if (version !== 2 && version !== 3) return error("NOPROTO unsupported protocol version");
    protocol = version;
    for (let i = 2; i < argv.length; i++) {
      const option = lower(argv[i]);
      if (option === "auth" && i + 2 < argv.length) {
        credentials = [text(argv[i + 1]), text(argv[i + 2])];
        i += 2;
      } else if (option === "setname" && i + 1 < argv.length) {
        name = text(argv[++i]);
        if (!validName(name)) {
          return error("ERR Client names cannot contain spaces, newlines or special characters.");
        }
      } else {
        return error(`ERR Syntax error in HELLO option '${text(argv[i])}'`);
      }
    }
  }
  if (credentials !== undefined) {
    const refused = authenticate(context, connection, credentials[0], credentials[1]);
    if (refused !== undefined) return refused;
  } else if (!connection.authenticated && context.users.authRequired) {
    return error(
      "NOAUTH HELLO must be called with the client already authenticated, otherwise the " +
        "HELLO AUTH <user> <pass> option can be used to authenticate the client and " +
        "select the RESP protocol version at the same time",
    );
  }
  connection.protocol = protocol;
  if (name !== undefined) connection.name = name;
  return map([
    [bulk("server"), bulk("redis")],
    [bulk("version"), bulk(REDIS_COMPAT_VERSION)],
    [bulk("proto"), integer(protocol)],
    [bulk("id"), integer(connection.id)],
    [bulk("mode"), bulk("standalone")],
    [bulk("role"), bulk("master")],
    [bulk("modules"), array([])],
  ]);
}

function validName(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 33 || c > 126) return false;
  }
  return true;
}

function subscriptionCount(connection: ClientConnection): number {
  const s = connection.subscriptions;
  return s.channels + s.patterns + s.shardChannels;
}

/** One `CLIENT LIST` line, with Redis's fields (Pylon's own values where they differ). */
export function clientLine(connection: ClientConnection, now = Date.now()): string {
  const fields: [string, string | number][] = [
    ["id", connection.id],
    ["addr", connection.remoteAddress],
    ["laddr", connection.localAddress],
    ["fd", -1],
    ["name", connection.name],
    ["age", Math.floor((now - connection.createdAt) / 1000)],
    ["idle", Math.floor((now - connection.lastActiveAt) / 1000)],
    ["flags", subscriptionCount(connection) > 0 ? "P" : connection.blocked ? "b" : "N"],
    ["db", connection.db],
    ["sub", connection.subscriptions.channels],
    ["psub", connection.subscriptions.patterns],
    ["ssub", connection.subscriptions.shardChannels],
    ["multi", connection.queuedInTransaction],
    ["qbuf", connection.bufferedInput],
    ["qbuf-free", 0],
    ["argv-mem", 0],
    ["multi-mem", 0],
    // Redis's read buffer size and its peak: here, what the decoder holds now.
    ["rbs", connection.bufferedInput],
    ["rbp", connection.bufferedInput],
    ["obl", 0],
    ["oll", connection.pending],
    ["omem", connection.bufferedOutput],
    ["tot-mem", connection.bufferedInput + connection.bufferedOutput],
    ["events", "r"],
    ["cmd", connection.lastCommand],
    ["user", connection.user.name],
    ["redir", -1],
    ["resp", connection.protocol],
  ];
  return fields.map(([k, v]) => `${k}=${v}`).join(" ");
}

const CLIENT_HELP = [
  "CLIENT <subcommand> [<arg> [value] [opt] ...]. Pylon answers these for its own connections:",
  "GETNAME",
  "    Return the name of the current connection.",
  "ID",
  "    Return the ID of the current connection.",
  "INFO",
  "    Return information about the current client connection.",
  "LIST [TYPE <normal|master|replica|pubsub>] [ID <id> [<id> ...]]",
  "    Return information about client connections to this Pylon node.",
  "SETNAME <name>",
  "    Assign the name <name> to the current connection.",
  "HELP",
  "    Print this help.",
];

function client(
  context: LocalContext,
  connection: ClientConnection,
  argv: Argv,
  name: string,
): RespValue {
  switch (name) {
    case "client|id":
      return integer(connection.id);
    case "client|getname":
      return connection.name === "" ? nil() : bulk(connection.name);
    case "client|setname": {
      const value = text(argv[2]);
      if (!validName(value)) {
        return error("ERR Client names cannot contain spaces, newlines or special characters.");
      }
      connection.name = value;
      return simple("OK");
    }
    case "client|info":
      return {
        type: "verbatim",
        format: "txt",
        value: new TextEncoder().encode(clientLine(connection) + "\n"),
      };
    case "client|list":
      return clientList(context, argv);
    case "client|help":
      return array(CLIENT_HELP.map((line) => simple(line)));
    case "client|unblock": {
      if (parseInteger(argv[2]) === undefined) return error(NOT_INTEGER);
      if (argv.length > 4) return error("ERR syntax error");
      const reason = argv.length === 4 ? lower(argv[3]) : "timeout";
      if (reason !== "timeout" && reason !== "error") {
        return error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
      }
      const id = parseInteger(argv[2]);
      for (const client of context.clients()) {
        if (client.id === id) return integer(client.unblock(reason as "timeout" | "error") ? 1 : 0);
      }
      return integer(0);
    }
    default:
      return error(`ERR command '${name}' is not answered by Pylon`);
  }
}

function clientList(context: LocalContext, argv: Argv): RespValue {
  let ids: Set<number> | undefined;
  for (let i = 2; i < argv.length; i++) {
    const option = lower(argv[i]);
    if (option === "type" && i + 1 < argv.length) {
      const type = lower(argv[++i]);
      if (!["normal", "master", "replica", "slave", "pubsub"].includes(type)) {
        return error(`ERR Unknown client type '${text(argv[i])}'`);
      }
      // Every Pylon client connection is a normal one.
      if (type !== "normal") ids = new Set();
    } else if (option === "id" && i + 1 < argv.length) {
      ids ??= new Set();
      for (i++; i < argv.length; i++) {
        const id = parseInteger(argv[i]);
        if (id === undefined || id <= 0) return error("ERR Invalid client ID");
        ids.add(id);
      }
    } else {
      return error("ERR syntax error");
    }
  }
  const now = Date.now();
  let out = "";
  for (const connection of context.clients()) {
    if (ids === undefined || ids.has(connection.id)) out += clientLine(connection, now) + "\n";
  }
  return { type: "verbatim", format: "txt", value: new TextEncoder().encode(out) };
}

const PYLON_HELP = [
  "PYLON <subcommand> [<arg> ...]. Subcommands are:",
  "INFO [<section> ...]",
  "    Node id, rack, role, uptime, connections, writes, applier, peers and Raft, by section.",
  "WORLD",
  "    The world's nodes, racks, peer addresses, rack leaders and Raft groups.",
  "NODE ADD <id> <rack> <host:port>",
  "    Adds a node (started with --join) to the world and its rack.",
  "NODE REMOVE <id>",
  "    Removes a node from the world and its rack.",
  "CONSISTENCY [strong|local]",
  "    Shows or sets this connection's consistency: strong makes every request linearizable.",
  "RACK TRANSFER <id>",
  "    Hands this rack's leadership (the applier) to node <id>; run on the rack leader.",
  "REBUILD FROM <rack>",
  "    Replaces this rack's Redis with rack <rack>'s snapshot, then applies the log from it;",
  "    run on the rack leader. PYLON INFO rebuild shows its progress.",
  "HELP",
  "    Print this help.",
];

function pylon(
  context: LocalContext,
  connection: ClientConnection,
  argv: Argv,
  name: string,
): RespValue | Promise<RespValue> {
  switch (name) {
    case "pylon|consistency": {
      if (argv.length === 2) return bulk(connection.consistency);
      const wanted = lower(argv[2]);
      if (argv.length > 3 || (wanted !== "strong" && wanted !== "local")) {
        return error("ERR PYLON CONSISTENCY takes strong or local");
      }
      connection.consistency = wanted;
      return simple("OK");
    }
    case "pylon|info": {
      const sections = argv.slice(2).map((a) => text(a));
      return {
        type: "verbatim",
        format: "txt",
        value: new TextEncoder().encode(selectSections(context.pylonInfo(), sections)),
      };
    }
    case "pylon|help":
      return array(PYLON_HELP.map((line) => simple(line)));
    default:
      // WORLD, NODE, RACK: the world's membership (src/cluster/admin.ts); REBUILD (src/rebuild/).
      return context.admin(argv) ??
        error(`ERR unknown subcommand '${text(argv[1])}'. Try PYLON HELP.`);
  }
}

function acl(
  context: LocalContext,
  connection: ClientConnection,
  argv: Argv,
  name: string,
): RespValue {
  return aclReply(context.users, connection.user, name, argv);
}
