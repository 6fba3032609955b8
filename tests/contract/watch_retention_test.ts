/**
 * Issue 24, item 5: a `WATCH` verdict never depends on what the log's
 * retention left when a rack applies the transaction. A transaction that one
 * rack committed (it read the watch's span from the log) is not aborted on a
 * rack that comes to it after retention deleted that span: that rack pauses,
 * naming retention. And a watch that already reaches before the log's start
 * when its `EXEC` arrives is answered nil by the accepting node and never
 * logged, so no rack has to decide it.
 */

import assert from "node:assert/strict";
import { RawClient, startWorld, useKafka, waitFor } from "../harness/mod.ts";
import {
  applierView,
  deleteRecordsBefore,
  logOps,
  metadata,
  opText,
  replyText,
  waitSamePosition,
  writeKeys,
} from "./contract.ts";

const META_DB = 15;

Deno.test("a rack that finds a committed transaction's watch span deleted by retention pauses instead of aborting it", async () => {
  const started = performance.now();
  await using kafka = await useKafka();
  await using world = await startWorld({ brokers: kafka.brokers, racks: 2 });
  const [east, west] = world.racks as [typeof world.racks[0], typeof world.racks[0]];
  const [eastRedis, westRedis] = [await world.master(east), await world.master(west)];
  await writeKeys(east.pylon.port, "base", 5);
  await waitSamePosition(world.racks);

  // A client on east watches k: the watch's span starts at east's position now.
  await using client = await RawClient.connect(east.pylon.port);
  assert.equal(replyText(await client.call("WATCH", "k")), "OK");
  // Ops after the watch (not touching k), applied by both racks.
  await writeKeys(west.pylon.port, "after", 5);
  await waitSamePosition(world.racks);
  // West freezes; what it applied is read from its Redis once it stops moving.
  west.pylon.service.pause();
  let last = -1;
  const frozenAt = await waitFor("west's stored position to stop moving", async () => {
    const position = (await metadata(westRedis, META_DB)).position;
    const stable = position === last;
    last = position;
    return stable ? position : undefined;
  }, { intervalMs: 300 });

  // East commits the transaction: nothing touched k since the watch.
  assert.equal(replyText(await client.call("MULTI")), "OK");
  assert.equal(replyText(await client.call("SET", "k", "committed")), "QUEUED");
  assert.equal(replyText(await client.call("EXEC")), "[OK]");
  assert.equal(await eastRedis.call("GET", "k"), "committed");
  // Retention deletes the records before west's position: the watch's span, not what west needs.
  await deleteRecordsBefore(world, frozenAt);
  const ops = await logOps(world);
  const exec = ops.find(({ op }) => op.watch !== undefined);
  assert.ok(exec !== undefined, "the transaction is in the log");
  assert.ok(
    exec.op.watch!.from < frozenAt && frozenAt <= exec.offset,
    `watch from ${exec.op.watch!.from}, deleted below ${frozenAt}, transaction at ${exec.offset}`,
  );
  west.pylon.service.resume();

  // West decides nothing from what retention left: it pauses before the transaction, or (never
  // acceptable) moves past it; either way, what its Redis holds is read directly.
  const view = await waitFor("west to pause or to move past the transaction", async () => {
    const seen = await applierView(west);
    return seen.state === "paused" || seen.applied > exec.offset ? seen : undefined;
  }, { timeoutMs: 30_000 });
  const westMeta = await metadata(westRedis, META_DB);
  if (westMeta.position > exec.offset) {
    assert.equal(
      await westRedis.call("GET", "k"),
      "committed",
      `west applied offset ${exec.offset} as aborted while east committed it`,
    );
  }
  assert.equal(view.state, "paused", view.lastError);
  assert.match(view.lastError, /retention deleted offsets \d+ to \d+ of partition 0/);
  assert.equal(await westRedis.call("GET", "k"), "", "west has not applied the transaction");
  assert.ok(westMeta.position <= exec.offset, `west's position ${westMeta.position}`);
  // Still paused a moment later (its retries find the same), and counted.
  await waitFor("west to count the condition", async () => {
    const seen = await applierView(west);
    assert.equal(seen.state, "paused");
    return Number(seen.info.get("rack_condition_retention")) >= 1 ? true : undefined;
  }, { timeoutMs: 10_000 });
  console.log(
    `watch retention test: watch from ${exec.op.watch!.from}, deleted below ${frozenAt}, ` +
      `transaction at ${exec.offset}; ${Math.round((performance.now() - started) / 1000)} s`,
  );
});

Deno.test("a watch reaching before the log's start is answered nil by the accepting node and never logged", async () => {
  const started = performance.now();
  await using kafka = await useKafka();
  await using world = await startWorld({ brokers: kafka.brokers, racks: 1 });
  const rack = world.racks[0]!;
  const redis = await world.master(rack);
  await writeKeys(rack.pylon.port, "base", 3);
  await waitSamePosition(world.racks);
  await using client = await RawClient.connect(rack.pylon.port);
  assert.equal(replyText(await client.call("WATCH", "w")), "OK");
  await writeKeys(rack.pylon.port, "after", 3);
  const applied = await waitSamePosition(world.racks);
  // Retention deletes everything the rack applied: the watch now reaches before the log's start.
  await deleteRecordsBefore(world, applied);

  assert.equal(replyText(await client.call("MULTI")), "OK");
  assert.equal(replyText(await client.call("SET", "w", "never")), "QUEUED");
  assert.equal(replyText(await client.call("EXEC")), "(nil array)");
  await waitSamePosition(world.racks);
  assert.equal(await redis.call("GET", "w"), "");
  const logged = (await logOps(world)).filter(({ op }) =>
    opText(op).some((c) => c.includes(" w "))
  );
  assert.deepEqual(logged.map(({ offset, op }) => `${offset}: ${opText(op).join("; ")}`), []);
  // The connection goes on: its next write is logged and applied.
  assert.equal(replyText(await client.call("SET", "w", "later")), "OK");
  assert.equal(await redis.call("GET", "w"), "later");
  console.log(
    `watch before the log's start: ${Math.round((performance.now() - started) / 1000)} s`,
  );
});
