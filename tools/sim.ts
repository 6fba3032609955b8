/**
 * `deno task sim`: runs seeded simulations of Pylon's Raft (see
 * src/raft/sim/scenario.ts) and prints a summary; on a failure, the seed, the
 * step and how to replay it.
 *
 * Environment:
 * - `PYLON_SIM_RUNS`: scenarios to run (default 10,000), seeds from
 *   `PYLON_SIM_FIRST_SEED` (default 1) up.
 * - `PYLON_SEED`: run only this seed, with a trace of its last steps.
 */

import { describeFailure, runScenario } from "../src/raft/sim/scenario.ts";
import { envInteger } from "./env_integer.ts";

const DEFAULT_RUNS = 10_000;
const REPLAY_TRACE_LINES = 200;

function main(): number {
  const only = envInteger("PYLON_SEED");
  const runs = only === undefined ? envInteger("PYLON_SIM_RUNS") ?? DEFAULT_RUNS : 1;
  const first = only ?? envInteger("PYLON_SIM_FIRST_SEED") ?? 1;
  const started = performance.now();
  const totals = {
    scenarios: 0,
    steps: 0,
    elections: 0,
    commits: 0,
    faults: {} as Record<string, number>,
    events: {} as Record<string, number>,
  };
  let failed = 0;
  for (let i = 0; i < runs; i++) {
    const report = runScenario(first + i, {
      traceLines: only === undefined ? 0 : REPLAY_TRACE_LINES,
    });
    totals.scenarios++;
    totals.steps += report.steps;
    totals.elections += report.elections;
    totals.commits += report.commits;
    for (const [kind, count] of Object.entries(report.faults)) {
      totals.faults[kind] = (totals.faults[kind] ?? 0) + count;
    }
    for (const [kind, count] of Object.entries(report.events)) {
      totals.events[kind] = (totals.events[kind] ?? 0) + count;
    }
    if (report.failure) {
      failed++;
      for (const line of describeFailure(report)) console.error(`sim: ${line}`);
      if (only === undefined) break;
    } else if (only !== undefined) {
      console.log(`sim: seed ${report.seed} passed (${report.steps} steps); shape ${report.shape}`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const faultTotal = Object.values(totals.faults).reduce((a, b) => a + b, 0);
  console.log(
    `sim: ${totals.scenarios} scenarios (seeds ${first}..${first + totals.scenarios - 1}), ` +
      `${totals.steps} steps, ${totals.elections} elections, ${totals.commits} entries committed, ` +
      `${faultTotal} faults injected, ${seconds.toFixed(1)} s`,
  );
  console.log(
    `sim: faults ${
      Object.entries(totals.faults).map(([kind, count]) => `${kind}=${count}`).join(" ")
    }`,
  );
  console.log(
    `sim: events ${
      Object.entries(totals.events).map(([kind, count]) => `${kind}=${count}`).join(" ")
    }`,
  );
  console.log(failed === 0 ? "sim: all safety and liveness checks held" : `sim: ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

Deno.exit(main());
