/**
 * The applier simulation in the unit suite: a slice of seeds (all 10,000 run
 * with `deno task sim:applier`), replay, and the planted bugs it must catch.
 */

import assert from "node:assert/strict";
import { describeFailure, runApplierSim } from "./scenario.ts";
import { MUTANTS, plant } from "./mutants.ts";

const SLICE = Number(Deno.env.get("PYLON_SIM_SLICE") ?? 60);

Deno.test(`the applier simulation holds every promise over ${SLICE} seeds`, async () => {
  for (let seed = 1; seed <= SLICE; seed++) {
    const report = await runApplierSim(seed);
    assert.equal(report.violation, undefined, describeFailure(report).join("\n"));
    assert.ok(report.writes > 0 && report.acknowledged > 0, `seed ${seed} wrote nothing`);
  }
});

Deno.test("a seed replays exactly", async () => {
  const [a, b] = [
    await runApplierSim(7, { traceLines: 50 }),
    await runApplierSim(7, { traceLines: 50 }),
  ];
  assert.deepEqual(a, b);
});

for (const mutant of MUTANTS) {
  Deno.test(`the simulation catches the planted bug "${mutant.name}"`, async () => {
    const run = await plant(mutant);
    for (let seed = 1; seed <= 200; seed++) {
      const report = await run(seed);
      if (report.violation !== undefined) {
        console.log(`${mutant.name}: caught by seed ${seed}: ${report.violation}`);
        return;
      }
    }
    assert.fail(`200 seeds passed with the bug "${mutant.name}" planted`);
  });
}
