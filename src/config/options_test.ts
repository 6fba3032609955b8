import assert from "node:assert/strict";
import { OPTION_NAMES, optionDefault, USAGE } from "./options.ts";

Deno.test("--help lists every option", () => {
  for (const option of OPTION_NAMES) assert.match(USAGE, new RegExp(`--${option}\\b`));
  assert.match(USAGE, /--version/);
});

Deno.test("--help shows each default from the table, in the option's own units and words", () => {
  const line = (option: string) => USAGE.split("\n").find((l) => l.includes(`--${option} `)) ?? "";
  assert.match(line("max-clients"), /client connections accepted at once \(default 10000\)$/);
  assert.match(line("listen"), /\(default 127\.0\.0\.1:6380\)$/);
  assert.match(line("client-output-buffer-limit"), /\(default 64mb\)$/);
  assert.match(line("log-retention-bytes"), /\(default 1gb\)$/);
  assert.match(line("log-retention-ms"), /\(default 7 days\)$/);
  assert.match(line("applier"), /\(default on\)$/, "on|off speaks of on");
  assert.match(line("protected-mode"), /\(default yes\)$/, "yes|no speaks of yes");
  assert.doesNotMatch(line("join"), /default/, "a boolean without a default is off, unsaid");
  for (const option of OPTION_NAMES) {
    const defaults = line(option).match(/\(default/g) ?? [];
    assert.ok(defaults.length <= 1, `--${option} states one default at most`);
  }
});

Deno.test("optionDefault() gives the table's default", () => {
  assert.equal(optionDefault("max-clients"), 10_000);
  assert.equal(optionDefault("client-memory-budget"), 1024 ** 3);
  assert.equal(optionDefault("protected-mode"), true);
  assert.equal(optionDefault("data-dir"), "./pylon-data");
});
