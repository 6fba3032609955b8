/**
 * Planted bugs for the applier simulation: a copy of `src/` with one change,
 * under `.cache/mutants/` (git-ignored), whose simulation must fail. A
 * simulation that passes with a planted bug checks less than it claims.
 */

import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { ApplierSimReport } from "./scenario.ts";

/** One planted bug: in `file` (under src/), `find` becomes `replace`. */
export interface Mutant {
  name: string;
  file: string;
  find: string;
  replace: string;
}

export const MUTANTS: Mutant[] = [
  {
    // The position fence: without it a racing or deposed applier applies a batch again.
    name: "unfenced-applier",
    file: "applier/batch_plan.ts",
    find: `encodeCommand(["WATCH", positionKey(options.partition)]),`,
    replace: `encodeCommand(["WATCH", "pylon:unfenced"]),`,
  },
  {
    // A reply made up: every write answered +OK as soon as the log holds it.
    name: "ok-once-logged",
    file: "write/write_path.ts",
    find: "if (ackOnLog) answer(REPLY.ok);",
    replace: "answer(REPLY.ok);",
  },
];

const SRC = fileURLToPath(new URL("../../", import.meta.url));

/** Writes the mutant's tree and returns its simulation's entry point. */
export async function plant(mutant: Mutant): Promise<
  (seed: number) => Promise<ApplierSimReport>
> {
  const root = join(SRC, "..", ".cache", "mutants", mutant.name, "src");
  await Deno.remove(root, { recursive: true }).catch(() => {});
  for await (const file of walk(SRC)) {
    const target = join(root, relative(SRC, file));
    await Deno.mkdir(dirname(target), { recursive: true });
    await Deno.copyFile(file, target);
  }
  const path = join(root, mutant.file);
  const text = await Deno.readTextFile(path);
  if (!text.includes(mutant.find)) {
    throw new Error(`mutant ${mutant.name}: "${mutant.find}" is no longer in src/${mutant.file}`);
  }
  await Deno.writeTextFile(path, text.replace(mutant.find, mutant.replace));
  const module = await import(
    pathToFileURL(join(root, "applier", "sim", "scenario.ts")).href
  );
  return (seed) => module.runApplierSim(seed);
}

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* walk(path);
    else if (entry.isFile && entry.name.endsWith(".ts")) yield path;
  }
}
