/**
 * `deno task bench <name>`: side-by-side benchmarks of Pylon against direct
 * Redis (and twemproxy) in one run, printing ratios.
 */

import { benchRead } from "./read.ts";
import { benchWrite } from "./write.ts";
import { benchWorld } from "./world.ts";
import { benchDivergence } from "./divergence.ts";
import { benchQueue } from "./queue.ts";
import { benchRebuild } from "./rebuild.ts";

const BENCHES: Record<string, () => Promise<void>> = {
  read: benchRead,
  write: benchWrite,
  world: benchWorld,
  divergence: benchDivergence,
  queue: benchQueue,
  rebuild: benchRebuild,
};

const name = Deno.args[0];
const bench = name === undefined ? undefined : BENCHES[name];
if (bench === undefined) {
  console.error(`usage: deno task bench <${Object.keys(BENCHES).join("|")}>`);
  Deno.exit(2);
}
await bench();
