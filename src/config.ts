/**
 * Node configuration: command-line flags over `PYLON_*` environment variables
 * over defaults. Parsing is pure (arguments and environment come in), so it is
 * unit-tested without touching the process.
 */

import { parseArgs } from "node:util";

/** A `host:port` pair. */
export interface HostPort {
  host: string;
  port: number;
}

/** Another node of the world. */
export interface PeerConfig {
  id: string;
  rack: string;
  /** Its peer address (`--peer-listen` there). */
  address: HostPort;
}

/** Where the rack's Redis is: a fixed address, or a master name Sentinels know. */
export type RedisTarget =
  | { kind: "direct"; host: string; port: number }
  | { kind: "sentinel"; sentinels: HostPort[]; master: string };

/** Where ops are logged: Kafka (a world), or an embedded segment log (one rack). */
export type LogTarget =
  | { kind: "kafka"; brokers: HostPort[]; topic: string }
  | { kind: "local"; dir: string };

/** Logging verbosity. */
export type LogLevelName = "debug" | "info" | "warning" | "error";

/** Everything a node needs to start. */
export interface Config {
  nodeId: string;
  rack: string;
  /** Where clients connect. */
  listen: HostPort;
  redis: RedisTarget;
  log: LogTarget;
  /** Folder for the node's own files (embedded log, Raft state). */
  dataDir: string;
  logLevel: LogLevelName;
  logFormat: "text" | "json";
  /** Client connections accepted at once. */
  maxClients: number;
  /** Where other nodes connect (peer links); undefined: this node has none. */
  peerListen: HostPort | undefined;
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
  /** Redis db for Pylon's positions; undefined means the last db. */
  metaDb: number | undefined;
  /** How long a client waits for a write's reply. */
  writeTimeoutMs: number;
}

/** A configuration mistake, worded for the operator. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Usage text for `--help`. */
export const USAGE = `Usage: pylon [options]

  --listen host:port         client address (default 127.0.0.1:6380)
  --redis redis://host:port  the rack's Redis at a fixed address (default redis://127.0.0.1:6379)
  --sentinel host:port[,..]  find the rack's Redis master through these Sentinels
  --master name              master name the Sentinels monitor (with --sentinel)
  --log kafka://host:port[,host:port]/topic | local:<dir>
                             the world's op log (default local:<data-dir>/log)
  --data-dir dir             the node's own files (default ./pylon-data)
  --node-id id               this node's id (default <hostname>-<listen port>)
  --rack name                this node's rack (default "default")
  --max-clients n            client connections accepted at once (default 10000)
  --config file.json         options from a JSON file (flags and PYLON_* variables override it)
  --peer-listen host:port    where other nodes connect to this one
  --peer id@rack@host:port   another node and its peer address (repeat for each)
  --world-secret secret      shared by every node; peer links prove it (16+ characters)
  --join                     start outside the world; a member adds this node with PYLON NODE ADD
  --raft-tick-ms n           Raft heartbeat interval; elections after 10-20 ticks (default 100)
  --partitions n             log partitions; keys map to them by hash slot (default 1)
  --applier on|off           apply the log to this rack's Redis (default on)
  --ack-log CMD[,CMD..]      answer these constant-reply writes (SET, MSET, ...) once logged
  --meta-db n                Redis db for Pylon's positions, hidden from clients (default: the last)
  --write-timeout-ms n       how long a write waits for its reply (default 10000)
  --log-level level          debug, info, warning or error (default info)
  --log-format format        text or json (default text)
  --help                     print this and exit

Every option can also come from the environment: --node-id is PYLON_NODE_ID, and so on.`;

const OPTIONS = {
  "listen": { type: "string" },
  "redis": { type: "string" },
  "sentinel": { type: "string" },
  "master": { type: "string" },
  "log": { type: "string" },
  "data-dir": { type: "string" },
  "node-id": { type: "string" },
  "rack": { type: "string" },
  "max-clients": { type: "string" },
  "partitions": { type: "string" },
  "applier": { type: "string" },
  "ack-log": { type: "string" },
  "meta-db": { type: "string" },
  "write-timeout-ms": { type: "string" },
  "log-level": { type: "string" },
  "log-format": { type: "string" },
  "config": { type: "string" },
  "peer-listen": { type: "string" },
  "world-secret": { type: "string" },
  "peer": { type: "string", multiple: true },
  "join": { type: "boolean" },
  "raft-tick-ms": { type: "string" },
  "help": { type: "boolean" },
} as const;

type OptionName = Exclude<keyof typeof OPTIONS, "help" | "peer" | "config" | "join">;

/** Reads a configuration file (injected so parsing stays pure). */
export type ReadFile = (path: string) => string;

/** Result of {@linkcode parseConfig}: a configuration, or a request for help. */
export type ParsedConfig = { help: true } | { help: false; config: Config };

/** Parses `host:port`; `what` names the option in errors. */
export function parseHostPort(text: string, what: string): HostPort {
  const match = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(text.trim());
  if (match === null) throw new ConfigError(`${what} must be host:port, got '${text}'`);
  const port = Number(match[2]);
  if (port < 1 || port > 65535) throw new ConfigError(`${what} has port ${port} outside 1-65535`);
  const host = match[1]!.startsWith("[") ? match[1]!.slice(1, -1) : match[1]!;
  return { host, port };
}

function parseRedisUrl(text: string): RedisTarget {
  const match = /^redis:\/\/([^/]+?)\/?$/.exec(text.trim());
  if (match === null) throw new ConfigError(`--redis must be redis://host:port, got '${text}'`);
  return { kind: "direct", ...parseHostPort(match[1]!, "--redis") };
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
  return { kind: "kafka", brokers, topic: match[2]! };
}

function nonEmpty(text: string | undefined): string | undefined {
  return text === undefined || text === "" ? undefined : text;
}

/** `id@rack@host:port`. */
function parsePeer(text: string): PeerConfig {
  const [id, rack, address, ...rest] = text.split("@");
  if (
    id === undefined || rack === undefined || address === undefined || rest.length > 0 ||
    id === "" || rack === ""
  ) {
    throw new ConfigError(`--peer must be id@rack@host:port, got '${text}'`);
  }
  return { id, rack, address: parseHostPort(address, "--peer") };
}

interface ConfigFile {
  values: Partial<Record<OptionName, string>>;
  peers: PeerConfig[] | undefined;
}

/**
 * A JSON file whose keys are the option names (`"listen"`, `"node-id"`, ...)
 * plus `"peers": [{ "id", "rack", "address" }]`.
 */
function parseConfigFile(path: string, readFile: ReadFile): ConfigFile {
  let data: unknown;
  try {
    data = JSON.parse(readFile(path));
  } catch (error) {
    throw new ConfigError(`Cannot read configuration file '${path}': ${(error as Error).message}`);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new ConfigError(`Configuration file '${path}' must hold a JSON object`);
  }
  const values: Partial<Record<OptionName, string>> = {};
  let peers: PeerConfig[] | undefined;
  for (const [key, raw] of Object.entries(data)) {
    if (key === "peers") {
      if (!Array.isArray(raw)) throw new ConfigError(`'peers' in '${path}' must be a list`);
      peers = raw.map((p, i) => {
        const ok = typeof p === "object" && p !== null && typeof p.id === "string" &&
          typeof p.rack === "string" &&
          typeof p.address === "string";
        if (!ok) {
          throw new ConfigError(`peers[${i}] in '${path}' needs string id, rack and address`);
        }
        return { id: p.id, rack: p.rack, address: parseHostPort(p.address, `peers[${i}].address`) };
      });
    } else if (
      key in OPTIONS && key !== "help" && key !== "peer" && key !== "config" && key !== "join"
    ) {
      if (typeof raw !== "string" && typeof raw !== "number" && typeof raw !== "boolean") {
        throw new ConfigError(`'${key}' in '${path}' must be a string or a number`);
      }
      values[key as OptionName] = typeof raw === "boolean" ? (raw ? "on" : "off") : String(raw);
    } else {
      throw new ConfigError(`Unknown option '${key}' in '${path}'`);
    }
  }
  return { values, peers };
}

function envName(option: OptionName): string {
  return `PYLON_${option.toUpperCase().replaceAll("-", "_")}`;
}

/** Parses flags over environment over defaults. `hostname` names the default node id. */
export function parseConfig(
  args: string[],
  env: Record<string, string | undefined>,
  hostname = "pylon",
  readFile: ReadFile = () => {
    throw new ConfigError("No configuration file can be read here");
  },
): ParsedConfig {
  let parsed;
  try {
    parsed = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false });
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
  if (parsed.values.help === true) return { help: true };
  const configPath = parsed.values.config ?? nonEmpty(env.PYLON_CONFIG);
  const file: ConfigFile = configPath === undefined
    ? { values: {}, peers: undefined }
    : parseConfigFile(configPath, readFile);
  // Flags over environment over the file over defaults.
  const value = (option: OptionName): string | undefined => {
    const flag = parsed.values[option];
    if (typeof flag === "string") return flag;
    return nonEmpty(env[envName(option)]) ?? file.values[option];
  };

  const listen = parseHostPort(value("listen") ?? "127.0.0.1:6380", "--listen");
  const dataDir = value("data-dir") ?? "./pylon-data";

  const sentinel = value("sentinel");
  const master = value("master");
  const redisUrl = value("redis");
  let redis: RedisTarget;
  if (sentinel !== undefined) {
    if (redisUrl !== undefined) {
      throw new ConfigError("Give either --redis or --sentinel, not both");
    }
    if (master === undefined) throw new ConfigError("--sentinel needs --master <name>");
    const sentinels = sentinel.split(",").map((s) => parseHostPort(s, "--sentinel"));
    redis = { kind: "sentinel", sentinels, master };
  } else {
    if (master !== undefined) throw new ConfigError("--master only makes sense with --sentinel");
    redis = parseRedisUrl(redisUrl ?? "redis://127.0.0.1:6379");
  }

  const log = parseLogTarget(value("log") ?? `local:${dataDir}/log`);

  const logLevel = value("log-level") ?? "info";
  if (!["debug", "info", "warning", "error"].includes(logLevel)) {
    throw new ConfigError(`--log-level must be debug, info, warning or error, got '${logLevel}'`);
  }
  const logFormat = value("log-format") ?? "text";
  if (logFormat !== "text" && logFormat !== "json") {
    throw new ConfigError(`--log-format must be text or json, got '${logFormat}'`);
  }

  const nodeId = value("node-id") ?? `${hostname}-${listen.port}`;
  if (!/^[A-Za-z0-9._:-]{1,64}$/.test(nodeId)) {
    throw new ConfigError(`--node-id must be 1-64 letters, digits or . _ : -, got '${nodeId}'`);
  }
  const integer = (option: OptionName, fallback: number, min: number, max: number): number => {
    const text = value(option) ?? String(fallback);
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < min || n > max) {
      throw new ConfigError(`--${option} must be an integer from ${min} to ${max}, got '${text}'`);
    }
    return n;
  };
  const maxClients = integer("max-clients", 10_000, 1, 1_000_000);
  const partitions = integer("partitions", 1, 1, 16_384);
  const writeTimeoutMs = integer("write-timeout-ms", 10_000, 1, 3_600_000);
  const metaDb = value("meta-db") === undefined ? undefined : integer("meta-db", 0, 0, 65_535);
  const applierText = value("applier") ?? "on";
  if (applierText !== "on" && applierText !== "off") {
    throw new ConfigError(`--applier must be on or off, got '${applierText}'`);
  }
  const ackLog = (value("ack-log") ?? "").split(",").map((c) => c.trim().toLowerCase()).filter((
    c,
  ) => c !== "");
  const rack = value("rack") ?? "default";
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(rack)) {
    throw new ConfigError(`--rack must be 1-64 letters, digits or . _ -, got '${rack}'`);
  }

  const peerListen = value("peer-listen") === undefined
    ? undefined
    : parseHostPort(value("peer-listen")!, "--peer-listen");
  const peerFlags = parsed.values.peer ?? [];
  const peers = peerFlags.length > 0 ? peerFlags.map(parsePeer) : file.peers ?? [];
  const worldSecret = value("world-secret");
  if (
    (peers.length > 0 || peerListen !== undefined) &&
    (worldSecret === undefined || worldSecret.length < 16)
  ) {
    throw new ConfigError(
      "Peer links need --world-secret (or PYLON_WORLD_SECRET) of at least 16 characters, the same on every node",
    );
  }

  return {
    help: false,
    config: {
      nodeId,
      rack,
      listen,
      redis,
      log,
      dataDir,
      logLevel: logLevel as LogLevelName,
      logFormat,
      maxClients,
      peerListen,
      worldSecret,
      peers,
      join: parsed.values.join === true || env.PYLON_JOIN === "1" || env.PYLON_JOIN === "on",
      raftTickMs: integer("raft-tick-ms", 100, 5, 10_000),
      partitions,
      applier: applierText === "on",
      ackLog,
      metaDb,
      writeTimeoutMs,
    },
  };
}

/** A one-line description of where the rack's Redis is. */
export function describeRedis(target: RedisTarget): string {
  return target.kind === "direct"
    ? `redis://${target.host}:${target.port}`
    : `sentinel ${
      target.sentinels.map((s) => `${s.host}:${s.port}`).join(",")
    } master '${target.master}'`;
}

/** A one-line description of the op log. */
export function describeLog(target: LogTarget): string {
  return target.kind === "local"
    ? `local:${target.dir}`
    : `kafka://${target.brokers.map((b) => `${b.host}:${b.port}`).join(",")}/${target.topic}`;
}
