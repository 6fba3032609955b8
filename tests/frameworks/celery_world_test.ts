/**
 * Celery, unmodified, on a world of three racks over Kafka: tasks sent through
 * rack0's node, one worker on rack1's node and one on rack2's, Redis broker
 * and result backend both through Pylon. In the middle, rack2's node is
 * killed with -9 (and started again) and rack1's worker is killed with -9 (and
 * a new one started). Celery promises at-least-once with `acks_late` and a
 * visibility timeout (celery_app.py, `PYLON_CELERY_RELIABLE`): every task ends
 * with its result, read through Celery's backend, and ran at least once
 * (`runs:<i>`, read from every rack's Redis directly); at the end every rack's
 * Redis holds the same keys.
 */

import assert from "node:assert/strict";
import { waitFor } from "../harness/mod.ts";
import { errorsIn, runPython, Worker } from "./frameworks.ts";
import { expectRacksEqual, JOBS, readEverywhere, startFrameworkWorld } from "./world_frameworks.ts";

const READY = /pylon-check-\w+@\S+ ready\./;

function startWorker(url: string, name: string): Promise<Worker> {
  return Worker.start("celery-worker", (install) => install.celery, [
    "-A",
    "celery_app",
    "worker",
    "--pool",
    "solo",
    "--loglevel",
    "INFO",
    "--hostname",
    `pylon-check-${name}@%h`,
  ], { PYLON_CELERY_URL: url, PYLON_CELERY_RELIABLE: "1" });
}

Deno.test(`Celery on three racks: ${JOBS} tasks, a node and a worker killed -9, every task's result stored, every rack equal`, async () => {
  await using fw = await startFrameworkWorld();
  const env = { PYLON_CELERY_URL: fw.url(0), PYLON_CELERY_RELIABLE: "1" };
  const startedAt = performance.now();
  const tasks = await runPython<{ id: string; sum: number }[]>(
    "celery_check.py",
    ["send-work", String(JOBS)],
    { env, timeoutMs: 300_000 },
  );
  assert.equal(tasks.length, JOBS);
  let first = await startWorker(fw.url(1), "one");
  await using second = await startWorker(fw.url(2), "two");
  try {
    for (const worker of [first, second]) {
      assert.equal(
        await worker.waitForLogOrExit("the worker's ready line", READY, 120_000),
        "matched",
        errorsIn(await worker.log()),
      );
    }
    const rack0 = await fw.world.master(fw.rack(0));
    const ran = async () =>
      Number(await rack0.call("EVAL", "return #redis.call('KEYS', 'runs:*')", "0"));
    await waitFor(
      "a third of the tasks to run",
      async () => (await ran()) >= JOBS / 3 ? true : undefined,
      { timeoutMs: 300_000, intervalMs: 200 },
    );
    await fw.rack(2).pylon.kill();
    await fw.rack(2).pylon.restart();
    await waitFor(
      "two thirds of the tasks to run",
      async () => (await ran()) >= (2 * JOBS) / 3 ? true : undefined,
      { timeoutMs: 300_000, intervalMs: 200 },
    );
    await first.service.kill();
    await first[Symbol.asyncDispose]();
    first = await startWorker(fw.url(1), "three");

    // Celery's own view: every result, through its backend on rack0.
    const results = await runPython<Record<string, number>>(
      "celery_check.py",
      ["results", "300", ...tasks.map((t) => t.id)],
      { env, timeoutMs: 400_000 },
    );
    for (const task of tasks) assert.equal(results[task.id], task.sum, `task ${task.id}`);
    const elapsedMs = performance.now() - startedAt;

    // Every rack's Redis, read directly: every task ran at least once, its result stored.
    const counts = await readEverywhere(
      fw.world,
      "EVAL",
      "local n, twice = 0, 0 for _, k in ipairs(redis.call('KEYS', 'runs:*')) do n = n + 1 " +
        "if tonumber(redis.call('GET', k)) > 1 then twice = twice + 1 end end return {n, twice}",
      "0",
    );
    const [ranOnce, ranTwice] = counts[0]!.split("\n").map(Number);
    for (const count of counts) assert.equal(count, counts[0], "every rack counts the same runs");
    assert.equal(ranOnce, JOBS, "every task ran at least once");
    const stored = await readEverywhere(
      fw.world,
      "EVAL",
      "return #redis.call('KEYS', 'celery-task-meta-*')",
      "0",
    );
    for (const n of stored) assert.equal(Number(n), JOBS, "every result stored in every rack");
    await first[Symbol.asyncDispose]();
    await second[Symbol.asyncDispose]();
    const keys = await expectRacksEqual(fw.world);
    console.log(
      `celery: ${JOBS} tasks in ${Math.round(elapsedMs)} ms across a node and a worker ` +
        `killed; ${ranTwice} ran twice (at-least-once); ${keys} keys equal on 3 racks`,
    );
  } finally {
    await first[Symbol.asyncDispose]();
  }
});
