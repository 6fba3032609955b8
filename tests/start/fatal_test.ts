/**
 * Failures that used to be swallowed now stop the node with status 70 and the
 * reason (a Raft storage write, a world command that cannot be applied, a
 * Raft message that breaks an invariant), and a restart carries on from
 * durable state with counters exact. Failpoints (`PYLON_FAILPOINTS`) make
 * each failure happen on purpose.
 */

import assert from "node:assert/strict";
import {
  type PylonProcess,
  startPylon,
  startRedis,
  startWorld,
  useKafka,
  waitFor,
} from "../harness/mod.ts";

const FATAL = 70;

/** Restarts `pylon` with `failpoint` armed; it must stop with the reason. */
async function failsWith(pylon: PylonProcess, failpoint: string, reason: RegExp): Promise<void> {
  await pylon.stop();
  await using failing = await pylon.startAgain({
    env: { PYLON_FAILPOINTS: failpoint },
    waitReady: false,
  });
  const { code, log } = await failing.exit();
  assert.equal(code, FATAL, `status ${code}; log:\n${log}`);
  assert.match(log, reason);
}

for (
  const [failpoint, reason] of [
    ["raft.save", /pylon: fatal: raft group (rack:default|world): failpoint raft.save fired/],
    ["world.apply", /pylon: fatal: raft group world: failpoint world.apply fired/],
  ] as const
) {
  Deno.test(`a failing ${failpoint} stops the node; the restart carries on exactly`, async () => {
    await using redis = await startRedis({ appendonly: "always" });
    await using pylon = await startPylon({ redis: { url: redis.url } });
    for (let i = 1; i <= 3; i++) assert.equal(await pylon.call("INCR", "counter"), String(i));
    await failsWith(pylon, failpoint, reason);
    await using again = await pylon.startAgain();
    assert.equal(await again.call("INCR", "counter"), "4");
    assert.equal(await redis.call("GET", "counter"), "4");
  });
}

Deno.test("a Raft message that breaks an invariant stops the node; it rejoins after a restart", async () => {
  await using kafka = await useKafka();
  await using world = await startWorld({ brokers: kafka.brokers, racks: 2 });
  const [east, west] = world.racks as [typeof world.racks[0], typeof world.racks[0]];
  assert.equal(await west.pylon.call("INCR", "counter"), "1");
  await failsWith(west.pylon, "raft.step", /pylon: fatal: raft group .*broke an invariant/);
  // The other rack went on; the restarted node applies what it missed and takes writes again.
  assert.equal(await east.pylon.call("INCR", "counter"), "2");
  await using again = await west.pylon.startAgain();
  assert.equal(await again.call("INCR", "counter"), "3");
  assert.equal(await again.call("GET", "counter"), "3");
  // West may still be catching up (its writes and reads went to east meanwhile).
  await waitFor(
    "west's Redis to catch up",
    async () =>
      (await (await world.master(west)).call("GET", "counter")) === "3" ? true : undefined,
  );
  assert.equal(await (await world.master(east)).call("GET", "counter"), "3");
});
