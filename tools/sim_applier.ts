/**
 * `deno task sim:applier`: runs seeded simulations of the applier and the
 * write path (src/applier/sim/scenario.ts) and prints a summary; on a failure,
 * the seed, what broke, the last steps and how to replay it.
 *
 * Environment:
 * - `PYLON_SIM_RUNS`: seeds to run (default 10,000), from
 *   `PYLON_SIM_FIRST_SEED` (default 1) up.
 * - `PYLON_SEED`: run only this seed, with a trace of its last steps.
 */

import { describeFailure, runApplierSim } from "../src/applier/sim/scenario.ts";
import { envInteger } from "./env_integer.ts";

const DEFAULT_RUNS = 10_000;
const REPLAY_TRACE_LINES = 200;

async function main(): Promise<number> {
  const only = envInteger("PYLON_SEED");
  const runs = only === undefined ? envInteger("PYLON_SIM_RUNS") ?? DEFAULT_RUNS : 1;
  const first = only ?? envInteger("PYLON_SIM_FIRST_SEED") ?? 1;
  const started = performance.now();
  const totals = { seeds: 0, steps: 0, writes: 0, acknowledged: 0, errors: 0 };
  const faults: Record<string, number> = {};
  let failed = 0;
  for (let i = 0; i < runs; i++) {
    const report = await runApplierSim(first + i, {
      traceLines: only === undefined ? 0 : REPLAY_TRACE_LINES,
    });
    totals.seeds++;
    totals.steps += report.steps;
    totals.writes += report.writes;
    totals.acknowledged += report.acknowledged;
    totals.errors += report.errors;
    for (const [kind, count] of Object.entries(report.faults)) {
      faults[kind] = (faults[kind] ?? 0) + count;
    }
    if (report.violation !== undefined) {
      failed++;
      if (only === undefined) {
        // Replay with a trace, so the report says what led there.
        const traced = await runApplierSim(report.seed, { traceLines: REPLAY_TRACE_LINES });
        for (const line of describeFailure(traced)) console.error(`sim: ${line}`);
        break;
      }
      for (const line of describeFailure(report)) console.error(`sim: ${line}`);
    } else if (only !== undefined) {
      for (const line of report.trace) console.log(`sim: | ${line}`);
      console.log(`sim: seed ${report.seed} passed (${report.steps} steps); ${report.shape}`);
    }
    if (only === undefined && totals.seeds % 500 === 0) {
      console.error(
        `sim: ${totals.seeds} seeds, ${((performance.now() - started) / 1000).toFixed(0)} s`,
      );
    }
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `sim: ${totals.seeds} seeds (${first}..${first + totals.seeds - 1}), ${totals.steps} steps, ` +
      `${totals.writes} writes (${totals.acknowledged} acknowledged, ${totals.errors} errors), ` +
      `${Object.values(faults).reduce((a, b) => a + b, 0)} faults, ${seconds.toFixed(1)} s`,
  );
  console.log(
    `sim: faults ${Object.entries(faults).map(([kind, count]) => `${kind}=${count}`).join(" ")}`,
  );
  console.log(failed === 0 ? "sim: every promise held" : `sim: ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

Deno.exit(await main());
