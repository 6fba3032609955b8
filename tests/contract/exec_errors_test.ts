/**
 * Issue 24, item 4: errors that depend on the rack rather than the op never
 * become an op's outcome. A limit outside the world's contract
 * (`proto-max-bulk-len`) or a command renamed away pauses the rack before it
 * applies anything; a script op killed by `SCRIPT KILL` sent to one rack's
 * Redis is applied again there once the kill is over; a transaction refused
 * as a whole because the rack's Redis is out of memory is applied once memory
 * is raised. Every case ends with both racks' Redis read directly and equal.
 * (`MOVE`/`COPY .. DB 20` in a world of 16 dbs: tests/contract/databases_test.ts.)
 */

import assert from "node:assert/strict";
import { RawClient, startRedis, startWorld, useKafka, waitFor } from "../harness/mod.ts";
import {
  applierView,
  assertSameData,
  logOps,
  metadata,
  opText,
  redisKeys,
  replyText,
  run,
  waitApplying,
  waitPaused,
  waitSamePosition,
} from "./contract.ts";

const META_DB = 15;
const DBS = Array.from({ length: 15 }, (_, db) => db);

/** A script budget far above the looping scripts here (the default is 2,000 ms of steps). */
const SCRIPT_BUDGET_ARGS = ["--script-time-max-ms", "60000"];

Deno.test("proto-max-bulk-len lowered on one rack's Redis pauses it; restored, SETRANGE past 1 MB is applied alike", async () => {
  const started = performance.now();
  await using kafka = await useKafka();
  await using world = await startWorld({ brokers: kafka.brokers, racks: 2 });
  const [east, west] = world.racks as [typeof world.racks[0], typeof world.racks[0]];
  const [eastRedis, westRedis] = [await world.master(east), await world.master(west)];
  // Both apply, so the world recorded its contract (from its racks as they started).
  await waitSamePosition(world.racks);
  assert.equal(await westRedis.call("CONFIG", "SET", "proto-max-bulk-len", "1mb"), "OK");
  await waitPaused(west, /proto-max-bulk-len is '1048576', the world's is '536870912'/);
  const before = (await metadata(westRedis, META_DB)).position;

  assert.deepEqual(
    await run(east.pylon.port, ["SETRANGE", "s", "2000000", "x"], ["STRLEN", "s"]),
    ["2000001", "2000001"],
  );
  // West applied nothing (its Redis would refuse the 2 MB string), and skipped nothing.
  assert.deepEqual([...(await redisKeys(westRedis, 0)).keys()], []);
  assert.equal((await metadata(westRedis, META_DB)).position, before);
  assert.equal((await applierView(west)).state, "paused");

  assert.equal(await westRedis.call("CONFIG", "SET", "proto-max-bulk-len", "512mb"), "OK");
  await waitApplying(west);
  await waitSamePosition(world.racks);
  for (const redis of [eastRedis, westRedis]) {
    assert.equal(await redis.call("STRLEN", "s"), "2000001");
  }
  assert.equal(await assertSameData(eastRedis, westRedis, DBS, "after restoring"), 1);
  console.log(`proto-max-bulk-len test: ${Math.round((performance.now() - started) / 1000)} s`);
});

Deno.test("a rack whose Redis renamed a command away is paused at start; without the rename it applies all", async () => {
  const started = performance.now();
  await using kafka = await useKafka();
  await using world = await startWorld({
    brokers: kafka.brokers,
    racks: 2,
    setups: [{}, { redis: { config: { "rename-command": 'FLUSHALL ""' } } }],
  });
  const [east, west] = world.racks as [typeof world.racks[0], typeof world.racks[0]];
  const [eastRedis, westRedis] = [await world.master(east), await world.master(west)];
  await waitPaused(west, /commands is 'flushall missing', the world's is 'every command/);
  const before = (await metadata(westRedis, META_DB)).position;
  // East applies before it takes writes (else it may hand them to west, which cannot apply).
  await waitApplying(east);

  assert.deepEqual(
    await run(east.pylon.port, ["SET", "a", "1"], ["FLUSHALL"], ["SET", "b", "2"]),
    ["OK", "OK", "OK"],
  );
  await waitSamePosition([east]);
  assert.deepEqual([...(await redisKeys(eastRedis, 0)).keys()], ["b"]);
  // West neither applied the writes nor skipped the FLUSHALL its Redis lacks.
  assert.deepEqual([...(await redisKeys(westRedis, 0)).keys()], []);
  assert.equal((await metadata(westRedis, META_DB)).position, before);

  // Without the rename (same data), west applies everything, FLUSHALL included.
  assert.equal(await westRedis.call("SAVE"), "OK");
  await west.pylon.stop();
  await westRedis.stop();
  await westRedis.reconfigure({ "rename-command": undefined });
  await westRedis.restart();
  await west.pylon.restart();
  await waitApplying(west);
  await waitSamePosition(world.racks);
  assert.equal(await assertSameData(eastRedis, westRedis, DBS, "without the rename"), 1);
  console.log(`renamed command test: ${Math.round((performance.now() - started) / 1000)} s`);
});

/** How many iterations of an empty Lua loop take about `targetMs` on this machine's Redis. */
async function loopFor(targetMs: number): Promise<number> {
  await using redis = await startRedis();
  const probe = 2_000_000;
  const script = "local i = 0 while i < tonumber(ARGV[1]) do i = i + 1 end return i";
  const startedAt = performance.now();
  assert.equal(await redis.call("EVAL", script, "0", String(probe)), String(probe));
  const ms = performance.now() - startedAt;
  return Math.max(200_000, Math.min(20_000_000, Math.round(probe * targetMs / ms)));
}

Deno.test("a script op killed by SCRIPT KILL on one rack's Redis is applied again there, and the racks end equal", async () => {
  const started = performance.now();
  // About a second: long enough to be killed, well under any script budget.
  const iterations = await loopFor(1_000);
  await using kafka = await useKafka();
  await using world = await startWorld({
    brokers: kafka.brokers,
    racks: 2,
    // The script runs about a second on plain Redis; the budget's steps are counted in Lua's
    // hook and slow it: a budget far above it keeps the test about SCRIPT KILL.
    args: SCRIPT_BUDGET_ARGS,
    // West's Redis lets SCRIPT KILL in after 100 ms of script (Redis's default waits 5 s).
    setups: [{}, { redis: { config: { "lua-time-limit": "100" } } }],
  });
  const [east, west] = world.racks as [typeof world.racks[0], typeof world.racks[0]];
  const [eastRedis, westRedis] = [await world.master(east), await world.master(west)];
  await waitSamePosition(world.racks);

  const script = "local i = 0 while i < tonumber(ARGV[1]) do i = i + 1 end " +
    "redis.call('SET', KEYS[1], ARGV[2]) return i";
  await using client = await RawClient.connect(east.pylon.port);
  await client.command("EVAL", script, "1", "looped", String(iterations), "done");
  const sentAt = performance.now();
  // An operator's SCRIPT KILL on west's Redis itself, once the script runs there.
  const killed = await waitFor("SCRIPT KILL on west's Redis to kill the script op", async () => {
    const reply = await westRedis.call("SCRIPT", "KILL");
    return reply === "OK" ? performance.now() - sentAt : undefined;
  }, { timeoutMs: 20_000, intervalMs: 20 });
  assert.equal(replyText(await client.read(60_000)), String(iterations), "the op's reply");
  await waitSamePosition(world.racks, 60_000);
  for (const redis of [eastRedis, westRedis]) {
    assert.equal(await redis.call("GET", "looped"), "done", `port ${redis.port}`);
  }
  assert.equal(await assertSameData(eastRedis, westRedis, DBS, "after the kill"), 1);
  const view = await applierView(west);
  assert.ok(Number(view.info.get("rack_condition_script_killed")) >= 1, "a rack condition");
  const westMeta = await metadata(westRedis, META_DB);
  assert.equal(westMeta.halted, "(nil)", "west rewound, not halted");
  console.log(
    `script kill test: ${iterations} iterations, killed ${
      Math.round(killed)
    } ms after the EVAL was sent; ${Math.round((performance.now() - started) / 1000)} s`,
  );
});

Deno.test("a script op killed on a rack that reads it together with later ops is applied again there, not halted", async () => {
  const started = performance.now();
  const iterations = await loopFor(1_000);
  await using kafka = await useKafka();
  await using world = await startWorld({
    brokers: kafka.brokers,
    racks: 2,
    args: SCRIPT_BUDGET_ARGS,
    setups: [{}, { redis: { config: { "lua-time-limit": "100" } } }],
  });
  const [east, west] = world.racks as [typeof world.racks[0], typeof world.racks[0]];
  const [eastRedis, westRedis] = [await world.master(east), await world.master(west)];
  await waitSamePosition(world.racks);
  // West lags: it will read the script op and the ops after it in one batch (a fetch it had
  // asked for before it froze returns the first op alone: that is "before").
  west.pylon.service.pause();
  const script = "local i = 0 while i < tonumber(ARGV[1]) do i = i + 1 end " +
    "redis.call('SET', KEYS[1], ARGV[2]) return i";
  assert.deepEqual(
    await run(
      east.pylon.port,
      ["SET", "before", "1"],
      ["EVAL", script, "1", "looped", String(iterations), "done"],
      ["SET", "after", "1"],
    ),
    ["OK", String(iterations), "OK"],
  );
  west.pylon.service.resume();
  const killed = await waitFor("SCRIPT KILL on west's Redis to kill the script op", async () => {
    const reply = await westRedis.call("SCRIPT", "KILL");
    return reply === "OK" ? true : undefined;
  }, { timeoutMs: 30_000, intervalMs: 20 });
  assert.ok(killed);
  await waitSamePosition(world.racks, 60_000).catch(async (error) => {
    throw new Error(
      `${error.message}\nwest's Redis: ${JSON.stringify(await metadata(westRedis, META_DB))}`,
    );
  });
  for (const redis of [eastRedis, westRedis]) {
    assert.equal(await redis.call("GET", "looped"), "done", `port ${redis.port}`);
  }
  assert.equal(await assertSameData(eastRedis, westRedis, DBS, "after the kill"), 3);
  assert.equal((await metadata(westRedis, META_DB)).halted, "(nil)", "west rewound, not halted");
  console.log(
    `script kill on a lagging rack: ${Math.round((performance.now() - started) / 1000)} s`,
  );
});

Deno.test("a script op killed on a rack that the same batch took past its memory goes back, and is applied once memory is raised", async () => {
  const started = performance.now();
  const iterations = await loopFor(1_000);
  await using kafka = await useKafka();
  await using world = await startWorld({
    brokers: kafka.brokers,
    racks: 2,
    args: SCRIPT_BUDGET_ARGS,
    setups: [{}, { redis: { config: { "lua-time-limit": "100" } } }],
  });
  const [east, west] = world.racks as [typeof world.racks[0], typeof world.racks[0]];
  const [eastRedis, westRedis] = [await world.master(east), await world.master(west)];
  await waitSamePosition(world.racks);
  // Room for 1 MB more on west: the batch is queued within it and goes past it as it runs, so
  // going back before the killed script needs a write Redis then refuses to everyone else.
  const used = Number((await westRedis.info("memory")).get("used_memory"));
  assert.equal(await westRedis.call("CONFIG", "SET", "maxmemory", String(used + 1_000_000)), "OK");
  west.pylon.service.pause();
  const script = "local i = 0 while i < tonumber(ARGV[1]) do i = i + 1 end " +
    "redis.call('SET', KEYS[1], ARGV[2]) return i";
  assert.deepEqual(
    await run(
      east.pylon.port,
      ["SET", "before", "1"],
      ["SETRANGE", "big", "1500000", "x"],
      ["EVAL", script, "1", "looped", String(iterations), "done"],
    ),
    ["OK", "1500001", String(iterations)],
  );
  const ops = await logOps(world);
  const scriptOp = ops.find(({ op }) => opText(op).some((c) => c.startsWith("EVAL")))!;
  west.pylon.service.resume();
  await waitFor("SCRIPT KILL on west's Redis to kill the script op", async () => {
    return (await westRedis.call("SCRIPT", "KILL")) === "OK" ? true : undefined;
  }, { timeoutMs: 30_000, intervalMs: 20 });
  // West went back before the script op: it neither moved past it nor halted.
  // Its retries then find the Redis out of memory; what it stored is read from its Redis.
  const stopped = await waitFor("west to stop on the kill", async () => {
    const seen = await applierView(west);
    return /paused|error|halted/.test(seen.state) && /OOM|array/.test(seen.lastError)
      ? seen
      : undefined;
  }, { timeoutMs: 30_000 });
  const westMeta = await metadata(westRedis, META_DB);
  assert.ok(
    westMeta.position <= scriptOp.offset,
    `west stored ${westMeta.position}, the script op is at ${scriptOp.offset}: ` +
      `${stopped.lastError}\n${await west.pylon.service.logTail(12)}`,
  );
  await waitPaused(west, /OOM/, 30_000);
  assert.equal(westMeta.halted, "(nil)");
  assert.equal(await westRedis.call("GET", "looped"), "");

  assert.equal(await westRedis.call("CONFIG", "SET", "maxmemory", "0"), "OK");
  await waitApplying(west);
  await waitSamePosition(world.racks);
  assert.equal(await westRedis.call("GET", "looped"), "done");
  assert.equal(await assertSameData(eastRedis, westRedis, DBS, "after raising memory"), 3);
  console.log(`script kill past memory: ${Math.round((performance.now() - started) / 1000)} s`);
});

Deno.test("a transaction refused whole by a rack's Redis out of memory pauses that rack; applied once memory is raised", async () => {
  const started = performance.now();
  await using kafka = await useKafka();
  await using world = await startWorld({ brokers: kafka.brokers, racks: 2 });
  const [east, west] = world.racks as [typeof world.racks[0], typeof world.racks[0]];
  const [eastRedis, westRedis] = [await world.master(east), await world.master(west)];
  await waitSamePosition(world.racks);
  const before = (await metadata(westRedis, META_DB)).position;
  // West's Redis is over its limit at once: every write it queues is refused (noeviction).
  assert.equal(await westRedis.call("CONFIG", "SET", "maxmemory", "1"), "OK");

  assert.deepEqual(
    await run(east.pylon.port, ["MULTI"], ["SET", "t1", "a"], ["INCR", "t2"], ["EXEC"]),
    ["OK", "QUEUED", "QUEUED", "[OK, 1]"],
  );
  await waitPaused(west, /OOM/);
  assert.deepEqual([...(await redisKeys(westRedis, 0)).keys()], []);
  assert.equal((await metadata(westRedis, META_DB)).position, before);

  assert.equal(await westRedis.call("CONFIG", "SET", "maxmemory", "0"), "OK");
  await waitApplying(west);
  await waitSamePosition(world.racks);
  assert.equal(await assertSameData(eastRedis, westRedis, DBS, "after raising memory"), 2);
  assert.equal(await westRedis.call("GET", "t2"), "1");
  console.log(`out of memory test: ${Math.round((performance.now() - started) / 1000)} s`);
});
