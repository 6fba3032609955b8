/**
 * A new rack joins a world older than its log's retention (`PYLON NODE
 * ADD`): its empty Redis is never replayed from the first retained op; it
 * is rebuilt from a peer's snapshot by itself and ends equal to the others.
 */

import assert from "node:assert/strict";
import { expireLogBefore, startWorld, topicBounds, useKafka, waitFor } from "../harness/mod.ts";
import { waitConverged } from "../world/world.ts";
import { assertRacksEqual, info, keepWriting, waitRebuildPhase, writeData } from "./racks.ts";

Deno.test("a rack added to a world past its retention rebuilds from a peer by itself", async () => {
  await using kafka = await useKafka();
  await using world = await startWorld({ brokers: kafka.brokers, racks: 2 });
  const [a, b] = world.racks as [typeof world.racks[0], typeof world.racks[0]];
  await writeData(a.pylon.port, "a", 2_000);
  await writeData(b.pylon.port, "b", 1_000);
  const writers = keepWriting([a.pylon.port, b.pylon.port], "during");
  const { end } = await topicBounds(kafka.brokers, world.topic);
  const start = await expireLogBefore(kafka.brokers, world.topic, end);

  // The new rack's node starts outside the world and is added by an admin.
  const slot = world.plan(3)[2]!;
  const c = await world.addRack(slot, false, { args: ["--join"] });
  const admin = ["--no-auth-warning", "--user", "pylon", "--pass", world.secret];
  assert.equal(
    await a.pylon.call(
      ...admin,
      "PYLON",
      "NODE",
      "ADD",
      slot.nodeId,
      slot.name,
      `127.0.0.1:${slot.peerPort}`,
    ),
    "OK",
  );
  const seen = await waitRebuildPhase(c, [
    "needed",
    "snapshot",
    "transfer",
    "load",
    "catch-up",
    "done",
  ]);
  console.log(
    `the log starts at ${start}; C: ${seen.get("rebuild_phase")}, ${seen.get("rebuild_reason")}`,
  );
  const done = await waitRebuildPhase(c, ["done"]);
  assert.match(done.get("rebuild_source") ?? "", /^rack[01]\//);
  await waitFor(
    "C to serve reads",
    async () => (await info(c)).get("serves_reads") === "1" || undefined,
  );
  assert.equal(await c.pylon.call("GET", "s:a:0"), "value-0");
  const written = await writers.stop();
  await waitConverged(world.racks);
  console.log(`${written.written} writes meanwhile; ${await assertRacksEqual(world)} keys equal`);
});
