import assert from "node:assert/strict";
import { parseConfig } from "./parse.ts";
import { configChanges } from "./changes.ts";

function config(args: string[]) {
  const parsed = parseConfig(args, {});
  if (parsed.kind !== "run") throw new Error("not a run");
  return parsed.config;
}

Deno.test("a reload takes tuning options and names those that need a restart", () => {
  const base = ["--redis", "redis://127.0.0.1:6379", "--log-level", "info"];
  const current = config(base);
  assert.deepEqual(configChanges(current, config(base), { peerLinks: false }), {
    live: [],
    restart: [],
  });
  const next = config([
    "--redis",
    "redis://127.0.0.1:7000",
    "--log-level",
    "debug",
    "--ack-log",
    "set",
    "--write-timeout-ms",
    "500",
  ]);
  const changes = configChanges(current, next, { peerLinks: false });
  assert.deepEqual(changes.live.sort(), ["ackLog", "logLevel", "writeTimeoutMs"]);
  assert.deepEqual(changes.restart, ["redis"]);
});

Deno.test("peers change live on a node with peer links, at a restart on one without", () => {
  const base = ["--redis", "redis://127.0.0.1:6379", "--world-secret", "a-secret-of-16-chars"];
  const current = config([...base, "--peer", "b@east@127.0.0.1:7001"]);
  const next = config([...base, "--peer", "b@east@127.0.0.1:7002"]);
  assert.deepEqual(configChanges(current, next, { peerLinks: true }), {
    live: ["peers"],
    restart: [],
  });
  assert.deepEqual(configChanges(current, next, { peerLinks: false }), {
    live: [],
    restart: ["peers"],
  });
});
