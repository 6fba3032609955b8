/**
 * The Jepsen-style test, bounded for CI (PYLON_JEPSEN_SECONDS for longer
 * runs, PYLON_SEED to replay): three racks over Kafka, contentious keys `c:*`
 * and local keys `l:*`, faults all along. Contentious keys must be
 * linearizable in every run; on local keys the checker must find stale reads
 * (the README's model explains them), which proves it can fail. Every rack's
 * Redis must hold the same values at the end.
 */

import assert from "node:assert/strict";
import { ChaosWorld } from "../chaos/world.ts";
import { runJepsen } from "./jepsen.ts";

const SECONDS = Number(Deno.env.get("PYLON_JEPSEN_SECONDS") ?? "40");
const SEED = Number(Deno.env.get("PYLON_SEED") ?? "5101");

Deno.test(`Jepsen-style: contentious keys linearizable under faults, local keys caught stale (seed ${SEED}, ${SECONDS} s)`, async () => {
  await using world = await ChaosWorld.start({
    brokers: 1,
    ackLog: false,
    racks: [["r0", 1], ["r1", 1], ["r2", 1]],
    args: ["--contentious", "c:*"],
  });
  const report = await runJepsen(world, {
    seed: SEED,
    durationMs: SECONDS * 1_000,
    clientsPerRack: 3,
    log: (line) => console.log(line),
  });
  const lines = [
    `jepsen: ${report.operations} operations recorded (${report.byOutcome.ok} ok, ` +
    `${report.byOutcome.fail} failed, ${report.byOutcome.unknown} unknown), ` +
    `${report.faults.length} faults: ${report.faults.map((f) => f.fault).join(", ")}`,
    ...Object.entries(report.verdicts).map(([key, v]) =>
      `  ${key}: ${v.operations} ops, ${
        v.gaveUp ? "search gave up" : v.linearizable ? "linearizable" : "NOT linearizable"
      }${v.stuckAt ? ` (stuck after ${v.stuckAt.linearized}; e.g. ${v.stuckAt.pending[0]})` : ""}`
    ),
  ];
  console.log(lines.join("\n"));
  assert.deepEqual(report.unexpectedExits, [], "no node died on its own");
  assert.deepEqual(report.diverged, [], "every rack's Redis holds the same values");
  for (const key of ["c:reg", "c:ctr", "c:set"] as const) {
    const verdict = report.verdicts[key];
    assert.ok(verdict.operations > 20, `${key}: enough operations (${verdict.operations})`);
    assert.equal(verdict.gaveUp, undefined, `${key}: the checker reached a verdict`);
    assert.ok(verdict.linearizable, `${key}: ${JSON.stringify(verdict.stuckAt)}`);
  }
  const local = (["l:reg", "l:ctr", "l:set"] as const).map((key) => report.verdicts[key]);
  assert.ok(
    local.some((v) => !v.linearizable && v.gaveUp === undefined),
    "the checker finds stale reads on local keys",
  );
});
