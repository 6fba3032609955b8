import assert from "node:assert/strict";
import { rebuildCommand } from "./command.ts";

const argv = (...words: string[]) => words.map((w) => new TextEncoder().encode(w));

Deno.test("PYLON REBUILD FROM <rack> asks the rebuilder and answers its words", async () => {
  const asked: string[] = [];
  const rebuilds = {
    request: (rack: string) => {
      asked.push(rack);
      return rack === "b" ? { ok: "Rebuilding rack 'a' from rack 'b'" } : { error: "ERR no rack" };
    },
  };
  assert.deepEqual(await rebuildCommand(rebuilds, argv("PYLON", "rebuild", "from", "b")), {
    type: "simple",
    value: "Rebuilding rack 'a' from rack 'b'",
  });
  assert.deepEqual(await rebuildCommand(rebuilds, argv("PYLON", "REBUILD", "FROM", "z")), {
    type: "error",
    value: "ERR no rack",
  });
  assert.deepEqual(asked, ["b", "z"]);
});

Deno.test("PYLON REBUILD with other words gets its usage; other subcommands are not its own", async () => {
  const rebuilds = { request: () => ({ ok: "" }) };
  assert.deepEqual(await rebuildCommand(rebuilds, argv("PYLON", "REBUILD", "TO", "b")), {
    type: "error",
    value: "ERR usage: PYLON REBUILD FROM <rack>",
  });
  assert.equal(rebuildCommand(rebuilds, argv("PYLON", "WORLD")), undefined);
  assert.match(
    JSON.stringify(await rebuildCommand(undefined, argv("PYLON", "REBUILD", "FROM", "b"))),
    /no peer links/,
  );
});
