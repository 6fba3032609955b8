import assert from "node:assert/strict";
import { describeRedis } from "./describe.ts";
import { envName, OPTION_NAMES, optionDefault, type OptionName } from "./options.ts";
import { parseConfig } from "./parse.ts";
import { type Config, ConfigError } from "./types.ts";

const SECRET = "0123456789abcdef";

/** Secret files the tests read. */
const SECRET_FILES: Record<string, string> = { "/run/secrets/pw": "s3cret\n" };

function config(
  args: string[],
  env: Record<string, string> = {},
  file?: Record<string, unknown>,
): Config {
  const parsed = parseConfig(
    file === undefined ? args : ["--config", "/etc/pylon.json", ...args],
    env,
    (path) => SECRET_FILES[path] ?? JSON.stringify(file),
  );
  assert.equal(parsed.kind, "run");
  if (parsed.kind !== "run") throw new Error("unreachable");
  return parsed.config;
}

Deno.test("parseConfig() gives a single-machine node with no arguments", () => {
  const c = config([]);
  assert.deepEqual(c.listen, { host: "127.0.0.1", port: 6380 });
  assert.deepEqual(c.redis, { kind: "direct", host: "127.0.0.1", port: 6379, access: {} });
  assert.deepEqual(c.log, { kind: "local", dir: "./pylon-data/log" });
  assert.equal(c.nodeId, undefined, "left to the data folder's record (or a new id)");
  assert.equal(c.rack, undefined);
  assert.equal(c.metaDb, undefined);
  assert.equal(c.applier, true);
  assert.equal(c.join, false);
});

Deno.test("parseConfig() with no sources holds every default of the option table", () => {
  const c = config([]);
  const expected: Partial<Record<keyof Config, unknown>> = {
    dataDir: optionDefault("data-dir"),
    logLevel: optionDefault("log-level"),
    logFormat: optionDefault("log-format"),
    clientsMax: optionDefault("max-clients"),
    subscribersMax: optionDefault("max-subscribers"),
    raftTickMs: optionDefault("raft-tick-ms"),
    partitions: optionDefault("partitions"),
    applier: optionDefault("applier"),
    rebuild: optionDefault("rebuild"),
    strongQuorum: optionDefault("strong-quorum"),
    writeTimeoutMs: optionDefault("write-timeout-ms"),
    scriptTimeMaxMs: optionDefault("script-time-max-ms"),
    writesInFlightMax: optionDefault("writes-in-flight-max"),
    drainTimeoutMs: optionDefault("drain-timeout-ms"),
    publishMaxAgeMs: optionDefault("publish-max-age-ms"),
    digestKeysPerSecond: optionDefault("digest-keys-per-second"),
    logSegmentBytes: optionDefault("log-segment-bytes"),
    logRetentionBytes: optionDefault("log-retention-bytes"),
    logRetentionMs: optionDefault("log-retention-ms"),
    clientOutputBufferLimit: optionDefault("client-output-buffer-limit"),
    clientMemoryBudget: optionDefault("client-memory-budget"),
    protectedMode: optionDefault("protected-mode"),
  };
  for (const [field, value] of Object.entries(expected)) {
    assert.deepEqual(c[field as keyof Config], value, field);
  }
  assert.equal(c.logRetentionMs, 7 * 24 * 3_600_000);
  assert.equal(c.clientOutputBufferLimit, 64 * 1024 ** 2);
});

/**
 * Every option, one value each: what a flag, a variable and a file key give
 * it, and the field of the configuration it sets. Options that need others
 * (a Sentinel needs a master; peers need a secret) bring them as `with`.
 */
const TABLE: {
  option: OptionName;
  text: string;
  /** The same value as a JSON file would hold it, when not the text. */
  json?: unknown;
  field: keyof Config;
  expected: unknown;
  with?: Record<string, string>;
}[] = [
  {
    option: "listen",
    text: "0.0.0.0:7000",
    field: "listen",
    expected: { host: "0.0.0.0", port: 7000 },
  },
  {
    option: "redis",
    text: "redis://10.0.0.9:6390",
    field: "redis",
    expected: { kind: "direct", host: "10.0.0.9", port: 6390, access: {} },
  },
  {
    option: "sentinel",
    text: "s1:26379,s2:26380",
    json: ["s1:26379", "s2:26380"],
    field: "redis",
    expected: {
      kind: "sentinel",
      sentinels: [{ host: "s1", port: 26379 }, { host: "s2", port: 26380 }],
      master: "m",
      access: {},
      sentinelAccess: {},
    },
    with: { master: "m" },
  },
  {
    option: "master",
    text: "mymaster",
    field: "redis",
    expected: {
      kind: "sentinel",
      sentinels: [{ host: "s", port: 1 }],
      master: "mymaster",
      access: {},
      sentinelAccess: {},
    },
    with: { sentinel: "s:1" },
  },
  ...(["tls-listen", "tls-cert", "tls-key"] as const).map((option) => ({
    option,
    text: option === "tls-listen" ? "0.0.0.0:6390" : `/etc/${option}.pem`,
    field: "tls" as const,
    expected: {
      listen: { host: "0.0.0.0", port: 6390 },
      certFile: "/etc/tls-cert.pem",
      keyFile: "/etc/tls-key.pem",
      caFile: undefined,
      authClients: "no",
    },
    with: Object.fromEntries(
      (["tls-listen", "tls-cert", "tls-key"] as const).filter((o) => o !== option).map((o) => [
        o,
        o === "tls-listen" ? "0.0.0.0:6390" : `/etc/${o}.pem`,
      ]),
    ),
  })),
  ...(["tls-ca", "tls-auth-clients"] as const).map((option) => ({
    option,
    text: option === "tls-ca" ? "/etc/ca.pem" : "optional",
    field: "tls" as const,
    expected: {
      listen: { host: "0.0.0.0", port: 6390 },
      certFile: "/etc/c.pem",
      keyFile: "/etc/k.pem",
      caFile: "/etc/ca.pem",
      authClients: option === "tls-ca" ? "yes" : "optional",
    },
    with: {
      "tls-listen": "0.0.0.0:6390",
      "tls-cert": "/etc/c.pem",
      "tls-key": "/etc/k.pem",
      ...(option === "tls-ca" ? {} : { "tls-ca": "/etc/ca.pem" }),
    },
  })),
  ...(["peer-tls-cert", "peer-tls-key", "peer-tls-ca"] as const).map((option) => ({
    option,
    text: "/run/secrets/pw",
    field: "peerTls" as const,
    expected: { cert: "s3cret\n", key: "s3cret\n", ca: "s3cret\n" },
    with: Object.fromEntries(
      (["peer-tls-cert", "peer-tls-key", "peer-tls-ca"] as const).filter((o) => o !== option).map((
        o,
      ) => [o, "/run/secrets/pw"]),
    ),
  })),
  ...(["kafka-tls", "kafka-tls-ca", "kafka-tls-cert", "kafka-tls-key"] as const).map((option) => ({
    option,
    text: option === "kafka-tls" ? "yes" : "/run/secrets/pw",
    json: option === "kafka-tls" ? true : "/run/secrets/pw",
    field: "log" as const,
    expected: {
      kind: "kafka",
      brokers: [{ host: "k", port: 9092 }],
      topic: "t",
      security: {
        tls: option === "kafka-tls"
          ? {}
          : option === "kafka-tls-ca"
          ? { ca: "s3cret\n" }
          : { cert: "s3cret\n", key: "s3cret\n" },
      },
    },
    with: {
      log: "kafka://k:9092/t",
      ...(option === "kafka-tls" ? {} : { "kafka-tls": "yes" }),
      ...(option === "kafka-tls-cert" ? { "kafka-tls-key": "/run/secrets/pw" } : {}),
      ...(option === "kafka-tls-key" ? { "kafka-tls-cert": "/run/secrets/pw" } : {}),
    },
  })),
  ...(["kafka-sasl", "kafka-user", "kafka-password", "kafka-password-file"] as const).map((
    option,
  ) => ({
    option,
    text: option === "kafka-sasl"
      ? "scram-sha-256"
      : option === "kafka-user"
      ? "pylon"
      : option === "kafka-password"
      ? "s3cret"
      : "/run/secrets/pw",
    field: "log" as const,
    expected: {
      kind: "kafka",
      brokers: [{ host: "k", port: 9092 }],
      topic: "t",
      security: { sasl: { mechanism: "scram-sha-256", username: "pylon", password: "s3cret" } },
    },
    with: {
      log: "kafka://k:9092/t",
      ...(option === "kafka-sasl" ? {} : { "kafka-sasl": "scram-sha-256" }),
      ...(option === "kafka-user" ? {} : { "kafka-user": "pylon" }),
      ...(option === "kafka-password" || option === "kafka-password-file"
        ? {}
        : { "kafka-password": "s3cret" }),
    },
  })),
  {
    option: "redis-user",
    text: "pylon",
    field: "redis",
    expected: { kind: "direct", host: "127.0.0.1", port: 6379, access: { username: "pylon" } },
  },
  {
    option: "redis-password",
    text: "rpw",
    field: "redis",
    expected: { kind: "direct", host: "127.0.0.1", port: 6379, access: { password: "rpw" } },
  },
  {
    option: "redis-password-file",
    text: "/run/secrets/pw",
    field: "redis",
    expected: { kind: "direct", host: "127.0.0.1", port: 6379, access: { password: "s3cret" } },
  },
  {
    option: "redis-tls",
    text: "yes",
    json: true,
    field: "redis",
    expected: { kind: "direct", host: "127.0.0.1", port: 6379, access: { tls: {} } },
  },
  {
    option: "redis-tls-ca",
    text: "/run/secrets/pw",
    field: "redis",
    expected: {
      kind: "direct",
      host: "127.0.0.1",
      port: 6379,
      access: { tls: { ca: "s3cret\n" } },
    },
    with: { "redis-tls": "yes" },
  },
  {
    option: "redis-tls-cert",
    text: "/run/secrets/pw",
    field: "redis",
    expected: {
      kind: "direct",
      host: "127.0.0.1",
      port: 6379,
      access: { tls: { cert: "s3cret\n", key: "s3cret\n" } },
    },
    with: { "redis-tls": "yes", "redis-tls-key": "/run/secrets/pw" },
  },
  {
    option: "redis-tls-key",
    text: "/run/secrets/pw",
    field: "redis",
    expected: {
      kind: "direct",
      host: "127.0.0.1",
      port: 6379,
      access: { tls: { cert: "s3cret\n", key: "s3cret\n" } },
    },
    with: { "redis-tls": "yes", "redis-tls-cert": "/run/secrets/pw" },
  },
  ...(["sentinel-user", "sentinel-password", "sentinel-password-file", "sentinel-tls"] as const)
    .map((option) => ({
      option,
      text: option === "sentinel-tls" ? "yes" : option.endsWith("file") ? "/run/secrets/pw" : "x",
      field: "redis" as const,
      expected: {
        kind: "sentinel",
        sentinels: [{ host: "s", port: 1 }],
        master: "m",
        access: {},
        sentinelAccess: option === "sentinel-tls"
          ? { tls: {} }
          : option === "sentinel-user"
          ? { username: "x" }
          : { password: option.endsWith("file") ? "s3cret" : "x" },
      },
      with: { sentinel: "s:1", master: "m" },
    })),
  {
    option: "log",
    text: "kafka://k1:9092/pylon",
    field: "log",
    expected: {
      kind: "kafka",
      brokers: [{ host: "k1", port: 9092 }],
      topic: "pylon",
      security: {},
    },
  },
  { option: "data-dir", text: "/var/lib/pylon", field: "dataDir", expected: "/var/lib/pylon" },
  { option: "node-id", text: "east-1", field: "nodeId", expected: "east-1" },
  { option: "rack", text: "east", field: "rack", expected: "east" },
  { option: "max-clients", text: "77", json: 77, field: "clientsMax", expected: 77 },
  {
    option: "peer-listen",
    text: "10.0.0.1:7380",
    field: "peerListen",
    expected: { host: "10.0.0.1", port: 7380 },
    with: { "world-secret": SECRET },
  },
  {
    option: "peer",
    text: "w1@west@10.1.0.1:7380,w2@west@10.1.0.2:7380",
    json: ["w1@west@10.1.0.1:7380", { id: "w2", rack: "west", address: "10.1.0.2:7380" }],
    field: "peers",
    expected: [
      { id: "w1", rack: "west", address: { host: "10.1.0.1", port: 7380 } },
      { id: "w2", rack: "west", address: { host: "10.1.0.2", port: 7380 } },
    ],
    with: { "world-secret": SECRET },
  },
  { option: "world-secret", text: SECRET, field: "worldSecret", expected: SECRET },
  { option: "join", text: "true", json: true, field: "join", expected: true },
  { option: "raft-tick-ms", text: "50", json: 50, field: "raftTickMs", expected: 50 },
  { option: "partitions", text: "4", json: 4, field: "partitions", expected: 4 },
  { option: "applier", text: "off", json: false, field: "applier", expected: false },
  { option: "rebuild", text: "manual", field: "rebuild", expected: "manual" },
  {
    option: "ack-log",
    text: "SET,mset",
    json: ["SET", "mset"],
    field: "ackLog",
    expected: ["set", "mset"],
  },
  { option: "meta-db", text: "31", json: 31, field: "metaDb", expected: 31 },
  { option: "write-timeout-ms", text: "2500", json: 2500, field: "writeTimeoutMs", expected: 2500 },
  {
    option: "script-time-max-ms",
    text: "500",
    json: 500,
    field: "scriptTimeMaxMs",
    expected: 500,
  },
  {
    option: "admin-listen",
    text: "127.0.0.1:9121",
    json: "127.0.0.1:9121",
    field: "adminListen",
    expected: { host: "127.0.0.1", port: 9121 },
  },
  {
    option: "log-segment-bytes",
    text: "1mb",
    json: "1mb",
    field: "logSegmentBytes",
    expected: 1024 * 1024,
  },
  {
    option: "log-retention-bytes",
    text: "2mb",
    json: "2mb",
    field: "logRetentionBytes",
    expected: 2 * 1024 * 1024,
  },
  {
    option: "log-retention-ms",
    text: "60000",
    json: 60000,
    field: "logRetentionMs",
    expected: 60000,
  },
  {
    option: "drain-timeout-ms",
    text: "2000",
    json: 2000,
    field: "drainTimeoutMs",
    expected: 2000,
  },
  {
    option: "contentious",
    text: "lock:*,balance:*",
    json: "lock:*,balance:*",
    field: "contentious",
    expected: ["lock:*", "balance:*"],
  },
  {
    option: "strong-quorum",
    text: "all",
    json: "all",
    field: "strongQuorum",
    expected: "all",
  },
  {
    option: "max-subscribers",
    text: "10",
    json: 10,
    field: "subscribersMax",
    expected: 10,
  },
  {
    option: "publish-max-age-ms",
    text: "1000",
    json: 1000,
    field: "publishMaxAgeMs",
    expected: 1000,
  },
  {
    option: "digest-keys-per-second",
    text: "0",
    json: 0,
    field: "digestKeysPerSecond",
    expected: 0,
  },
  {
    option: "writes-in-flight-max",
    text: "5000",
    json: 5000,
    field: "writesInFlightMax",
    expected: 5000,
  },
  {
    option: "client-output-buffer-limit",
    text: "32mb",
    field: "clientOutputBufferLimit",
    expected: 32 * 1024 * 1024,
  },
  {
    option: "client-memory-budget",
    text: "2gb",
    field: "clientMemoryBudget",
    expected: 2 * 1024 ** 3,
  },
  { option: "requirepass", text: "pw", field: "requirepass", expected: "pw" },
  { option: "requirepass-file", text: "/run/secrets/pw", field: "requirepass", expected: "s3cret" },
  {
    option: "user",
    text: "app on >pw ~app:* +@read;ops on >pw2 +@all",
    json: ["app on >pw ~app:* +@read", "ops on >pw2 +@all"],
    field: "users",
    expected: ["app on >pw ~app:* +@read", "ops on >pw2 +@all"],
  },
  { option: "protected-mode", text: "no", json: false, field: "protectedMode", expected: false },
  {
    option: "world-secret-file",
    text: "/run/secrets/pw",
    field: "worldSecret",
    expected: "s3cret",
  },
  { option: "log-level", text: "debug", field: "logLevel", expected: "debug" },
  { option: "log-format", text: "json", field: "logFormat", expected: "json" },
];

Deno.test("every option is read alike from a flag, a PYLON_* variable and the file", () => {
  assert.deepEqual(
    [...new Set(TABLE.map((row) => row.option))].sort(),
    [...OPTION_NAMES].sort(),
    "the table covers every option",
  );
  for (const row of TABLE) {
    const withFlags = Object.entries(row.with ?? {}).flatMap(([k, v]) => [`--${k}`, v]);
    const fromFlag = config([`--${row.option}`, row.text, ...withFlags]);
    const fromEnv = config([], {
      [envName(row.option)]: row.text,
      ...Object.fromEntries(
        Object.entries(row.with ?? {}).map(([k, v]) => [envName(k as OptionName), v]),
      ),
    });
    const fromFile = config([], {}, { [row.option]: row.json ?? row.text, ...row.with });
    for (const [source, c] of [["flag", fromFlag], ["env", fromEnv], ["file", fromFile]] as const) {
      assert.deepEqual(c[row.field], row.expected, `${row.option} from the ${source}`);
    }
  }
});

Deno.test("--sentinel on the command line overrides PYLON_REDIS (and the other way round)", () => {
  const c = config(["--sentinel", "s:1", "--master", "m"], { PYLON_REDIS: "redis://r:1" });
  assert.equal(c.redis.kind, "sentinel");
  const d = config(["--redis", "redis://r:2"], { PYLON_SENTINEL: "s:1", PYLON_MASTER: "m" });
  assert.deepEqual(d.redis, { kind: "direct", host: "r", port: 2, access: {} });
  const e = config([], { PYLON_REDIS: "redis://r:3" }, { sentinel: "s:1", master: "m" });
  assert.deepEqual(
    e.redis,
    { kind: "direct", host: "r", port: 3, access: {} },
    "the environment beats the file",
  );
});

Deno.test("a Redis URL carries credentials and TLS; descriptions never show the password", () => {
  const c = config(["--redis", "rediss://app:p%40ss@r:6390"]);
  assert.deepEqual(c.redis, {
    kind: "direct",
    host: "r",
    port: 6390,
    access: { username: "app", password: "p@ss", tls: {} },
  });
  assert.equal(describeRedis(c.redis), "rediss://app:***@r:6390");
  assert.deepEqual(config(["--redis", "redis://:pw@r:1"]).redis, {
    kind: "direct",
    host: "r",
    port: 1,
    access: { password: "pw" },
  });
  assert.throws(
    () => config(["--redis", "redis://u:secret@"]),
    (e: unknown) => e instanceof ConfigError && !e.message.includes("secret"),
  );
});

Deno.test("parseConfig() refuses contradictory or malformed options with the option's name", () => {
  const cases: [string[], RegExp][] = [
    [["--sentinel", "a:1"], /--sentinel needs --master/],
    [
      ["--redis", "redis://a:1", "--sentinel", "b:2", "--master", "m"],
      /either --redis or --sentinel/,
    ],
    [["--master", "m"], /--master only makes sense with --sentinel/],
    [["--listen", "6380"], /--listen must be host:port/],
    [["--listen", "a:70000"], /outside 1-65535/],
    [["--log", "kafka://a:1"], /--log must be/],
    [["--log-level", "loud"], /--log-level/],
    [["--bogus"], /bogus/],
    [["--rack"], /--rack needs a value/],
    [["--rack", "a", "--rack", "b"], /--rack is given more than once/],
    [["stray"], /Unexpected argument 'stray'/],
    [["--max-clients", "-1"], /--max-clients must be an integer/],
    [["--node-id", "a b"], /--node-id must be/],
    [["--rebuild", "sometimes"], /--rebuild must be auto or manual/],
  ];
  for (const [args, message] of cases) {
    assert.throws(
      () => parseConfig(args, {}),
      (e: unknown) => e instanceof ConfigError && message.test(e.message),
      args.join(" "),
    );
  }
});

Deno.test("parseConfig() refuses unknown keys, bad values, bad peers and peer links without a secret", () => {
  const read = (text: string) => () => text;
  assert.throws(
    () => parseConfig(["--config", "x"], {}, read('{"lisen": "a:1"}')),
    /Unknown option 'lisen'/,
  );
  assert.throws(() => parseConfig(["--config", "x"], {}, read("[1]")), /JSON object/);
  assert.throws(() => parseConfig(["--config", "x"], {}, read("{")), /Cannot read configuration/);
  assert.throws(
    () => parseConfig(["--config", "x"], {}, read('{"join": 3}')),
    /'join' in 'x' must be true or false/,
  );
  assert.throws(
    () => parseConfig(["--config", "x"], {}, read('{"rack": ["a"]}')),
    /'rack' in 'x' cannot be a list/,
  );
  assert.throws(() => parseConfig(["--peer", "a@b"], {}), /--peer must be id@rack@host:port/);
  assert.throws(() => parseConfig(["--peer", "a@b@h:1"], {}), /need --world-secret/);
  const ok = parseConfig(["--peer", "a@b@h:1", "--peer", "c@d@h:2"], {
    PYLON_WORLD_SECRET: SECRET,
  });
  assert.ok(ok.kind === "run" && ok.config.peers.length === 2);
  const fromEnv = parseConfig([], { PYLON_PEER: "a@b@h:1,c@d@h:2", PYLON_WORLD_SECRET: SECRET });
  assert.ok(fromEnv.kind === "run" && fromEnv.config.peers.length === 2, "PYLON_PEER is read");
});

Deno.test("TLS material is read alike for Redis, its Sentinels and Kafka, with the same refusals", () => {
  const pems: Record<string, string> = { "/ca": "CA", "/cert": "CERT", "/key": "KEY" };
  const read = (path: string) => {
    const text = pems[path];
    if (text === undefined) throw new Error("No such file");
    return text;
  };
  const parse = (args: string[]) => {
    const parsed = parseConfig(args, {}, read);
    if (parsed.kind !== "run") throw new Error("not a run");
    return parsed.config;
  };
  const material = { ca: "CA", cert: "CERT", key: "KEY" };
  const files = (server: string) => [
    `--${server}-tls-ca`,
    "/ca",
    `--${server}-tls-cert`,
    "/cert",
    `--${server}-tls-key`,
    "/key",
  ];
  const sentinel = parse([
    "--sentinel",
    "s:1",
    "--master",
    "m",
    "--sentinel-tls",
    ...files("redis"),
  ]);
  assert.ok(sentinel.redis.kind === "sentinel");
  assert.deepEqual(sentinel.redis.sentinelAccess.tls, material);
  assert.equal(sentinel.redis.access.tls, undefined, "the master without --redis-tls: plain");
  const kafka = parse(["--log", "kafka://k:9092/t", "--kafka-tls", ...files("kafka")]);
  assert.ok(kafka.log.kind === "kafka");
  assert.deepEqual(kafka.log.security.tls, material);
  for (const server of ["redis", "kafka"]) {
    const target = server === "redis"
      ? ["--redis", "rediss://r:1"]
      : ["--log", "kafka://k:9092/t", "--kafka-tls"];
    assert.throws(
      () => parse([...target, `--${server}-tls-cert`, "/cert"]),
      new RegExp(`--${server}-tls-cert and --${server}-tls-key go together`),
    );
    assert.throws(
      () => parse([...target, `--${server}-tls-ca`, "/missing"]),
      new RegExp(`--${server}-tls-ca: cannot read '/missing'`),
    );
  }
});
