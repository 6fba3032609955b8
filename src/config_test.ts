import assert from "node:assert/strict";
import { ConfigError, parseConfig, parseHostPort } from "./config.ts";

function config(args: string[], env: Record<string, string> = {}) {
  const parsed = parseConfig(args, env, "host1");
  assert.equal(parsed.help, false);
  if (parsed.help) throw new Error("unreachable");
  return parsed.config;
}

Deno.test("parseConfig() gives a single-machine node with no arguments", () => {
  const c = config([]);
  assert.deepEqual(c.listen, { host: "127.0.0.1", port: 6380 });
  assert.deepEqual(c.redis, { kind: "direct", host: "127.0.0.1", port: 6379 });
  assert.deepEqual(c.log, { kind: "local", dir: "./pylon-data/log" });
  assert.equal(c.nodeId, "host1-6380");
  assert.equal(c.rack, "default");
});

Deno.test("parseConfig() reads Sentinel and Kafka targets", () => {
  const c = config([
    "--sentinel",
    "10.0.0.1:26379,10.0.0.2:26379",
    "--master",
    "mymaster",
    "--log",
    "kafka://k1:9092,k2:9093/pylon.world",
  ]);
  assert.deepEqual(c.redis, {
    kind: "sentinel",
    sentinels: [{ host: "10.0.0.1", port: 26379 }, { host: "10.0.0.2", port: 26379 }],
    master: "mymaster",
  });
  assert.deepEqual(c.log, {
    kind: "kafka",
    brokers: [{ host: "k1", port: 9092 }, { host: "k2", port: 9093 }],
    topic: "pylon.world",
  });
});

Deno.test("parseConfig() prefers flags over PYLON_* environment variables", () => {
  const c = config(["--rack", "east"], { PYLON_RACK: "west", PYLON_NODE_ID: "n7" });
  assert.equal(c.rack, "east");
  assert.equal(c.nodeId, "n7");
});

Deno.test("parseConfig() refuses contradictory or malformed options with the option's name", () => {
  const cases: [string[], RegExp][] = [
    [["--sentinel", "a:1"], /--sentinel needs --master/],
    [
      ["--redis", "redis://a:1", "--sentinel", "b:2", "--master", "m"],
      /either --redis or --sentinel/,
    ],
    [["--listen", "6380"], /--listen must be host:port/],
    [["--listen", "a:70000"], /outside 1-65535/],
    [["--log", "kafka://a:1"], /--log must be/],
    [["--log-level", "loud"], /--log-level/],
    [["--bogus"], /bogus/],
  ];
  for (const [args, message] of cases) {
    assert.throws(
      () => parseConfig(args, {}),
      (e: unknown) => e instanceof ConfigError && message.test(e.message),
    );
  }
});

Deno.test("parseConfig() answers --help", () => {
  assert.deepEqual(parseConfig(["--help"], {}), { help: true });
});

Deno.test("parseHostPort() understands bracketed IPv6", () => {
  assert.deepEqual(parseHostPort("[::1]:6380", "x"), { host: "::1", port: 6380 });
});

Deno.test("parseConfig() reads a JSON file under the environment and the flags", () => {
  const files: Record<string, string> = {
    "/etc/pylon.json": JSON.stringify({
      "node-id": "east-1",
      "rack": "east",
      "listen": "0.0.0.0:6380",
      "partitions": 2,
      "world-secret": "0123456789abcdef",
      "peer-listen": "10.0.0.1:7380",
      "peers": [{ id: "west-1", rack: "west", address: "10.0.1.1:7380" }],
    }),
  };
  const parsed = parseConfig(
    ["--config", "/etc/pylon.json", "--listen", "127.0.0.1:7000"],
    {
      PYLON_RACK: "east-2",
    },
    "h",
    (path) => files[path]!,
  );
  assert.equal(parsed.help, false);
  if (parsed.help) return;
  const c = parsed.config;
  assert.equal(c.nodeId, "east-1");
  assert.equal(c.rack, "east-2", "the environment overrides the file");
  assert.deepEqual(c.listen, { host: "127.0.0.1", port: 7000 }, "flags override everything");
  assert.equal(c.partitions, 2);
  assert.deepEqual(c.peers, [{
    id: "west-1",
    rack: "west",
    address: { host: "10.0.1.1", port: 7380 },
  }]);
  assert.deepEqual(c.peerListen, { host: "10.0.0.1", port: 7380 });
});

Deno.test("parseConfig() refuses unknown keys, bad peers and peer links without a secret", () => {
  const read = (text: string) => () => text;
  assert.throws(
    () => parseConfig(["--config", "x"], {}, "h", read('{"lisen": "a:1"}')),
    /Unknown option 'lisen'/,
  );
  assert.throws(() => parseConfig(["--config", "x"], {}, "h", read("[1]")), /JSON object/);
  assert.throws(
    () => parseConfig(["--config", "x"], {}, "h", read("{")),
    /Cannot read configuration file/,
  );
  assert.throws(() => parseConfig(["--peer", "a@b"], {}, "h"), /--peer must be id@rack@host:port/);
  assert.throws(() => parseConfig(["--peer", "a@b@h:1"], {}, "h"), /need --world-secret/);
  const ok = parseConfig(["--peer", "a@b@h:1", "--peer", "c@d@h:2"], {
    PYLON_WORLD_SECRET: "x".repeat(16),
  });
  assert.ok(!ok.help && ok.config.peers.length === 2);
});
