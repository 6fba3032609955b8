/**
 * Finds import cycles in the repository's own TypeScript, and exits non-zero
 * listing each one (part of `deno task check`).
 *
 * The module graph comes from `deno info --json` of one generated root that
 * imports every `.ts` file of the repository, so it is the graph Deno itself
 * resolves: static imports, re-exports, dynamic imports with a literal
 * specifier and type-only imports (a type import ties two modules as tightly
 * for the compiler and the reader as any other). Two kinds of cycle count:
 *
 * - between modules: each strongly connected component of the graph, printed
 *   as shortest cycles through it until every one of its modules is shown;
 * - between the repository's parts (see {@linkcode partOf}): the product
 *   (`main.ts`, `mod.ts`, `src/`), the test harness, the tests, `tools/` and
 *   `bench/` must import each other in one direction only, even where no two
 *   modules import each other.
 *
 * Usage: `deno run --allow-read --allow-write --allow-run tools/import_cycles.ts [root]`.
 */

import { join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** Each module (its path from the repository's root, with `/`) and the modules it imports. */
export type ModuleGraph = Map<string, Set<string>>;

/** A cycle between parts, with the imports that make each of its steps. */
export interface PartCycle {
  cycle: string[];
  /** One `a.ts imports b.ts` per step of the cycle. */
  because: string[];
}

/** What {@linkcode findCycles} found: cycles whose first module is also their last. */
export interface Cycles {
  modules: string[][];
  parts: PartCycle[];
}

/** Folders the walk never enters: provisioned tools, build output, dependencies. */
const SKIPPED_DIRS = new Set(["node_modules", "dist"]);

/**
 * The part of the repository a module belongs to. A `_test.ts` file belongs to
 * the tests wherever it lives: a unit test beside its module may use the test
 * harness.
 */
export function partOf(path: string): string {
  if (path.endsWith("_test.ts")) return "tests";
  if (path.startsWith("tests/harness/")) return "tests/harness";
  if (path.startsWith("tests/")) return "tests";
  if (path.startsWith("tools/")) return "tools";
  if (path.startsWith("bench/")) return "bench";
  return "src";
}

/** Every import cycle of `graph`, between modules and between parts. */
export function findCycles(graph: ModuleGraph): Cycles {
  const modules = tangles(graph).flatMap((members) => coveringCycles(graph, members));

  const parts: ModuleGraph = new Map();
  const example = new Map<string, string>();
  for (const [from, imports] of graph) {
    for (const to of imports) {
      const a = partOf(from);
      const b = partOf(to);
      if (a === b) continue;
      if (!parts.has(a)) parts.set(a, new Set());
      parts.get(a)!.add(b);
      if (!example.has(`${a} ${b}`)) example.set(`${a} ${b}`, `${from} imports ${to}`);
    }
  }
  const partCycles = tangles(parts).flatMap((members) => coveringCycles(parts, members)).map(
    (cycle) => ({
      cycle,
      because: cycle.slice(1).map((to, i) => example.get(`${cycle[i]} ${to}`)!),
    }),
  );
  return { modules, parts: partCycles };
}

/**
 * The strongly connected components that hold a cycle (two modules or more,
 * or one that imports itself), each sorted, in the order of their first
 * module. Tarjan's algorithm, iterative so that no graph is too deep for it.
 */
export function tangles(graph: ModuleGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const nodes = [...new Set([...graph.keys(), ...[...graph.values()].flatMap((s) => [...s])])]
    .sort();
  for (const start of nodes) {
    if (index.has(start)) continue;
    const work: { node: string; next: Iterator<string> }[] = [];
    const visit = (node: string) => {
      index.set(node, index.size);
      low.set(node, index.get(node)!);
      stack.push(node);
      onStack.add(node);
      work.push({ node, next: [...(graph.get(node) ?? [])].sort()[Symbol.iterator]() });
    };
    visit(start);
    while (work.length > 0) {
      const top = work[work.length - 1]!;
      const step = top.next.next();
      if (!step.done) {
        const to = step.value;
        if (!index.has(to)) visit(to);
        else if (onStack.has(to)) low.set(top.node, Math.min(low.get(top.node)!, index.get(to)!));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined) {
        low.set(parent.node, Math.min(low.get(parent.node)!, low.get(top.node)!));
      }
      if (low.get(top.node) !== index.get(top.node)) continue;
      const members: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        members.push(member);
      } while (member !== top.node);
      if (members.length > 1 || graph.get(top.node)?.has(top.node)) found.push(members.sort());
    }
  }
  return found.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** Shortest cycles through a tangle's members, until each member is on one of them. */
export function coveringCycles(graph: ModuleGraph, members: string[]): string[][] {
  const within = new Set(members);
  const shown = new Set<string>();
  const cycles: string[][] = [];
  for (const member of members) {
    if (shown.has(member)) continue;
    const cycle = shortestCycle(graph, member, within);
    for (const node of cycle) shown.add(node);
    cycles.push(cycle);
  }
  return cycles;
}

/** A shortest cycle from `start` back to it through `members` only (breadth first). */
export function shortestCycle(graph: ModuleGraph, start: string, members: Set<string>): string[] {
  const cameFrom = new Map<string, string>();
  let frontier = [start];
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const node of frontier) {
      for (const to of [...(graph.get(node) ?? [])].sort()) {
        if (!members.has(to)) continue;
        if (to === start) {
          const path = [node];
          while (path[0] !== start) path.unshift(cameFrom.get(path[0]!)!);
          return [...path, start];
        }
        if (cameFrom.has(to)) continue;
        cameFrom.set(to, node);
        next.push(to);
      }
    }
    frontier = next;
  }
  throw new Error(`No cycle through '${start}' within its component`);
}

/** Every `.ts` file under `root` (paths from it, with `/`), outside hidden and skipped folders. */
export async function sourceFiles(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.name.startsWith(".")) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory && !SKIPPED_DIRS.has(entry.name)) await walk(path);
      else if (entry.isFile && entry.name.endsWith(".ts")) found.push(relative(root, path));
    }
  };
  await walk(root);
  return found.map((p) => p.split("\\").join("/")).sort();
}

/**
 * The module graph of every `.ts` file under `root`, as `deno info` resolves
 * it (with `root`'s deno.json, if any). Imports of anything else (npm, node:,
 * files outside `root`) are left out.
 */
export async function readModuleGraph(root: string): Promise<ModuleGraph> {
  const files = await sourceFiles(root);
  const byUrl = new Map(files.map((f) => [pathToFileURL(join(root, f)).href, f]));
  const entry = await Deno.makeTempFile({ prefix: "import_cycles_", suffix: ".ts" });
  try {
    await Deno.writeTextFile(entry, [...byUrl.keys()].map((u) => `import "${u}";\n`).join(""));
    const config = join(root, "deno.json");
    const hasConfig = await Deno.stat(config).then(() => true, () => false);
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", ...(hasConfig ? ["--config", config] : []), entry],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) {
      throw new Error(`deno info failed: ${new TextDecoder().decode(output.stderr).trim()}`);
    }
    const info = JSON.parse(new TextDecoder().decode(output.stdout)) as DenoInfo;
    const graph: ModuleGraph = new Map(files.map((f) => [f, new Set()]));
    for (const module of info.modules) {
      const from = byUrl.get(module.specifier);
      if (from === undefined) continue;
      if (module.error !== undefined) throw new Error(`${from}: ${module.error}`);
      for (const dependency of module.dependencies ?? []) {
        for (const resolved of [dependency.code, dependency.type]) {
          const to = resolved?.specifier === undefined ? undefined : byUrl.get(resolved.specifier);
          if (to !== undefined) graph.get(from)!.add(to);
        }
      }
    }
    return graph;
  } finally {
    await Deno.remove(entry);
  }
}

/** The part of `deno info --json` read here. */
interface DenoInfo {
  modules: {
    specifier: string;
    error?: string;
    dependencies?: { code?: { specifier?: string }; type?: { specifier?: string } }[];
  }[];
}

/** The report's lines, and whether it found any cycle. */
export function report(graph: ModuleGraph, cycles: Cycles): { lines: string[]; clean: boolean } {
  const lines: string[] = [];
  for (const cycle of cycles.modules) lines.push(`import cycle: ${cycle.join(" -> ")}`);
  for (const { cycle, because } of cycles.parts) {
    lines.push(`import cycle between parts: ${cycle.join(" -> ")}`);
    for (const step of because) lines.push(`  ${step}`);
  }
  const found = cycles.modules.length + cycles.parts.length;
  const imports = [...graph.values()].reduce((n, s) => n + s.size, 0);
  lines.push(
    found === 0
      ? `import_cycles: no cycles among ${graph.size} modules (${imports} imports) or between their parts`
      : `import_cycles: ${found} cycle${found === 1 ? "" : "s"} among ${graph.size} modules`,
  );
  return { lines, clean: found === 0 };
}

async function main(args: string[]): Promise<number> {
  const root = args[0] ?? fileURLToPath(new URL("..", import.meta.url));
  const graph = await readModuleGraph(root);
  const { lines, clean } = report(graph, findCycles(graph));
  for (const line of lines) (clean ? console.log : console.error)(line);
  return clean ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
