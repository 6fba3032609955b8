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
