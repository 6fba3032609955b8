/**
 * Every option a node takes, in one table: its name (the flag `--name`, the
 * variable `PYLON_NAME`, the configuration file's key `"name"`), how its text
 * is read, its bounds, its default and its line in `--help`, which is
 * generated from the table. The only place a default is stated: the parser,
 * `--help` and the parts that need a default when built without a
 * configuration ({@linkcode optionDefault}) all read it here.
 */

import { ConfigError } from "./types.ts";

/** How an option's text becomes a value (`lines`: a list split on `;` or newlines, not commas). */
export type Kind = "text" | "integer" | "bytes" | "boolean" | "list" | "lines";

/**
 * One option. `default` is the value when no source gives one (text as a flag
 * would give it; bytes as a number), shown in `--help` as `(default ...)`. A
 * default that depends on other options or on the data folder is decided in
 * parse.ts (or src/identity/) and described in `help`; a boolean without one
 * is off.
 */
export type OptionSpec =
  & {
    /** `--name <value>` in the usage text. */
    value?: string;
    help: string;
  }
  & (
    | { kind: "text"; default?: string }
    | { kind: "integer"; default?: number; min: number; max: number }
    | { kind: "bytes"; default?: number }
    | { kind: "boolean"; default?: boolean }
    | { kind: "list" | "lines" }
  );

const KB = 1024;
const MB = 1024 * KB;
const GB = 1024 * MB;
const DAY_MS = 24 * 3_600_000;

/**
 * Every option, in the order `--help` lists them. Flags only: `config`,
 * `help`, `version` (and `config` also as `PYLON_CONFIG`).
 */
export const OPTIONS = {
  "listen": {
    kind: "text",
    value: "host:port|none",
    help: "client address; none: TLS clients only",
    default: "127.0.0.1:6380",
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
    help: "the rack's Redis at a fixed address",
    default: "redis://127.0.0.1:6379",
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
    help: "the node's own files: identity, embedded log, Raft state",
    default: "./pylon-data",
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
    help: "client connections accepted at once",
    default: 10_000,
    min: 1,
    max: 1_000_000,
  },
  "max-subscribers": {
    kind: "integer",
    value: "n",
    help: "subscribed clients at once, each with its own connection to the rack's Redis",
    default: 1_000,
    min: 0,
    max: 1_000_000,
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
    help: "Raft heartbeat interval; elections after 10-20 ticks",
    default: 100,
    min: 5,
    max: 10_000,
  },
  "partitions": {
    kind: "integer",
    value: "n",
    help: "log partitions; keys map to them by hash slot",
    default: 1,
    min: 1,
    max: 16_384,
  },
  "applier": {
    kind: "boolean",
    value: "on|off",
    help: "apply the log to this rack's Redis",
    default: true,
  },
  "rebuild": {
    kind: "text",
    value: "auto|manual",
    help:
      "a rack whose Redis lacks ops the log no longer holds is rebuilt from the fastest peer rack's snapshot by itself (auto), or once PYLON REBUILD FROM <rack> says so (manual)",
    default: "auto",
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
    help: "racks that must apply a strong write before its reply",
    default: "majority",
  },
  "meta-db": {
    kind: "integer",
    value: "n",
    help:
      "Redis db for Pylon's metadata, hidden from clients (default: as recorded, else the last)",
    min: 0,
    max: 65_535,
  },
  "write-timeout-ms": {
    kind: "integer",
    value: "n",
    help: "how long a write waits for its reply",
    default: 10_000,
    min: 1,
    max: 3_600_000,
  },
  "script-time-max-ms": {
    kind: "integer",
    value: "n",
    help:
      "a script or function applied as an op that runs past this is stopped, at the same point on every rack (counted in steps of its code, not by a clock; see README, script budget)",
    default: 2_000,
    min: 1,
    max: 3_600_000,
  },
  "log-segment-bytes": {
    kind: "bytes",
    value: "size",
    help: "embedded log: start a new segment file past this size",
    default: 64 * MB,
  },
  "log-retention-bytes": {
    kind: "bytes",
    value: "size",
    help: "embedded log: per partition, remove the oldest applied segments past this",
    default: GB,
  },
  "log-retention-ms": {
    kind: "integer",
    value: "n",
    help: "embedded log: remove applied segments last written longer ago",
    default: 7 * DAY_MS,
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
  },
  "drain-timeout-ms": {
    kind: "integer",
    value: "n",
    help: "on SIGTERM, how long connections may finish what they took",
    default: 15_000,
    min: 0,
    max: 3_600_000,
  },
  "publish-max-age-ms": {
    kind: "integer",
    value: "n",
    help:
      "a PUBLISH older than this when a rack applies it (a rack catching up) is not published there",
    default: 30_000,
    min: 0,
    max: 86_400_000,
  },
  "digest-keys-per-second": {
    kind: "integer",
    value: "n",
    help:
      "keys whose data the rack leader compares with every other rack's per second (0: none; README: Divergence)",
    default: 400,
    min: 0,
    max: 100_000,
  },
  "writes-in-flight-max": {
    kind: "integer",
    value: "n",
    help: "writes the node may have awaiting their replies, over all clients",
    default: 100_000,
    min: 1,
    max: 10_000_000,
  },
  "client-output-buffer-limit": {
    kind: "bytes",
    value: "size",
    help: "reply bytes a client may leave unread before it is closed",
    default: 64 * MB,
  },
  "client-memory-budget": {
    kind: "bytes",
    value: "size",
    help: "request and reply bytes all clients together may make the node hold",
    default: GB,
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
    help: "refuse non-loopback clients while the default user has no password",
    default: true,
  },
  "world-secret-file": {
    kind: "text",
    value: "file",
    help: "read the world secret from this file",
  },
  "log-level": {
    kind: "text",
    value: "level",
    help: "debug, info, warning or error",
    default: "info",
  },
  "log-format": { kind: "text", value: "format", help: "text or json", default: "text" },
} as const satisfies Record<string, OptionSpec>;

type Options = typeof OPTIONS;

/** An option that can come from a flag, the environment or the file. */
export type OptionName = keyof Options;

/** Every option's name, for tests and documentation. */
export const OPTION_NAMES = Object.keys(OPTIONS) as OptionName[];

/** The options read as `kind`. */
export type OptionOfKind<K extends Kind> = {
  [N in OptionName]: Options[N]["kind"] extends K ? N : never;
}[OptionName];

/** The options the table gives a default. */
export type DefaultedOption = {
  [N in OptionName]: Options[N] extends { default: unknown } ? N : never;
}[OptionName];

/** The type of an option's default: a number, a string or a boolean. */
export type DefaultOf<N extends DefaultedOption> = Options[N] extends { default: infer D }
  ? D extends number ? number : D extends string ? string : D extends boolean ? boolean : never
  : never;

/** An option's default, for the parts that need one when built without a configuration. */
export function optionDefault<N extends DefaultedOption>(option: N): DefaultOf<N> {
  const value = tableDefault(option);
  if (value === undefined) throw new Error(`Option '${option}' has no default`);
  return value as DefaultOf<N>;
}

/** An option's default in the table, if it has one. */
export function tableDefault(option: OptionName): string | number | boolean | undefined {
  const spec: OptionSpec = OPTIONS[option];
  return "default" in spec ? spec.default : undefined;
}

/** The `PYLON_*` variable of an option (its key in the configuration file is its name). */
export function envName(option: OptionName): string {
  return `PYLON_${option.toUpperCase().replaceAll("-", "_")}`;
}

/** A default as `--help` shows it: sizes in units, whole days of milliseconds in days, booleans in the option's own words. */
function shownDefault(name: string, spec: OptionSpec): string | undefined {
  if (!("default" in spec) || spec.default === undefined) return undefined;
  const value = spec.default;
  if (typeof value === "boolean") return spec.value?.split("|")[value ? 0 : 1] ?? String(value);
  if (spec.kind === "bytes" && typeof value === "number") {
    for (const [unit, bytes] of [["gb", GB], ["mb", MB], ["kb", KB]] as const) {
      if (value % bytes === 0) return `${value / bytes}${unit}`;
    }
  }
  if (name.endsWith("-ms") && typeof value === "number" && value % DAY_MS === 0) {
    return `${value / DAY_MS} days`;
  }
  return String(value);
}

/** An option's line in `--help`: its help, and its default when the table has one. */
function helpLine(name: string, spec: OptionSpec): string {
  const shown = shownDefault(name, spec);
  return shown === undefined ? spec.help : `${spec.help} (default ${shown})`;
}

/** Usage text for `--help`. */
export const USAGE = (() => {
  const rows: [string, string][] = Object.entries(OPTIONS).map(([name, spec]) => [
    `--${name}${"value" in spec ? ` ${spec.value}` : ""}`,
    helpLine(name, spec),
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

const TRUE_WORDS = new Set(["true", "1", "on", "yes"]);
const FALSE_WORDS = new Set(["false", "0", "off", "no"]);

/** Parses a boolean the same way from every source. */
export function parseBoolean(text: string, what: string): boolean {
  const word = text.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  throw new ConfigError(`${what} must be true/false, 1/0, on/off or yes/no, got '${text}'`);
}

/** Whether `text` is one of the boolean words (a bare boolean flag may be followed by one). */
export function isBooleanWord(text: string): boolean {
  const word = text.toLowerCase();
  return TRUE_WORDS.has(word) || FALSE_WORDS.has(word);
}
