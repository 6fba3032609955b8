/**
 * RQ, unmodified, on a world of three racks over Kafka: jobs enqueued through
 * rack0's node, `rq worker` as a service (blocking on `BLMOVE`) on rack1's
 * node and on rack2's. In the middle, rack2's node is killed with -9 (and
 * started again) and rack1's worker is killed with -9 (and a new one
 * started). RQ retries a job its worker abandoned (`Retry`, found by a
 * worker's maintenance; a job taken but not yet started is put back from its
 * intermediate queue), so every job ends `finished` with its result, read
 * through RQ, and ran at least once (`runs:<i>`, read from every rack's Redis
 * directly); at the end every rack's Redis holds the same keys.
 *
 * An RQ worker whose connection drops while it prepares a job quits ("found
 * an unhandled exception, quitting"), on Redis as here when the node it talks
 * to is killed: the test restarts it as a supervisor would. Its worker TTL is
 * short (`--worker-ttl 30`) so that an idle worker's `BLMOVE` returns every 15
 * s and its maintenance (which puts back a job stuck in the intermediate queue
 * after a minute) runs. A worker killed while it cleans the registries leaves
 * RQ's maintenance lock for 15 minutes (on Redis too): after the kill the test
 * removes that lock, as an operator would, so the abandoned job is retried now.
 */

import assert from "node:assert/strict";
import { waitFor } from "../harness/mod.ts";
import { runPython, Worker } from "./frameworks.ts";
import { expectRacksEqual, JOBS, readEverywhere, startFrameworkWorld } from "./world_frameworks.ts";

const QUEUE = "pylon-world";

function startWorker(url: string): Promise<Worker> {
  return Worker.start("rq-worker", (install) => install.rq, [
    "worker",
    "--url",
    url,
    "--maintenance-interval",
    "5",
    "--worker-ttl",
    "30",
    QUEUE,
  ]);
}

/** Workers kept running as a supervisor keeps them: one that quit is started again. */
class Supervisor {
  readonly workers: Worker[] = [];
  readonly urls: string[];
  restarts = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #busy = false;

  constructor(urls: string[]) {
    this.urls = urls;
  }

  async start(): Promise<void> {
    for (const url of this.urls) this.workers.push(await startWorker(url));
    this.#timer = setInterval(() => void this.#check(), 1_000);
  }

  async #check(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      for (let i = 0; i < this.workers.length; i++) {
        if (this.workers[i]!.service.running) continue;
        await this.workers[i]![Symbol.asyncDispose]();
        this.workers[i] = await startWorker(this.urls[i]!);
        this.restarts++;
      }
    } finally {
      this.#busy = false;
    }
  }

  /** Kills worker `i` with -9; the next check starts another. */
  async kill(i: number): Promise<void> {
    await this.workers[i]!.service.kill();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    while (this.#busy) await new Promise((resolve) => setTimeout(resolve, 50));
    for (const worker of this.workers) await worker[Symbol.asyncDispose]();
  }
}

Deno.test(`RQ service workers on three racks: ${JOBS} jobs, a node and a worker killed -9, every job finished, every rack equal`, async () => {
  await using fw = await startFrameworkWorld();
  const startedAt = performance.now();
  const jobs = await runPython<{ id: string; sum: number }[]>(
    "rq_check.py",
    ["enqueue-counting", fw.url(0), QUEUE, String(JOBS)],
    { timeoutMs: 300_000 },
  );
  const workers = new Supervisor([fw.url(1), fw.url(2)]);
  await workers.start();
  try {
    const rack0 = await fw.world.master(fw.rack(0));
    const ran = async () =>
      Number(await rack0.call("EVAL", "return #redis.call('KEYS', 'runs:*')", "0"));
    await waitFor(
      "a third of the jobs to run",
      async () => (await ran()) >= JOBS / 3 ? true : undefined,
      { timeoutMs: 300_000, intervalMs: 200 },
    );
    await fw.rack(2).pylon.kill();
    await fw.rack(2).pylon.restart();
    await waitFor(
      "two thirds of the jobs to run",
      async () => (await ran()) >= (2 * JOBS) / 3 ? true : undefined,
      { timeoutMs: 300_000, intervalMs: 200 },
    );
    await workers.kill(0);
    await fw.rack(0).pylon.call("DEL", `rq:clean_registries:${QUEUE}`);

    // RQ's own view, through rack0: every job finished with its result.
    const ids = jobs.map((job) => job.id);
    let statuses = "";
    const seen = await waitFor("every job to finish", async () => {
      const report = await runPython<Record<string, { status: string; result: number }>>(
        "rq_check.py",
        ["report", fw.url(0), ...ids],
        { timeoutMs: 120_000 },
      );
      const tally = new Map<string, number>();
      for (const job of Object.values(report)) {
        tally.set(job.status, (tally.get(job.status) ?? 0) + 1);
      }
      statuses = JSON.stringify([...tally]);
      return Object.values(report).every((job) => job.status === "finished") ? report : undefined;
    }, {
      timeoutMs: 300_000,
      intervalMs: 1_000,
      context: async () =>
        `${statuses}\n${(await workers.workers[0]!.log()).slice(-3000)}\n${
          (await workers.workers[1]!.log()).slice(-3000)
        }`,
    });
    for (const job of jobs) assert.equal(seen[job.id]!.result, job.sum, `job ${job.id}`);
    const elapsedMs = performance.now() - startedAt;

    const counts = await readEverywhere(
      fw.world,
      "EVAL",
      "local n, twice = 0, 0 for _, k in ipairs(redis.call('KEYS', 'runs:*')) do n = n + 1 " +
        "if tonumber(redis.call('GET', k)) > 1 then twice = twice + 1 end end return {n, twice}",
      "0",
    );
    for (const count of counts) assert.equal(count, counts[0], "every rack counts the same runs");
    const [ranOnce, ranTwice] = counts[0]!.split("\n").map(Number);
    assert.equal(ranOnce, JOBS, "every job ran at least once");
    for (const length of await readEverywhere(fw.world, "LLEN", `rq:queue:${QUEUE}`)) {
      assert.equal(length, "0", "the queue is drained in every rack");
    }
    await workers.stop();
    const keys = await expectRacksEqual(fw.world);
    console.log(
      `rq: ${JOBS} jobs in ${Math.round(elapsedMs)} ms across a node and a worker killed; ` +
        `${ranTwice} ran twice (at-least-once); ${workers.restarts} workers started again; ` +
        `${keys} keys equal on 3 racks`,
    );
  } finally {
    await workers.stop();
  }
});
