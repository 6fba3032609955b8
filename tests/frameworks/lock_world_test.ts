/**
 * python-redis-lock, unmodified, on a world of three racks over Kafka: one
 * client per rack takes the same lock over and over with a waiting acquire
 * (it waits in `BLPOP` on the lock's signal list, woken by the holder's
 * release, which pushes a signal), and inside the critical section does a
 * non-atomic read-modify-write of a counter (lock_check.py). In the middle,
 * rack2's node is killed with -9 (and started again) and rack1's client is
 * killed with -9 (a new one finishes its share; the lock it held expires).
 * No two clients are ever inside at once (no overlap seen), and the counter,
 * read from every rack's Redis directly, equals the sections recorded, give
 * or take the sections cut short by a kill or a dropped connection.
 */

import assert from "node:assert/strict";
import { waitFor } from "../harness/mod.ts";
import { FRAMEWORKS_DIR, Worker } from "./frameworks.ts";
import { expectRacksEqual, JOBS, readEverywhere, startFrameworkWorld } from "./world_frameworks.ts";

interface Outcome {
  sections: number;
  overlaps: number;
  waits: number;
  reconnects: number;
}

function contender(url: string, name: string, sections: number): Promise<Worker> {
  return Worker.start("lock-contender", (install) => install.python, [
    `${FRAMEWORKS_DIR}lock_check.py`,
    "contend",
    url,
    name,
    String(sections),
  ]);
}

/** Waits for a contender to finish; its outcome line. */
async function outcome(worker: Worker): Promise<Outcome> {
  const code = await worker.exit(600_000);
  const log = await worker.log();
  assert.equal(code, 0, `a contender failed:\n${log.slice(-3000)}`);
  const lines = log.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]!) as Outcome;
}

Deno.test(`python-redis-lock on three racks: ${JOBS} critical sections with a waiting acquire, a node and a client killed -9, never two inside`, async () => {
  await using fw = await startFrameworkWorld();
  const share = Math.ceil(JOBS / 3);
  const startedAt = performance.now();
  const names = ["zero", "one", "two"];
  const workers = await Promise.all(names.map((name, i) => contender(fw.url(i), name, share)));
  const replacement: Worker[] = [];
  try {
    const rack0 = await fw.world.master(fw.rack(0));
    const recorded = async () => Number(await rack0.call("LLEN", "sections"));
    await waitFor(
      "a third of the sections",
      async () => (await recorded()) >= JOBS / 3 ? true : undefined,
      { timeoutMs: 300_000, intervalMs: 200 },
    );
    await fw.rack(2).pylon.kill();
    await fw.rack(2).pylon.restart();
    await waitFor(
      "half of the sections",
      async () => (await recorded()) >= JOBS / 2 ? true : undefined,
      { timeoutMs: 300_000, intervalMs: 200 },
    );
    await workers[1]!.service.kill();
    // Its share is finished by a new client, on the same rack.
    const done = (await rack0.call("LRANGE", "sections", "0", "-1")).split("\n")
      .filter((s) => s.startsWith("one:")).length;
    replacement.push(await contender(fw.url(1), "one-again", share - done));

    const outcomes = [
      await outcome(workers[0]!),
      await outcome(workers[2]!),
      await outcome(replacement[0]!),
    ];
    const elapsedMs = performance.now() - startedAt;
    for (const o of outcomes) assert.equal(o.overlaps, 0, "never two clients inside at once");

    // Every rack's Redis, read directly.
    const sections = await readEverywhere(fw.world, "LRANGE", "sections", "0", "-1");
    for (const list of sections) assert.equal(list, sections[0], "every rack holds the same");
    const distinct = new Set(sections[0]!.split("\n").filter((s) => s !== ""));
    const counters = await readEverywhere(fw.world, "GET", "counter");
    for (const c of counters) assert.equal(c, counters[0]);
    const counter = Number(counters[0]);
    const reconnects = outcomes.reduce((sum, o) => sum + o.reconnects, 0);
    assert.ok(distinct.size >= share * 3, `${distinct.size} sections recorded`);
    // A section cut short (a kill, a dropped connection) may have counted without being recorded.
    assert.ok(
      counter >= distinct.size && counter <= distinct.size + reconnects + 1,
      `counter ${counter}, ${distinct.size} sections, ${reconnects} cut short`,
    );
    const waits = outcomes.reduce((sum, o) => sum + o.waits, 0);
    assert.ok(waits > 0, "clients waited for the lock");
    for (const worker of [...workers, ...replacement]) await worker[Symbol.asyncDispose]();
    const keys = await expectRacksEqual(fw.world);
    console.log(
      `redis-lock: ${distinct.size} critical sections in ${Math.round(elapsedMs)} ms, ` +
        `${waits} waiting acquires, ${reconnects} cut short by the node's kill, 0 overlaps; ` +
        `counter ${counter}; ${keys} keys equal on 3 racks`,
    );
  } finally {
    for (const worker of [...workers, ...replacement]) await worker[Symbol.asyncDispose]();
  }
});
