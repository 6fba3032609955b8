/**
 * Bull and BullMQ, unmodified, on a world of three racks over Kafka: jobs
 * (delayed ones among them, and a repeatable one) added through rack0's node,
 * a worker on rack1's node and one on rack2's, and for BullMQ a `QueueEvents`
 * listener (`XREAD .. BLOCK` on its events stream) on rack0's. In the middle,
 * rack2's node is killed with -9 (and started again) and rack1's worker is
 * killed with -9 (and a new one started). Both take a dead worker's jobs
 * again once their lock lapses (at-least-once), so every job ran at least once
 * (`runs:<i>`, read from every rack's Redis directly), the framework counts
 * them all completed, BullMQ's listener hears every completion, and every
 * rack's Redis holds the same keys, streams included.
 */

import assert from "node:assert/strict";
import { scratchDir, Service, waitFor } from "../harness/mod.ts";
import { fileURLToPath } from "node:url";
import { waitConverged } from "../world/world.ts";
import { expectRacksEqual, JOBS, readEverywhere, startFrameworkWorld } from "./world_frameworks.ts";

const APP = fileURLToPath(new URL("./bull_app.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../../deno.json", import.meta.url));
const REPEATS = 3;

/** Runs bull_app.ts to its end; its one JSON line. */
async function app<T>(args: string[], timeoutMs: number): Promise<T> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--config", CONFIG, APP, ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const output = await child.output();
  clearTimeout(timer);
  const stderr = new TextDecoder().decode(output.stderr);
  assert.ok(output.success, `bull_app.ts ${args.join(" ")} failed:\n${stderr.slice(-3000)}`);
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]!) as T;
}

/** A worker process (killed with -9 by the test, stopped at the end). */
async function startWorker(kind: string, port: number, queue: string): Promise<Service> {
  const service = new Service({
    name: `${kind}-worker`,
    cmd: Deno.execPath(),
    args: ["run", "--allow-all", "--config", CONFIG, APP, "work", kind, String(port), queue],
    dir: await scratchDir(`${kind}-worker`),
  });
  service.start();
  return service;
}

async function frameworkOnWorld(kind: "bull" | "bullmq"): Promise<void> {
  await using fw = await startFrameworkWorld();
  const port = (n: number) => fw.rack(n).pylon.port;
  const queue = `world-${kind}`;
  const startedAt = performance.now();
  const listening = kind === "bullmq"
    ? app<{ completed: number }>(
      ["events", String(port(0)), queue, String(JOBS + REPEATS), "600"],
      700_000,
    )
    : undefined;
  const added = await app<{ added: number }>(
    ["produce", kind, String(port(0)), queue, String(JOBS)],
    300_000,
  );
  assert.equal(added.added, JOBS + REPEATS);
  let first = await startWorker(kind, port(1), queue);
  const second = await startWorker(kind, port(2), queue);
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
    await first.kill();
    first = await startWorker(kind, port(1), queue);

    // The framework's own view, through rack0: every job completed, the repeats included.
    let last = "";
    await waitFor("every job to complete", async () => {
      const counts = await app<Record<string, number>>(
        ["counts", kind, String(port(0)), queue],
        60_000,
      );
      last = JSON.stringify(counts);
      return counts.completed === JOBS + REPEATS ? true : undefined;
    }, {
      timeoutMs: 300_000,
      intervalMs: 1_000,
      context: async () =>
        `${last}\n${(await Deno.readTextFile(first.logPath)).slice(-2000)}\n${
          (await Deno.readTextFile(second.logPath)).slice(-2000)
        }`,
    });
    const elapsedMs = performance.now() - startedAt;
    const heard = listening === undefined ? undefined : (await listening).completed;
    if (heard !== undefined) {
      assert.ok(heard >= JOBS + REPEATS, `QueueEvents heard ${heard} completions`);
    }

    // Every rack's Redis, read directly once each applied the whole log: every job ran at
    // least once.
    await waitConverged(fw.world.racks);
    const counts = await readEverywhere(
      fw.world,
      "EVAL",
      "local n, twice = 0, 0 for _, k in ipairs(redis.call('KEYS', 'runs:*')) do n = n + 1 " +
        "if tonumber(redis.call('GET', k)) > 1 then twice = twice + 1 end end " +
        "return {n, twice, tonumber(redis.call('GET', 'runs:repeat') or 0)}",
      "0",
    );
    for (const count of counts) assert.equal(count, counts[0], "every rack counts the same runs");
    const [ranOnce, ranTwice, repeats] = counts[0]!.split("\n").map(Number);
    assert.equal(ranOnce, JOBS + 1, "every job ran at least once (and the repeatable one)");
    assert.ok(repeats! >= REPEATS, `the repeatable job ran ${repeats} times`);
    await first.stop();
    await second.stop();
    const keys = await expectRacksEqual(fw.world);
    console.log(
      `${kind}: ${JOBS} jobs (${JOBS / 10} delayed) and ${REPEATS} repeats in ` +
        `${Math.round(elapsedMs)} ms across a node and a worker killed; ${ranTwice} ran twice ` +
        `(at-least-once)${
          heard === undefined ? "" : `; QueueEvents heard ${heard} completions`
        }; ${keys} keys equal on 3 racks`,
    );
  } finally {
    await first.stop();
    await second.stop();
  }
}

Deno.test(`Bull on three racks: ${JOBS} jobs, delayed and repeatable ones, a node and a worker killed -9, every job done, every rack equal`, async () => {
  await frameworkOnWorld("bull");
});

Deno.test(`BullMQ on three racks: ${JOBS} jobs, delayed and repeatable ones, QueueEvents, a node and a worker killed -9, every job done, every rack equal`, async () => {
  await frameworkOnWorld("bullmq");
});
