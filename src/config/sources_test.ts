import assert from "node:assert/strict";
import { parseConfig } from "./parse.ts";
import type { Config } from "./types.ts";

function config(
  args: string[],
  env: Record<string, string> = {},
  file?: Record<string, unknown>,
): Config {
  const parsed = parseConfig(
    file === undefined ? args : ["--config", "/etc/pylon.json", ...args],
    env,
    () => JSON.stringify(file),
  );
  assert.equal(parsed.kind, "run");
  if (parsed.kind !== "run") throw new Error("unreachable");
  return parsed.config;
}

Deno.test("booleans take true/false, 1/0, on/off and yes/no from every source", () => {
  for (const [word, value] of [["true", true], ["1", true], ["on", true], ["yes", true]] as const) {
    assert.equal(config([], { PYLON_JOIN: word }).join, value, `PYLON_JOIN=${word}`);
    assert.equal(config(["--join", word]).join, value, `--join ${word}`);
    assert.equal(config([`--join=${word}`]).join, value, `--join=${word}`);
    assert.equal(config([], {}, { join: word }).join, value, `"join": "${word}"`);
  }
  for (const word of ["false", "0", "off", "no", "OFF"]) {
    assert.equal(config([], { PYLON_APPLIER: word }).applier, false, `PYLON_APPLIER=${word}`);
    assert.equal(config(["--applier", word]).applier, false);
  }
  assert.equal(config(["--join"]).join, true, "a bare boolean flag is true");
  assert.equal(config(["--join", "--rack", "r"]).join, true, "a bare boolean before another flag");
  assert.throws(() => config([], { PYLON_JOIN: "maybe" }), /--join must be true\/false/);
});

Deno.test("per option: a flag beats the environment, which beats the file", () => {
  const file = { rack: "file-rack", "node-id": "file-id", "max-clients": 3 };
  const c = config(
    ["--rack", "flag-rack"],
    { PYLON_RACK: "env-rack", PYLON_NODE_ID: "env-id" },
    file,
  );
  assert.equal(c.rack, "flag-rack");
  assert.equal(c.nodeId, "env-id");
  assert.equal(c.clientsMax, 3);
});

Deno.test("a leading -- (deno task start -- ...) is skipped", () => {
  assert.deepEqual(config(["--", "--listen", "127.0.0.1:7001"]).listen, {
    host: "127.0.0.1",
    port: 7001,
  });
  assert.equal(parseConfig(["--", "--help"], {}).kind, "help");
  assert.equal(parseConfig(["--version"], {}).kind, "version");
});
