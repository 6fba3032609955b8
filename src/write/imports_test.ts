import assert from "node:assert/strict";

Deno.test("the write path imports nothing from the applier (the applier imports the write path's map)", async () => {
  const dir = new URL("./", import.meta.url);
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.name.endsWith(".ts")) continue;
    const text = await Deno.readTextFile(new URL(entry.name, dir));
    const reaching = text.split("\n").filter((line) => /from "\.\.\/applier\//.test(line));
    assert.deepEqual(reaching, [], `src/write/${entry.name} imports from src/applier/`);
  }
});
