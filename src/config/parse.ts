/**
 * Turns the options' sources (sources.ts) into a {@linkcode Config}: each
 * option's text read by its kind (options.ts), checked, and combined with the
 * others it goes with. Pure, so it is unit-tested without touching the process.
 *
 * Identity options (`node-id`, `rack`, `meta-db`) may be left out: a node
 * records them in its data folder at its first start and reads them back later
 * (src/identity/node_identity.ts).
 */

import { Users } from "../auth/users.ts";
import { AddressError, type HostPort, parseHostPort as parseAddress } from "../net/address.ts";
import type { TlsMaterial } from "../net/tls.ts";
import type { RedisAccess } from "../redis/access.ts";
import {
  type DefaultedOption,
  type OptionName,
  type OptionOfKind,
  OPTIONS,
  parseBoolean,
  tableDefault,
} from "./options.ts";
import { type Raw, type ReadFile, readSources, SOURCE_RANK } from "./sources.ts";
import {
  type Config,
  ConfigError,
  type KafkaSecurity,
  type LogLevelName,
  type LogTarget,
  type PeerConfig,
  type PeerTls,
  type RedisTarget,
  type TlsListenConfig,
} from "./types.ts";

/** Result of {@linkcode parseConfig}: run with a configuration, or print help or the version. */
export type ParsedConfig =
  | { kind: "run"; config: Config }
  | { kind: "help" }
  | { kind: "version" };

/** `--strong-quorum`: majority, all, or a number of racks. */
/** `--rebuild auto|manual`. */
function rebuildMode(text: string): "auto" | "manual" {
  const mode = text.trim().toLowerCase();
  if (mode !== "auto" && mode !== "manual") {
    throw new ConfigError(`--rebuild must be auto or manual, got '${text}'`);
  }
  return mode;
}

function parseQuorum(text: string): Config["strongQuorum"] {
  if (text === "majority") return "majority";
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
  const sources = readSources(args, env, readFile);
  if (sources.kind !== "options") return sources;
  const read = new OptionReader(sources.raw, readFile);
  // The parts in this order, so that of several mistakes the same one is reported first.
  const { listen, tls } = clientListeners(read);
  const dataDir = read.text("data-dir");
  const redis = redisTarget(read);
  const log = logTarget(read, dataDir);
  const logLevel = read.text("log-level");
  if (!["debug", "info", "warning", "error"].includes(logLevel)) {
    throw new ConfigError(`--log-level must be debug, info, warning or error, got '${logLevel}'`);
  }
  const logFormat = read.text("log-format");
  if (logFormat !== "text" && logFormat !== "json") {
    throw new ConfigError(`--log-format must be text or json, got '${logFormat}'`);
  }
  const nodeIdText = read.text("node-id");
  const rackText = read.text("rack");
  const { peerListen, adminListen, peers, peerTls, worldSecret } = links(read);
  const users = read.list("user");
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
      tls,
      peerTls,
      redis,
      log,
      dataDir,
      logLevel: logLevel as LogLevelName,
      logFormat,
      clientsMax: read.integer("max-clients"),
      subscribersMax: read.integer("max-subscribers"),
      peerListen,
      adminListen,
      worldSecret,
      peers,
      join: read.boolean("join"),
      raftTickMs: read.integer("raft-tick-ms"),
      partitions: read.integer("partitions"),
      applier: read.boolean("applier"),
      rebuild: rebuildMode(read.text("rebuild")),
      ackLog: read.list("ack-log").map((c) => c.toLowerCase()),
      contentious: read.list("contentious"),
      strongQuorum: parseQuorum(read.text("strong-quorum")),
      metaDb: read.integer("meta-db"),
      writeTimeoutMs: read.integer("write-timeout-ms"),
      scriptTimeMaxMs: read.integer("script-time-max-ms"),
      writesInFlightMax: read.integer("writes-in-flight-max"),
      drainTimeoutMs: read.integer("drain-timeout-ms"),
      publishMaxAgeMs: read.integer("publish-max-age-ms"),
      digestKeysPerSecond: read.integer("digest-keys-per-second"),
      logSegmentBytes: read.size("log-segment-bytes"),
      logRetentionBytes: read.size("log-retention-bytes"),
      logRetentionMs: read.integer("log-retention-ms"),
      clientOutputBufferLimit: read.size("client-output-buffer-limit"),
      clientMemoryBudget: read.size("client-memory-budget"),
      requirepass: read.secret("requirepass", "requirepass-file"),
      users,
      protectedMode: read.boolean("protected-mode"),
    },
  };
}

/** What reading an option gives: `T`, or `T | undefined` when the table has no default for it. */
type Read<N extends OptionName, T> = N extends DefaultedOption ? T : T | undefined;

/** Reads each option by its kind from the highest source that gives it, else the table's default. */
class OptionReader {
  readonly raw: (option: OptionName) => Raw | undefined;
  #readFile: ReadFile;

  constructor(raw: (option: OptionName) => Raw | undefined, readFile: ReadFile) {
    this.raw = raw;
    this.#readFile = readFile;
  }

  /** The option's text. */
  text<N extends OptionOfKind<"text">>(option: N): Read<N, string> {
    return (this.raw(option)?.texts[0] ?? tableDefault(option)) as Read<N, string>;
  }

  /** The items of a list: split on commas (`lines`: on `;` or newlines), trimmed, none empty. */
  list(option: OptionOfKind<"list" | "lines">): string[] {
    const separator = OPTIONS[option].kind === "lines" ? /[;\n]/ : ",";
    return (this.raw(option)?.texts ?? []).flatMap((t) => t.split(separator)).map((t) => t.trim())
      .filter((t) => t !== "");
  }

  /** A secret from its option, or from the file its `-file` option names (trailing newline dropped). */
  secret(option: OptionOfKind<"text">, fileOption: OptionOfKind<"text">): string | undefined {
    const path = this.text(fileOption);
    if (path === undefined) return this.text(option);
    if (this.text(option) !== undefined) {
      throw new ConfigError(`Give either --${option} or --${fileOption}, not both`);
    }
    try {
      return this.#readFile(path).replace(/\r?\n$/, "");
    } catch (error) {
      throw new ConfigError(`--${fileOption}: cannot read '${path}': ${(error as Error).message}`);
    }
  }

  /** An integer within the table's bounds (its default is checked like any value). */
  integer<N extends OptionOfKind<"integer">>(option: N): Read<N, number> {
    const { min, max } = OPTIONS[option];
    const value = this.raw(option)?.texts[0] ?? tableDefault(option)?.toString();
    if (value === undefined) return undefined as Read<N, number>;
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n < min || n > max) {
      throw new ConfigError(`--${option} must be an integer from ${min} to ${max}, got '${value}'`);
    }
    return n as Read<N, number>;
  }

  /** A size in bytes: a number, or with Redis's units (`64mb`, `1gb`, `512kb`). */
  size<N extends OptionOfKind<"bytes">>(option: N): Read<N, number> {
    const value = this.raw(option)?.texts[0];
    if (value === undefined) return tableDefault(option) as Read<N, number>;
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
    return bytes as Read<N, number>;
  }

  /** A boolean; unset, `derived` (from another option), else the table's default, else off. */
  boolean(option: OptionOfKind<"boolean">, derived?: boolean): boolean {
    const value = this.raw(option)?.texts[0];
    if (value !== undefined) return parseBoolean(value, `--${option}`);
    return derived ?? (tableDefault(option) as boolean | undefined) ?? false;
  }

  /** An address, if given (`--listen none` is handled by its caller). */
  hostPort(option: OptionOfKind<"text">): HostPort | undefined {
    const text = this.text(option);
    return text === undefined ? undefined : parseHostPort(text, `--${option}`);
  }

  /** The text of the PEM file the option names, if given. */
  pem(option: OptionOfKind<"text">): string | undefined {
    const path = this.text(option);
    if (path === undefined) return undefined;
    try {
      return this.#readFile(path);
    } catch (error) {
      throw new ConfigError(`--${option}: cannot read '${path}': ${(error as Error).message}`);
    }
  }

  /** A client's TLS material: `--<server>-tls-ca`, and `-cert` with `-key` for mutual TLS. */
  tlsMaterial(server: "redis" | "kafka"): TlsMaterial {
    const material: TlsMaterial = {};
    const ca = this.pem(`${server}-tls-ca`);
    const cert = this.pem(`${server}-tls-cert`);
    const key = this.pem(`${server}-tls-key`);
    if ((cert === undefined) !== (key === undefined)) {
      throw new ConfigError(`--${server}-tls-cert and --${server}-tls-key go together`);
    }
    if (ca !== undefined) material.ca = ca;
    if (cert !== undefined) material.cert = cert;
    if (key !== undefined) material.key = key;
    return material;
  }
}

/** The plain client port and the TLS one: at least one of them. */
function clientListeners(
  read: OptionReader,
): { listen: HostPort | undefined; tls: TlsListenConfig | undefined } {
  const listenText = read.text("listen");
  const listen = listenText === "none" ? undefined : parseHostPort(listenText, "--listen");
  const tlsListenText = read.text("tls-listen");
  let tls: TlsListenConfig | undefined;
  if (tlsListenText !== undefined) {
    const certFile = read.text("tls-cert");
    const keyFile = read.text("tls-key");
    if (certFile === undefined || keyFile === undefined) {
      throw new ConfigError("--tls-listen needs --tls-cert and --tls-key");
    }
    const caFile = read.text("tls-ca");
    const authClients = read.text("tls-auth-clients") ?? (caFile === undefined ? "no" : "yes");
    if (authClients !== "yes" && authClients !== "no" && authClients !== "optional") {
      throw new ConfigError(`--tls-auth-clients must be yes, no or optional, got '${authClients}'`);
    }
    if (authClients !== "no" && caFile === undefined) {
      throw new ConfigError("--tls-auth-clients yes|optional needs --tls-ca");
    }
    tls = {
      listen: parseHostPort(tlsListenText, "--tls-listen"),
      certFile,
      keyFile,
      caFile,
      authClients,
    };
  }
  if (listen === undefined && tls === undefined) {
    throw new ConfigError("--listen none needs --tls-listen: clients must connect somewhere");
  }
  return { listen, tls };
}

/**
 * The rack's Redis: `--redis` (a URL, the default) or `--sentinel` with
 * `--master`. Both name the same thing, so the higher source decides which
 * one counts.
 */
function redisTarget(read: OptionReader): RedisTarget {
  const redisRaw = read.raw("redis");
  const sentinelRaw = read.raw("sentinel");
  const rank = (r: Raw | undefined) => r === undefined ? 0 : SOURCE_RANK[r.source];
  if (redisRaw !== undefined && sentinelRaw !== undefined && rank(redisRaw) === rank(sentinelRaw)) {
    throw new ConfigError(
      `Give either --redis or --sentinel, not both (both from the ${redisRaw.source})`,
    );
  }
  const accessOf = (
    prefix: "redis" | "sentinel",
    url?: { tls: boolean; username?: string; password?: string },
  ): RedisAccess => {
    const access: RedisAccess = {};
    const username = read.text(`${prefix}-user`) ?? url?.username;
    const password = read.secret(`${prefix}-password`, `${prefix}-password-file`) ??
      url?.password;
    if (username !== undefined) access.username = username;
    if (password !== undefined) access.password = password;
    // Sentinels are reached with Redis's TLS material (--redis-tls-*).
    if (read.boolean(`${prefix}-tls`, url?.tls)) access.tls = read.tlsMaterial("redis");
    return access;
  };
  const master = read.text("master");
  if (rank(sentinelRaw) > rank(redisRaw)) {
    if (master === undefined) throw new ConfigError("--sentinel needs --master <name>");
    const sentinels = read.list("sentinel").map((s) => parseHostPort(s, "--sentinel"));
    return {
      kind: "sentinel",
      sentinels,
      master,
      access: accessOf("redis"),
      sentinelAccess: accessOf("sentinel"),
    };
  }
  if (master !== undefined && rank(read.raw("master")) > rank(redisRaw)) {
    throw new ConfigError("--master only makes sense with --sentinel");
  }
  const url = parseRedisUrl(read.text("redis"));
  return { kind: "direct", ...url.address, access: accessOf("redis", url) };
}

/** The op log: the embedded one in the data folder unless `--log` says otherwise; Kafka's TLS and SASL. */
function logTarget(read: OptionReader, dataDir: string): LogTarget {
  const log = parseLogTarget(read.text("log") ?? `local:${dataDir}/log`);
  if (log.kind !== "kafka") return log;
  const security: KafkaSecurity = {};
  if (read.boolean("kafka-tls")) security.tls = read.tlsMaterial("kafka");
  const mechanism = read.text("kafka-sasl");
  if (mechanism !== undefined) {
    if (mechanism !== "plain" && mechanism !== "scram-sha-256" && mechanism !== "scram-sha-512") {
      throw new ConfigError(
        `--kafka-sasl must be plain, scram-sha-256 or scram-sha-512, got '${mechanism}'`,
      );
    }
    const username = read.text("kafka-user");
    const password = read.secret("kafka-password", "kafka-password-file");
    if (username === undefined || password === undefined) {
      throw new ConfigError("--kafka-sasl needs --kafka-user and a password");
    }
    security.sasl = { mechanism, username, password };
  }
  return { ...log, security };
}

/** Peer links (their address, the other nodes, mutual TLS, the world's secret) and the admin listener. */
function links(read: OptionReader): {
  peerListen: HostPort | undefined;
  adminListen: HostPort | undefined;
  peers: PeerConfig[];
  peerTls: PeerTls | undefined;
  worldSecret: string | undefined;
} {
  const peerListen = read.hostPort("peer-listen");
  const adminListen = read.hostPort("admin-listen");
  const peers = read.list("peer").map(parsePeer);
  const peerTlsParts = [
    read.pem("peer-tls-cert"),
    read.pem("peer-tls-key"),
    read.pem("peer-tls-ca"),
  ];
  let peerTls: PeerTls | undefined;
  if (peerTlsParts.some((p) => p !== undefined)) {
    const [cert, key, ca] = peerTlsParts;
    if (cert === undefined || key === undefined || ca === undefined) {
      throw new ConfigError("--peer-tls-cert, --peer-tls-key and --peer-tls-ca go together");
    }
    peerTls = { cert, key, ca };
  }
  const worldSecret = read.secret("world-secret", "world-secret-file");
  if (
    (peers.length > 0 || peerListen !== undefined) &&
    (worldSecret === undefined || worldSecret.length < 16)
  ) {
    throw new ConfigError(
      "Peer links need --world-secret (or PYLON_WORLD_SECRET) of at least 16 characters, the same on every node",
    );
  }
  return { peerListen, adminListen, peers, peerTls, worldSecret };
}
