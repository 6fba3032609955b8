/**
 * A bounded slice of the deterministic simulation (the full run is
 * `deno task sim`), and proof that its checker catches planted bugs.
 */

import assert from "node:assert/strict";
import { MemoryStorage } from "../../src/raft/memory_storage.ts";
import {
  describeFailure,
  runScenario,
  type ScenarioOptions,
  type ScenarioReport,
} from "../../src/raft/sim/scenario.ts";
import type { ConfState, Entry, Message } from "../../src/raft/types.ts";

/** Seeds the test suite runs (about a second per hundred). */
const SLICE_SEEDS = 500;

Deno.test(`the simulation keeps Raft safe and live over ${SLICE_SEEDS} seeds`, () => {
  const totals = { steps: 0, elections: 0, commits: 0, crashes: 0, installs: 0, truncations: 0 };
  for (let seed = 1; seed <= SLICE_SEEDS; seed++) {
    const report = runScenario(seed);
    if (report.failure) assert.fail(describeFailure(report).join("\n"));
    totals.steps += report.steps;
    totals.elections += report.elections;
    totals.commits += report.commits;
    totals.crashes += report.faults.crashes;
    totals.installs += report.events.installs;
    totals.truncations += report.events.truncations;
  }
  for (const [figure, value] of Object.entries(totals)) {
    assert.ok(value > SLICE_SEEDS / 10, `the slice exercised too little: ${figure} = ${value}`);
  }
});

Deno.test("a seed replays exactly: same steps, same outcome", () => {
  for (const seed of [3, 77, 4242]) {
    const first = runScenario(seed);
    const again = runScenario(seed, { traceLines: 50 });
    assert.deepEqual({ ...again, failure: undefined }, { ...first, failure: undefined });
  }
});

/** The first failing report among seeds 1..`seeds` under `options`. */
function firstFailure(options: ScenarioOptions, seeds: number): ScenarioReport {
  for (let seed = 1; seed <= seeds; seed++) {
    const report = runScenario(seed, options);
    if (report.failure) return report;
  }
  return assert.fail(`no seed in 1..${seeds} caught the planted bug`);
}

function assertReplays(report: ScenarioReport, options: ScenarioOptions): void {
  const lines = describeFailure(report);
  assert.match(lines[0]!, new RegExp(`^FAILED seed=${report.seed} step=${report.failure!.step} `));
  assert.equal(lines.at(-1), `replay with PYLON_SEED=${report.seed} deno task sim`);
  const replay = runScenario(report.seed, { ...options, traceLines: 20 });
  assert.equal(replay.failure?.step, report.failure!.step);
  assert.equal(replay.failure?.message, report.failure!.message);
  assert.equal(replay.failure?.trace.length, 20, "the replay shows the steps that led there");
}

Deno.test("the checker catches a node that grants every vote, and the seed replays it", () => {
  const lying: ScenarioOptions = {
    mutateMessage: (m: Message): Message =>
      m.from === "n1" && m.reject && (m.type === "voteResponse" || m.type === "preVoteResponse")
        ? { ...m, reject: false }
        : m,
  };
  const report = firstFailure(lying, 100);
  assert.match(
    report.failure!.message,
    /election safety|leader completeness|committed entry|state-machine/,
  );
  assertReplays(report, lying);
});

/** A disk that acknowledges appends but never overwrites what it holds. */
class StubbornStorage extends MemoryStorage {
  override append(entries: readonly Entry[]): void {
    super.append(entries.filter((entry) => entry.index > this.lastIndex()));
  }
}

Deno.test("the checker catches a disk that does not truncate conflicting entries", () => {
  const stubborn: ScenarioOptions = {
    newStorage: (initialConf: ConfState) => new StubbornStorage(initialConf),
  };
  const report = firstFailure(stubborn, 100);
  assert.match(
    report.failure!.message,
    /log matching|committed entry|state-machine|leader completeness/,
  );
  assertReplays(report, stubborn);
});
