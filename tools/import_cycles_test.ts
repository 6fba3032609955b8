import assert from "node:assert/strict";
import { join } from "node:path";
import { findCycles, type ModuleGraph, partOf, readModuleGraph, report } from "./import_cycles.ts";

/** A graph from `a.ts: b.ts c.ts` lines. */
function graph(...lines: string[]): ModuleGraph {
  const g: ModuleGraph = new Map();
  for (const line of lines) {
    const [from, to = ""] = line.split(":");
    g.set(from!.trim(), new Set(to.trim().split(/\s+/).filter((t) => t !== "")));
  }
  return g;
}

Deno.test("findCycles() finds two modules importing each other, and report() fails on it", () => {
  const g = graph("src/a.ts: src/b.ts", "src/b.ts: src/a.ts src/c.ts", "src/c.ts:");
  const cycles = findCycles(g);
  assert.deepEqual(cycles.modules, [["src/a.ts", "src/b.ts", "src/a.ts"]]);
  assert.deepEqual(cycles.parts, []);
  const { lines, clean } = report(g, cycles);
  assert.equal(clean, false);
  assert.deepEqual(lines, [
    "import cycle: src/a.ts -> src/b.ts -> src/a.ts",
    "import_cycles: 1 cycle among 3 modules",
  ]);
});

Deno.test("findCycles() finds a module importing itself and passes a graph without cycles", () => {
  assert.deepEqual(findCycles(graph("src/a.ts: src/a.ts")).modules, [["src/a.ts", "src/a.ts"]]);
  const tree = graph("main.ts: src/a.ts src/b.ts", "src/a.ts: src/c.ts", "src/b.ts: src/c.ts");
  assert.deepEqual(findCycles(tree), { modules: [], parts: [] });
  assert.equal(report(tree, findCycles(tree)).clean, true);
});

Deno.test("findCycles() shows every module of a tangle on a shortest cycle", () => {
  // a -> b -> c -> a, and c -> d -> c: one tangle, two cycles to show it all.
  const g = graph("a.ts: b.ts", "b.ts: c.ts", "c.ts: a.ts d.ts", "d.ts: c.ts");
  assert.deepEqual(findCycles(g).modules, [
    ["a.ts", "b.ts", "c.ts", "a.ts"],
    ["d.ts", "c.ts", "d.ts"],
  ]);
});

Deno.test("findCycles() finds parts importing each other where no modules do", () => {
  const g = graph(
    "bench/read.ts: tools/provision.ts",
    "tools/provision.ts:",
    "tools/profile.ts: bench/table.ts",
    "bench/table.ts:",
  );
  const cycles = findCycles(g);
  assert.deepEqual(cycles.modules, []);
  assert.deepEqual(cycles.parts, [{
    cycle: ["bench", "tools", "bench"],
    because: [
      "bench/read.ts imports tools/provision.ts",
      "tools/profile.ts imports bench/table.ts",
    ],
  }]);
  assert.equal(report(g, cycles).clean, false);
});

Deno.test("a test file belongs to the tests wherever it lives", () => {
  assert.equal(partOf("src/cluster/world_test.ts"), "tests");
  assert.equal(partOf("tests/harness/wait.ts"), "tests/harness");
  assert.equal(partOf("main.ts"), "src");
  const g = graph(
    "src/cluster/world_test.ts: tests/harness/wait.ts src/cluster/world.ts",
    "tests/harness/pylon.ts: src/resp/encoder.ts",
  );
  assert.deepEqual(findCycles(g), { modules: [], parts: [] });
});

Deno.test("readModuleGraph() takes imports, type imports and re-exports from deno info", async () => {
  const root = await Deno.makeTempDir({ prefix: "import_cycles_test_" });
  try {
    await Deno.mkdir(join(root, "src"));
    await Deno.writeTextFile(
      join(root, "src/a.ts"),
      'import type { B } from "./b.ts";\nexport const a: B | 1 = 1;\n',
    );
    await Deno.writeTextFile(join(root, "src/b.ts"), 'export { C as B } from "./c.ts";\n');
    await Deno.writeTextFile(
      join(root, "src/c.ts"),
      'import { a } from "./a.ts";\nimport "node:path";\nexport type C = typeof a;\n',
    );
    await Deno.writeTextFile(join(root, "src/d.ts"), "export const d = 1;\n");
    const g = await readModuleGraph(root);
    assert.deepEqual(
      Object.fromEntries([...g].map(([from, to]) => [from, [...to]])),
      {
        "src/a.ts": ["src/b.ts"],
        "src/b.ts": ["src/c.ts"],
        "src/c.ts": ["src/a.ts"],
        "src/d.ts": [],
      },
    );
    assert.deepEqual(findCycles(g).modules, [["src/a.ts", "src/b.ts", "src/c.ts", "src/a.ts"]]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
