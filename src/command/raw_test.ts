import assert from "node:assert/strict";
import { loadRawCommands, RAW_REDIS_VERSION } from "./raw.ts";

Deno.test("loadRawCommands() parses the generated table, sorted, every subcommand present", () => {
  const commands = loadRawCommands();
  assert.match(RAW_REDIS_VERSION, /^\d+\.\d+\.\d+$/);
  const names = commands.map((c) => c.name);
  assert.deepEqual(names, [...names].sort());
  assert.equal(new Set(names).size, names.length);
  for (const command of commands) {
    assert.equal(command.name, command.name.toLowerCase());
    assert.ok(command.docs.group.length > 0, command.name);
    for (const sub of command.subcommands) {
      assert.ok(sub.startsWith(`${command.name}|`), sub);
      assert.ok(names.includes(sub), sub);
    }
  }
});

Deno.test("the generated table keeps Redis's text exactly, backticks and backslashes included", () => {
  const georadius = loadRawCommands().find((c) => c.name === "georadius")!;
  assert.equal(
    georadius.docs.replaced_by,
    "`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` argument",
  );
  assert.deepEqual(georadius.flags, ["write", "denyoom", "movablekeys"]);
});
