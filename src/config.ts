/**
 * Node configuration. Every option has one name and one type wherever it comes
 * from: a flag (`--node-id x`), a `PYLON_*` environment variable
 * (`PYLON_NODE_ID=x`) or a key of the JSON configuration file
 * (`"node-id": "x"`). Per option, a flag beats the environment, which beats the
 * file, which beats the default. Parsing is pure (arguments, environment and a
 * file reader come in), so it is unit-tested without touching the process.
 *
 * Identity options (`node-id`, `rack`, `meta-db`) may be left out: a node
 * records them in its data folder at its first start and reads them back later
 * (src/identity/node_identity.ts).
 */

import { Users } from "./auth/users.ts";
import type { RedisAccess } from "./redis/access.ts";
import {
  AddressError,
  describe,
  type HostPort,
  parseHostPort as parseAddress,
} from "./net/address.ts";
import type { TlsMaterial } from "./net/tls.ts";

/** Another node of the world. */
export interface PeerConfig {
  id: string;
  rack: string;
  /** Its peer address (`--peer-listen` there). */
  address: HostPort;
}

/** Where the rack's Redis is: a fixed address, or a master name Sentinels know. */
export type RedisTarget =
  | { kind: "direct"; host: string; port: number; access: RedisAccess }
  | {
    kind: "sentinel";
    sentinels: HostPort[];
    master: string;
    /** How to reach the master Sentinel names. */
    access: RedisAccess;
    /** How to reach the Sentinels themselves. */
    sentinelAccess: RedisAccess;
  };

/** Where ops are logged: Kafka (a world), or an embedded segment log (one rack). */
export type LogTarget =
  | { kind: "kafka"; brokers: HostPort[]; topic: string; security: KafkaSecurity }
  | { kind: "local"; dir: string };

/** How Pylon reaches Kafka: TLS, and SASL credentials. */
export interface KafkaSecurity {
  tls?: TlsMaterial;
  sasl?: {
    mechanism: "plain" | "scram-sha-256" | "scram-sha-512";
    username: string;
    password: string;
  };
}

/** Logging verbosity. */
export type LogLevelName = "debug" | "info" | "warning" | "error";

/** Everything a node needs to start. */
/** The TLS client port: where, and the PEM files read at start and on SIGHUP. */
export interface TlsListenConfig {
  listen: HostPort;
  certFile: string;
  keyFile: string;
  caFile: string | undefined;
  authClients: "yes" | "no" | "optional";
}

/** Mutual TLS for peer links: PEM text. */
export interface PeerTls {
  cert: string;
  key: string;
  ca: string;
}

export interface Config {
  /** This node's id; undefined: the one recorded in the data folder, or a new one. */
  nodeId: string | undefined;
  /** This node's rack; undefined: the one recorded in the data folder, or "default". */
  rack: string | undefined;
  /** Where clients connect in plain TCP; undefined: TLS only. */
  listen: HostPort | undefined;
  /** The TLS client port, if any. */
  tls: TlsListenConfig | undefined;
  /** Mutual TLS on peer links, if configured. */
  peerTls: PeerTls | undefined;
  redis: RedisTarget;
  log: LogTarget;
  /** Folder for the node's own files (identity, embedded log, Raft state). */
  dataDir: string;
  logLevel: LogLevelName;
  logFormat: "text" | "json";
  /** Client connections accepted at once. */
  clientsMax: number;
  /** Subscribed clients at once (each holds a connection to the rack's Redis). */
  subscribersMax: number;
  /** Where other nodes connect (peer links); undefined: this node has none. */
  peerListen: HostPort | undefined;
  /** Where `/metrics`, `/healthz` and `/readyz` are served (off when undefined). */
  adminListen: HostPort | undefined;
  /** The secret every node of the world shares; peer links prove it. */
  worldSecret: string | undefined;
  /** The other nodes: of this rack and of other racks. */
  peers: PeerConfig[];
  /** Start outside the world and wait to be added (`PYLON NODE ADD` on a member); peers are contacts. */
  join: boolean;
  /** Raft's clock: heartbeats every tick, elections after 10 to 20 ticks. */
  raftTickMs: number;
  /** Log partitions (one total order by default). */
  partitions: number;
  /** Whether this node applies the log to its rack's Redis. */
  applier: boolean;
  /** Commands acknowledged once logged (`ack=log`); only constant-reply commands qualify. */
  ackLog: string[];
  /** Key patterns (Redis globs) whose commands are linearizable (see src/consistency/). */
  contentious: string[];
  /** Racks that must have applied a strong write before its reply: a majority, all, or a count. */
  strongQuorum: "majority" | "all" | number;
  /** Redis db for Pylon's metadata; undefined: the one recorded, else the last db. */
  metaDb: number | undefined;
  /** How long a client waits for a write's reply. */
  writeTimeoutMs: number;
  /** Writes this node may have waiting for their replies, all connections and peers together. */
  writesInFlightMax: number;
  /** How long a stop (SIGTERM) lets connections finish what they took before closing them. */
  drainTimeoutMs: number;
  /** A message older than this when its rack applies it is not published there (a rack catching up). */
  publishMaxAgeMs: number;
  /** Embedded log: segment size, and the bounds past which applied segments are removed. */
  logSegmentBytes: number;
  logRetentionBytes: number;
  logRetentionMs: number;
  /** Reply bytes a client may leave unread before it is closed. */
  clientOutputBufferLimit: number;
  /** Request and reply bytes all clients together may make the node hold. */
  clientMemoryBudget: number;
  /** The default user's password. */
  requirepass: string | undefined;
  /** Users as Redis ACL lines (`name rule ...`). */
  users: string[];
  /** Refuse non-loopback clients while the default user has no password. */
  protectedMode: boolean;
}

/** A configuration mistake, worded for the operator. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** How an option's text becomes a value (`lines`: a list split on `;` or newlines, not commas). */
type Kind = "text" | "integer" | "bytes" | "boolean" | "list" | "lines";

interface OptionSpec {
  kind: Kind;
  /** `--name <value>` in the usage text. */
  value?: string;
  help: string;
}

/**
 * Every option, in the order `--help` lists them. Flags only: `config`,
 * `help`, `version` (and `config` also as `PYLON_CONFIG`).
 */
const OPTIONS = {
  "listen": {
    kind: "text",
    value: "host:port|none",
    help: "client address (default 127.0.0.1:6380; none: TLS clients only)",
  },
  "tls-listen": { kind: "text", value: "host:port", help: "a TLS client address" },
  "tls-cert": { kind: "text", value: "file", help: "the TLS client port's certificate (PEM)" },
  "tls-key": { kind: "text", value: "file", help: "the key of --tls-cert (PEM)" },
  "tls-ca": {
    kind: "text",
    value: "file",
    help: "CA certificates that sign client certificates (PEM)",
  },
  "tls-auth-clients": {
    kind: "text",
    value: "yes|no|optional",
    help: "clients must present a certificate --tls-ca signed (default yes with --tls-ca)",
  },
  "redis": {
    kind: "text",
    value: "redis://host:port",
    help: "the rack's Redis at a fixed address (default redis://127.0.0.1:6379)",
  },
  "sentinel": {
    kind: "list",
    value: "host:port[,..]",
    help: "find the rack's Redis master through these Sentinels",
  },
  "master": { kind: "text", value: "name", help: "master name the Sentinels monitor" },
  "redis-user": {
    kind: "text",
    value: "name",
    help: "the ACL user Pylon authenticates as to Redis",
  },
  "redis-password": {
    kind: "text",
    value: "password",
    help: "Pylon's password for Redis (prefer PYLON_REDIS_PASSWORD or --redis-password-file)",
  },
  "redis-password-file": {
    kind: "text",
    value: "file",
    help: "read Pylon's Redis password from this file",
  },
  "redis-tls": {
    kind: "boolean",
    value: "yes|no",
    help: "reach Redis (and Sentinel, with --sentinel-tls) over TLS (implied by rediss://)",
  },
  "redis-tls-ca": {
    kind: "text",
    value: "file",
    help: "CA certificates to trust for Redis and Sentinel (PEM)",
  },
  "redis-tls-cert": {
    kind: "text",
    value: "file",
    help: "Pylon's client certificate for Redis (PEM)",
  },
  "redis-tls-key": { kind: "text", value: "file", help: "the key of --redis-tls-cert (PEM)" },
  "sentinel-user": {
    kind: "text",
    value: "name",
    help: "the user Pylon authenticates as to Sentinel",
  },
  "sentinel-password": { kind: "text", value: "password", help: "Pylon's password for Sentinel" },
  "sentinel-password-file": {
    kind: "text",
    value: "file",
    help: "read the Sentinel password from a file",
  },
  "sentinel-tls": { kind: "boolean", value: "yes|no", help: "reach the Sentinels over TLS" },
  "log": {
    kind: "text",
    value: "kafka://host:port[,..]/topic | local:<dir>",
    help: "the world's op log (default local:<data-dir>/log)",
  },
  "kafka-tls": { kind: "boolean", value: "yes|no", help: "reach Kafka over TLS" },
  "kafka-tls-ca": { kind: "text", value: "file", help: "CA certificates to trust for Kafka (PEM)" },
  "kafka-tls-cert": {
    kind: "text",
    value: "file",
    help: "Pylon's client certificate for Kafka (PEM)",
  },
  "kafka-tls-key": { kind: "text", value: "file", help: "the key of --kafka-tls-cert (PEM)" },
  "kafka-sasl": {
    kind: "text",
    value: "plain|scram-sha-256|scram-sha-512",
    help: "authenticate to Kafka with SASL",
  },
  "kafka-user": { kind: "text", value: "name", help: "Pylon's SASL user for Kafka" },
  "kafka-password": {
    kind: "text",
    value: "password",
    help: "Pylon's SASL password for Kafka (prefer PYLON_KAFKA_PASSWORD or --kafka-password-file)",
  },
  "kafka-password-file": {
    kind: "text",
    value: "file",
    help: "read the Kafka password from a file",
  },
  "data-dir": {
    kind: "text",
    value: "dir",
    help: "the node's own files: identity, embedded log, Raft state (default ./pylon-data)",
  },
  "node-id": {
    kind: "text",
    value: "id",
    help: "this node's id (default: as recorded in the data folder, else <hostname>-<random>)",
  },
  "rack": {
    kind: "text",
    value: "name",
    help: 'this node\'s rack (default: as recorded in the data folder, else "default")',
  },
  "max-clients": {
    kind: "integer",
    value: "n",
    help: "client connections accepted at once (default 10000)",
  },
  "max-subscribers": {
    kind: "integer",
    value: "n",
    help:
      "subscribed clients at once, each with its own connection to the rack's Redis (default 1000)",
  },
  "admin-listen": {
    kind: "text",
    value: "host:port",
    help: "serve /metrics, /healthz and /readyz over HTTP here (off unless set)",
  },
  "peer-listen": {
    kind: "text",
    value: "host:port",
    help: "where other nodes connect to this one",
  },
  "peer": {
    kind: "list",
    value: "id@rack@host:port",
    help: "another node and its peer address (repeat, or separate with commas)",
  },
  "peer-tls-cert": {
    kind: "text",
    value: "file",
    help: "this node's certificate for mutual TLS on peer links (PEM)",
  },
  "peer-tls-key": { kind: "text", value: "file", help: "the key of --peer-tls-cert (PEM)" },
  "peer-tls-ca": {
    kind: "text",
    value: "file",
    help: "the CA that signs every node's peer certificate (PEM)",
  },
  "world-secret": {
    kind: "text",
    value: "secret",
    help: "shared by every node; peer links prove it (16+ characters)",
  },
  "join": {
    kind: "boolean",
    help: "start outside the world; a member adds this node with PYLON NODE ADD",
  },
  "raft-tick-ms": {
    kind: "integer",
    value: "n",
    help: "Raft heartbeat interval; elections after 10-20 ticks (default 100)",
  },
  "partitions": {
    kind: "integer",
    value: "n",
    help: "log partitions; keys map to them by hash slot (default 1)",
  },
  "applier": {
    kind: "boolean",
    value: "on|off",
    help: "apply the log to this rack's Redis (default on)",
  },
  "ack-log": {
    kind: "list",
    value: "CMD[,CMD..]",
    help: "answer these constant-reply writes (SET, MSET, ...) once logged",
  },
  "contentious": {
    kind: "list",
    value: "GLOB[,GLOB..]",
    help:
      "key patterns whose reads and writes are linearizable: writes answered once a quorum of racks applied them, reads after the log's end (reloadable)",
  },
  "strong-quorum": {
    kind: "text",
    value: "majority|all|n",
    help: "racks that must apply a strong write before its reply (default majority)",
  },
  "meta-db": {
    kind: "integer",
    value: "n",
    help:
      "Redis db for Pylon's metadata, hidden from clients (default: as recorded, else the last)",
  },
  "write-timeout-ms": {
    kind: "integer",
    value: "n",
    help: "how long a write waits for its reply (default 10000)",
  },
  "log-segment-bytes": {
    kind: "bytes",
    value: "size",
    help: "embedded log: start a new segment file past this size (default 64mb)",
  },
  "log-retention-bytes": {
    kind: "bytes",
    value: "size",
    help: "embedded log: per partition, remove the oldest applied segments past this (default 1gb)",
  },
  "log-retention-ms": {
    kind: "integer",
    value: "n",
    help: "embedded log: remove applied segments last written longer ago (default 7 days)",
  },
  "drain-timeout-ms": {
    kind: "integer",
    value: "n",
    help: "on SIGTERM, how long connections may finish what they took (default 15000)",
  },
  "publish-max-age-ms": {
    kind: "integer",
    value: "n",
    help:
      "a PUBLISH older than this when a rack applies it (a rack catching up) is not published there (default 30000)",
  },
  "writes-in-flight-max": {
    kind: "integer",
    value: "n",
    help: "writes the node may have awaiting their replies, over all clients (default 100000)",
  },
  "client-output-buffer-limit": {
    kind: "bytes",
    value: "size",
    help: "reply bytes a client may leave unread before it is closed (default 64mb)",
  },
  "client-memory-budget": {
    kind: "bytes",
    value: "size",
    help: "request and reply bytes all clients together may make the node hold (default 1gb)",
  },
  "requirepass": {
    kind: "text",
    value: "password",
    help:
      "the default user's password (prefer PYLON_REQUIREPASS or --requirepass-file: flags show in ps)",
  },
  "requirepass-file": {
    kind: "text",
    value: "file",
    help: "read the default user's password from this file",
  },
  "user": {
    kind: "lines",
    value: "'name rule ...'",
    help:
      "a user with Redis ACL rules, e.g. 'app on >pw ~app:* +@read' (repeat, or separate with ;)",
  },
  "protected-mode": {
    kind: "boolean",
    value: "yes|no",
    help: "refuse non-loopback clients while the default user has no password (default yes)",
  },
  "world-secret-file": {
    kind: "text",
    value: "file",
    help: "read the world secret from this file",
  },
  "log-level": {
    kind: "text",
    value: "level",
    help: "debug, info, warning or error (default info)",
  },
  "log-format": { kind: "text", value: "format", help: "text or json (default text)" },
} as const satisfies Record<string, OptionSpec>;

/** An option that can come from a flag, the environment or the file. */
export type OptionName = keyof typeof OPTIONS;

/** Every option's name, for tests and documentation. */
export const OPTION_NAMES = Object.keys(OPTIONS) as OptionName[];

/** The `PYLON_*` variable of an option. */
export function envName(option: OptionName): string {
  return `PYLON_${option.toUpperCase().replaceAll("-", "_")}`;
}

/** Usage text for `--help`. */
export const USAGE = (() => {
  const rows: [string, string][] = Object.entries(OPTIONS).map(([name, spec]) => [
    `--${name}${"value" in spec ? ` ${spec.value}` : ""}`,
    spec.help,
  ]);
  rows.push(
    ["--config file.json", "options from a JSON file (PYLON_CONFIG); its keys are the names above"],
    ["--help", "print this and exit"],
    ["--version", "print the version and exit"],
  );
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 2;
  const lines = rows.map(([flag, help]) =>
    flag.length > 40
      ? `  ${flag}\n  ${" ".repeat(width)} ${help}`
      : `  ${flag.padEnd(width)} ${help}`
  );
  return `Usage: pylon [options]

${lines.join("\n")}

Every option also comes from the environment (--node-id is PYLON_NODE_ID) and from the
configuration file ("node-id"). Flags beat the environment, which beats the file.
Booleans take true/false, 1/0, on/off or yes/no; lists take commas (or repeated flags).`;
})();

/** Reads a configuration file (injected so parsing stays pure). */
export type ReadFile = (path: string) => string;

/** Result of {@linkcode parseConfig}: run with a configuration, or print help or the version. */
export type ParsedConfig =
  | { kind: "run"; config: Config }
  | { kind: "help" }
  | { kind: "version" };

/** Where an option's value came from, highest precedence first. */
type Source = "flag" | "environment" | "file";
const SOURCE_RANK: Record<Source, number> = { flag: 3, environment: 2, file: 1 };

/** One option's raw value: text pieces (lists may have several) and where they came from. */
interface Raw {
  texts: string[];
  source: Source;
}

/** `--strong-quorum`: majority (the default), all, or a number of racks. */
function parseQuorum(text: string | undefined): Config["strongQuorum"] {
  if (text === undefined || text === "majority") return "majority";
  if (text === "all") return "all";
  if (/^[1-9]\d{0,3}$/.test(text)) return Number(text);
  throw new ConfigError(
    `--strong-quorum must be majority, all or a number of racks, got '${text}'`,
  );
}

/** Parses `host:port`; `what` names the option in errors. */
function parseHostPort(text: string, what: string): HostPort {
  try {
    return parseAddress(text, what);
  } catch (error) {
    if (error instanceof AddressError) throw new ConfigError(error.message);
    throw error;
  }
}

const TRUE_WORDS = new Set(["true", "1", "on", "yes"]);
const FALSE_WORDS = new Set(["false", "0", "off", "no"]);

/** Parses a boolean the same way from every source. */
export function parseBoolean(text: string, what: string): boolean {
  const word = text.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  throw new ConfigError(`${what} must be true/false, 1/0, on/off or yes/no, got '${text}'`);
}

function isBooleanWord(text: string): boolean {
  const word = text.toLowerCase();
  return TRUE_WORDS.has(word) || FALSE_WORDS.has(word);
}

interface Flags {
  values: Map<OptionName, string[]>;
  config: string | undefined;
  help: boolean;
  version: boolean;
}

/**
 * Reads `--name value`, `--name=value` and bare booleans (`--join`, or
 * `--join false`). A leading `--` (as `deno task start -- ...` passes it) is
 * skipped.
 */
function parseFlags(args: string[]): Flags {
  const flags: Flags = { values: new Map(), config: undefined, help: false, version: false };
  let i = args[0] === "--" ? 1 : 0;
  while (i < args.length) {
    const arg = args[i++]!;
    if (!arg.startsWith("--") || arg === "--") {
      throw new ConfigError(`Unexpected argument '${arg}' (options start with --)`);
    }
    const eq = arg.indexOf("=");
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    let inline = eq < 0 ? undefined : arg.slice(eq + 1);
    if (name === "help" || name === "version") {
      if (inline !== undefined) throw new ConfigError(`--${name} takes no value`);
      flags[name] = true;
      continue;
    }
    if (name === "config") {
      inline ??= args[i++];
      if (inline === undefined) throw new ConfigError("--config needs a value");
      flags.config = inline;
      continue;
    }
    if (!(name in OPTIONS)) throw new ConfigError(`Unknown option '--${name}'`);
    const option = name as OptionName;
    const spec: OptionSpec = OPTIONS[option];
    if (inline === undefined) {
      const next = args[i];
      if (spec.kind === "boolean") {
        if (next !== undefined && isBooleanWord(next)) {
          inline = next;
          i++;
        } else inline = "true";
      } else {
        if (next === undefined) throw new ConfigError(`--${option} needs a value`);
        inline = next;
        i++;
      }
    }
    const list = flags.values.get(option) ?? [];
    if (spec.kind !== "list" && list.length > 0) {
      throw new ConfigError(`--${option} is given more than once`);
    }
    list.push(inline);
    flags.values.set(option, list);
  }
  return flags;
}

/** Text of a configuration file value, by the option's kind. */
function fileTexts(option: OptionName, raw: unknown, path: string): string[] {
  const kind: Kind = OPTIONS[option].kind;
  const scalar = (value: unknown): string => {
    if (typeof value === "string") return value;
    if (typeof value === "number" && kind !== "boolean") return String(value);
    if (typeof value === "boolean" && kind === "boolean") return String(value);
    if (option === "peer" && typeof value === "object" && value !== null) {
      const p = value as Record<string, unknown>;
      if (typeof p.id === "string" && typeof p.rack === "string" && typeof p.address === "string") {
        return `${p.id}@${p.rack}@${p.address}`;
      }
    }
    const expected = kind === "boolean"
      ? "true or false"
      : kind === "integer"
      ? "a number"
      : option === "peer"
      ? 'a list of "id@rack@host:port" or {id, rack, address}'
      : "a string";
    throw new ConfigError(`'${option}' in '${path}' must be ${expected}`);
  };
  if (Array.isArray(raw)) {
    if (kind !== "list" && kind !== "lines") {
      throw new ConfigError(`'${option}' in '${path}' cannot be a list`);
    }
    return raw.map(scalar);
  }
  return [scalar(raw)];
}

function readConfigFile(path: string, readFile: ReadFile): Map<OptionName, string[]> {
  let data: unknown;
  try {
    data = JSON.parse(readFile(path));
  } catch (error) {
    throw new ConfigError(`Cannot read configuration file '${path}': ${(error as Error).message}`);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new ConfigError(`Configuration file '${path}' must hold a JSON object`);
  }
  const values = new Map<OptionName, string[]>();
  for (const [key, raw] of Object.entries(data)) {
    if (!(key in OPTIONS)) throw new ConfigError(`Unknown option '${key}' in '${path}'`);
    values.set(key as OptionName, fileTexts(key as OptionName, raw, path));
  }
  return values;
}

/** `redis[s]://[user[:password]@]host:port[/]`. */
function parseRedisUrl(
  text: string,
): { address: HostPort; tls: boolean; username?: string; password?: string } {
  const match = /^(rediss?):\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/@]+?)\/?$/.exec(text.trim());
  if (match === null) {
    throw new ConfigError(
      `--redis must be redis[s]://[user[:password]@]host:port, got '${redact(text)}'`,
    );
  }
  const out: { address: HostPort; tls: boolean; username?: string; password?: string } = {
    address: parseHostPort(match[4]!, "--redis"),
    tls: match[1] === "rediss",
  };
  // As redis-py reads them: `user@`, `:password@`, `user:password@`.
  if (match[2] !== undefined && match[2] !== "") out.username = decodeURIComponent(match[2]);
  if (match[3] !== undefined) out.password = decodeURIComponent(match[3]);
  return out;
}

/** A Redis URL with its password hidden, for messages. */
function redact(url: string): string {
  return url.replace(/(\/\/[^:@/]*:)[^@/]*@/, "$1***@").replace(/(\/\/)([^:@/]+)@/, "$1***@");
}

function parseLogTarget(text: string): LogTarget {
  if (text.startsWith("local:")) {
    const dir = text.slice("local:".length);
    if (dir === "") {
      throw new ConfigError("--log local: needs a folder, as in local:./pylon-data/log");
    }
    return { kind: "local", dir };
  }
  const match = /^kafka:\/\/([^/]+)\/([A-Za-z0-9._-]{1,249})$/.exec(text.trim());
  if (match === null) {
    throw new ConfigError(
      `--log must be kafka://host:port[,host:port]/topic or local:<dir>, got '${text}'`,
    );
  }
  const brokers = match[1]!.split(",").map((b) => parseHostPort(b, "--log broker"));
  return { kind: "kafka", brokers, topic: match[2]!, security: {} };
}

/** `id@rack@host:port`. */
function parsePeer(text: string): PeerConfig {
  const [id, rack, address, ...rest] = text.trim().split("@");
  if (
    id === undefined || rack === undefined || address === undefined || rest.length > 0 ||
    id === "" || rack === ""
  ) {
    throw new ConfigError(`--peer must be id@rack@host:port, got '${text}'`);
  }
  return { id, rack, address: parseHostPort(address, "--peer") };
}

/** A valid node id, or a refusal naming the option. */
export function checkNodeId(nodeId: string): string {
  if (!/^[A-Za-z0-9._:-]{1,64}$/.test(nodeId)) {
    throw new ConfigError(`--node-id must be 1-64 letters, digits or . _ : -, got '${nodeId}'`);
  }
  return nodeId;
}

/** A valid rack name, or a refusal naming the option. */
export function checkRack(rack: string): string {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(rack)) {
    throw new ConfigError(`--rack must be 1-64 letters, digits or . _ -, got '${rack}'`);
  }
  return rack;
}

/** Parses flags over environment over the configuration file over defaults. */
export function parseConfig(
  args: string[],
  env: Record<string, string | undefined>,
  readFile: ReadFile = () => {
    throw new ConfigError("No configuration file can be read here");
  },
): ParsedConfig {
  const flags = parseFlags(args);
  if (flags.help) return { kind: "help" };
  if (flags.version) return { kind: "version" };
  const configPath = flags.config ?? nonEmpty(env.PYLON_CONFIG);
  const file = configPath === undefined ? new Map() : readConfigFile(configPath, readFile);

  const raw = (option: OptionName): Raw | undefined => {
    const flag = flags.values.get(option);
    if (flag !== undefined) return { texts: flag, source: "flag" };
    const fromEnv = nonEmpty(env[envName(option)]);
    if (fromEnv !== undefined) return { texts: [fromEnv], source: "environment" };
    const fromFile = file.get(option);
    return fromFile === undefined ? undefined : { texts: fromFile, source: "file" };
  };
  const text = (option: OptionName): string | undefined => raw(option)?.texts[0];
  const list = (option: OptionName): string[] => {
    const separator = OPTIONS[option].kind === "lines" ? /[;\n]/ : ",";
    return (raw(option)?.texts ?? []).flatMap((t) => t.split(separator)).map((t) => t.trim())
      .filter((t) => t !== "");
  };
  /** A secret from its option, or from the file its `-file` option names (trailing newline dropped). */
  const secret = (option: OptionName, fileOption: OptionName): string | undefined => {
    const path = text(fileOption);
    if (path === undefined) return text(option);
    if (text(option) !== undefined) {
      throw new ConfigError(`Give either --${option} or --${fileOption}, not both`);
    }
    try {
      return readFile(path).replace(/\r?\n$/, "");
    } catch (error) {
      throw new ConfigError(`--${fileOption}: cannot read '${path}': ${(error as Error).message}`);
    }
  };
  const integer = (option: OptionName, fallback: number, min: number, max: number): number => {
    const value = text(option) ?? String(fallback);
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n < min || n > max) {
      throw new ConfigError(`--${option} must be an integer from ${min} to ${max}, got '${value}'`);
    }
    return n;
  };
  /** A size in bytes: a number, or with Redis's units (`64mb`, `1gb`, `512kb`). */
  const size = (option: OptionName, fallback: number): number => {
    const value = text(option);
    if (value === undefined) return fallback;
    const match = /^(\d+)\s*(b|kb|k|mb|m|gb|g)?$/i.exec(value.trim());
    const unit = match?.[2]?.toLowerCase() ?? "b";
    const scale = unit.startsWith("g")
      ? 1024 ** 3
      : unit.startsWith("m")
      ? 1024 ** 2
      : unit.startsWith("k")
      ? 1024
      : 1;
    const bytes = match === null ? NaN : Number(match[1]) * scale;
    if (!Number.isSafeInteger(bytes) || bytes < 1024) {
      throw new ConfigError(
        `--${option} must be a size of at least 1kb (such as 64mb), got '${value}'`,
      );
    }
    return bytes;
  };
  const boolean = (option: OptionName, fallback: boolean): boolean => {
    const value = text(option);
    return value === undefined ? fallback : parseBoolean(value, `--${option}`);
  };

  const listenText = text("listen") ?? "127.0.0.1:6380";
  const listen = listenText === "none" ? undefined : parseHostPort(listenText, "--listen");
  const tlsListenText = text("tls-listen");
  let tlsConfig: TlsListenConfig | undefined;
  if (tlsListenText !== undefined) {
    const certFile = text("tls-cert");
    const keyFile = text("tls-key");
    if (certFile === undefined || keyFile === undefined) {
      throw new ConfigError("--tls-listen needs --tls-cert and --tls-key");
    }
    const caFile = text("tls-ca");
    const authClients = text("tls-auth-clients") ?? (caFile === undefined ? "no" : "yes");
    if (authClients !== "yes" && authClients !== "no" && authClients !== "optional") {
      throw new ConfigError(`--tls-auth-clients must be yes, no or optional, got '${authClients}'`);
    }
    if (authClients !== "no" && caFile === undefined) {
      throw new ConfigError("--tls-auth-clients yes|optional needs --tls-ca");
    }
    tlsConfig = {
      listen: parseHostPort(tlsListenText, "--tls-listen"),
      certFile,
      keyFile,
      caFile,
      authClients,
    };
  }
  if (listen === undefined && tlsConfig === undefined) {
    throw new ConfigError("--listen none needs --tls-listen: clients must connect somewhere");
  }
  const dataDir = text("data-dir") ?? "./pylon-data";

  // --redis and --sentinel name the same thing: the higher source decides which one counts.
  const redisRaw = raw("redis");
  const sentinelRaw = raw("sentinel");
  const rank = (r: Raw | undefined) => r === undefined ? 0 : SOURCE_RANK[r.source];
  if (redisRaw !== undefined && sentinelRaw !== undefined && rank(redisRaw) === rank(sentinelRaw)) {
    throw new ConfigError(
      `Give either --redis or --sentinel, not both (both from the ${redisRaw.source})`,
    );
  }
  const pem = (option: OptionName): string | undefined => {
    const path = text(option);
    if (path === undefined) return undefined;
    try {
      return readFile(path);
    } catch (error) {
      throw new ConfigError(`--${option}: cannot read '${path}': ${(error as Error).message}`);
    }
  };
  const tlsMaterial = (): TlsMaterial => {
    const material: TlsMaterial = {};
    const ca = pem("redis-tls-ca");
    const cert = pem("redis-tls-cert");
    const key = pem("redis-tls-key");
    if ((cert === undefined) !== (key === undefined)) {
      throw new ConfigError("--redis-tls-cert and --redis-tls-key go together");
    }
    if (ca !== undefined) material.ca = ca;
    if (cert !== undefined) material.cert = cert;
    if (key !== undefined) material.key = key;
    return material;
  };
  const accessOf = (
    prefix: "redis" | "sentinel",
    url?: { tls: boolean; username?: string; password?: string },
  ): RedisAccess => {
    const access: RedisAccess = {};
    const username = text(`${prefix}-user`) ?? url?.username;
    const password = secret(`${prefix}-password`, `${prefix}-password-file`) ?? url?.password;
    if (username !== undefined) access.username = username;
    if (password !== undefined) access.password = password;
    if (boolean(`${prefix}-tls`, url?.tls ?? false)) access.tls = tlsMaterial();
    return access;
  };
  let redis: RedisTarget;
  const master = text("master");
  if (rank(sentinelRaw) > rank(redisRaw)) {
    if (master === undefined) throw new ConfigError("--sentinel needs --master <name>");
    const sentinels = list("sentinel").map((s) => parseHostPort(s, "--sentinel"));
    redis = {
      kind: "sentinel",
      sentinels,
      master,
      access: accessOf("redis"),
      sentinelAccess: accessOf("sentinel"),
    };
  } else {
    if (master !== undefined && rank(raw("master")) > rank(redisRaw)) {
      throw new ConfigError("--master only makes sense with --sentinel");
    }
    const url = parseRedisUrl(redisRaw?.texts[0] ?? "redis://127.0.0.1:6379");
    redis = { kind: "direct", ...url.address, access: accessOf("redis", url) };
  }

  let log = parseLogTarget(text("log") ?? `local:${dataDir}/log`);
  if (log.kind === "kafka") {
    const security: KafkaSecurity = {};
    if (boolean("kafka-tls", false)) {
      const material: TlsMaterial = {};
      const ca = pem("kafka-tls-ca");
      const cert = pem("kafka-tls-cert");
      const key = pem("kafka-tls-key");
      if ((cert === undefined) !== (key === undefined)) {
        throw new ConfigError("--kafka-tls-cert and --kafka-tls-key go together");
      }
      if (ca !== undefined) material.ca = ca;
      if (cert !== undefined) material.cert = cert;
      if (key !== undefined) material.key = key;
      security.tls = material;
    }
    const mechanism = text("kafka-sasl");
    if (mechanism !== undefined) {
      if (mechanism !== "plain" && mechanism !== "scram-sha-256" && mechanism !== "scram-sha-512") {
        throw new ConfigError(
          `--kafka-sasl must be plain, scram-sha-256 or scram-sha-512, got '${mechanism}'`,
        );
      }
      const username = text("kafka-user");
      const password = secret("kafka-password", "kafka-password-file");
      if (username === undefined || password === undefined) {
        throw new ConfigError("--kafka-sasl needs --kafka-user and a password");
      }
      security.sasl = { mechanism, username, password };
    }
    log = { ...log, security };
  }

  const logLevel = text("log-level") ?? "info";
  if (!["debug", "info", "warning", "error"].includes(logLevel)) {
    throw new ConfigError(`--log-level must be debug, info, warning or error, got '${logLevel}'`);
  }
  const logFormat = text("log-format") ?? "text";
  if (logFormat !== "text" && logFormat !== "json") {
    throw new ConfigError(`--log-format must be text or json, got '${logFormat}'`);
  }

  const nodeIdText = text("node-id");
  const rackText = text("rack");
  const peerListenText = text("peer-listen");
  const peerListen = peerListenText === undefined
    ? undefined
    : parseHostPort(peerListenText, "--peer-listen");
  const adminListenText = text("admin-listen");
  const adminListen = adminListenText === undefined
    ? undefined
    : parseHostPort(adminListenText, "--admin-listen");
  const peers = list("peer").map(parsePeer);
  const peerTlsParts = [pem("peer-tls-cert"), pem("peer-tls-key"), pem("peer-tls-ca")];
  let peerTls: PeerTls | undefined;
  if (peerTlsParts.some((p) => p !== undefined)) {
    const [cert, key, ca] = peerTlsParts;
    if (cert === undefined || key === undefined || ca === undefined) {
      throw new ConfigError("--peer-tls-cert, --peer-tls-key and --peer-tls-ca go together");
    }
    peerTls = { cert, key, ca };
  }
  const worldSecret = secret("world-secret", "world-secret-file");
  if (
    (peers.length > 0 || peerListen !== undefined) &&
    (worldSecret === undefined || worldSecret.length < 16)
  ) {
    throw new ConfigError(
      "Peer links need --world-secret (or PYLON_WORLD_SECRET) of at least 16 characters, the same on every node",
    );
  }

  const users = list("user");
  for (const line of users) {
    try {
      new Users({ requirepass: undefined, users: [line], worldSecret: undefined });
    } catch (error) {
      throw new ConfigError(`--user '${line}': ${(error as Error).message}`);
    }
  }

  return {
    kind: "run",
    config: {
      nodeId: nodeIdText === undefined ? undefined : checkNodeId(nodeIdText),
      rack: rackText === undefined ? undefined : checkRack(rackText),
      listen,
      tls: tlsConfig,
      peerTls,
      redis,
      log,
      dataDir,
      logLevel: logLevel as LogLevelName,
      logFormat,
      clientsMax: integer("max-clients", 10_000, 1, 1_000_000),
      subscribersMax: integer("max-subscribers", 1_000, 0, 1_000_000),
      peerListen,
      adminListen,
      worldSecret,
      peers,
      join: boolean("join", false),
      raftTickMs: integer("raft-tick-ms", 100, 5, 10_000),
      partitions: integer("partitions", 1, 1, 16_384),
      applier: boolean("applier", true),
      ackLog: list("ack-log").map((c) => c.toLowerCase()),
      contentious: list("contentious"),
      strongQuorum: parseQuorum(text("strong-quorum")),
      metaDb: text("meta-db") === undefined ? undefined : integer("meta-db", 0, 0, 65_535),
      writeTimeoutMs: integer("write-timeout-ms", 10_000, 1, 3_600_000),
      writesInFlightMax: integer("writes-in-flight-max", 100_000, 1, 10_000_000),
      drainTimeoutMs: integer("drain-timeout-ms", 15_000, 0, 3_600_000),
      publishMaxAgeMs: integer("publish-max-age-ms", 30_000, 0, 86_400_000),
      logSegmentBytes: size("log-segment-bytes", 64 * 1024 ** 2),
      logRetentionBytes: size("log-retention-bytes", 1024 ** 3),
      logRetentionMs: integer("log-retention-ms", 7 * 24 * 3_600_000, 1, Number.MAX_SAFE_INTEGER),
      clientOutputBufferLimit: size("client-output-buffer-limit", 64 * 1024 ** 2),
      clientMemoryBudget: size("client-memory-budget", 1024 ** 3),
      requirepass: secret("requirepass", "requirepass-file"),
      users,
      protectedMode: boolean("protected-mode", true),
    },
  };
}

function nonEmpty(text: string | undefined): string | undefined {
  return text === undefined || text === "" ? undefined : text;
}

/** A one-line description of where the rack's Redis is (never its password). */
export function describeRedis(target: RedisTarget): string {
  const user = (access: RedisAccess) =>
    access.password === undefined ? "" : `${access.username ?? ""}:***@`;
  return target.kind === "direct"
    ? `redis${target.access.tls === undefined ? "" : "s"}://${
      user(target.access)
    }${target.host}:${target.port}`
    : `sentinel ${target.sentinelAccess.tls === undefined ? "" : "(tls) "}${
      target.sentinels.map(describe).join(",")
    } master '${target.master}'`;
}

/** A one-line description of the op log. */
export function describeLog(target: LogTarget): string {
  return target.kind === "local"
    ? `local:${target.dir}`
    : `kafka://${target.brokers.map(describe).join(",")}/${target.topic}`;
}
