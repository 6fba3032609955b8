/**
 * Convergence: generated workloads over every data type go through the nodes
 * of three racks at once, conflicting on the same keys; once they stop, every
 * rack's dataset is identical.
 */

import assert from "node:assert/strict";
import { RawClient, startWorld, useKafka } from "../harness/mod.ts";
import { workload } from "../write/workload.ts";
import { digests, waitConverged } from "./world.ts";

const SEED = Number(Deno.env.get("PYLON_SEED") ?? 31);
const STEPS = 400;

Deno.test(`three racks writing the same keys at once end with identical datasets (seed ${SEED})`, async () => {
  await using kafka = await useKafka();
  await using world = await startWorld({ brokers: kafka.brokers, racks: 3 });
  const started = performance.now();
  let writes = 0;
  await Promise.all(world.racks.map(async (rack, i) => {
    await using client = await RawClient.connect(rack.pylon.port);
    for (const step of workload(SEED + i, STEPS)) {
      await client.command(...step.argv);
      await client.read(20_000);
      writes++;
    }
  }));
  const workloadMs = performance.now() - started;
  const convergedMs = await waitConverged(world.racks);
  const [first, ...rest] = await digests(world);
  assert.notEqual(first, "0000000000000000000000000000000000000000", "the dataset is not empty");
  for (const [i, digest] of rest.entries()) {
    assert.equal(digest, first, `rack${i + 1}'s DEBUG DIGEST equals rack0's`);
  }
  console.log(
    `convergence: ${writes} requests through 3 racks in ${Math.round(workloadMs)} ms; ` +
      `every rack applied the whole log ${
        Math.round(convergedMs)
      } ms after the last reply; digest ${first}`,
  );
});
