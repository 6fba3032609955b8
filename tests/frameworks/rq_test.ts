/**
 * RQ, unmodified, through one Pylon node: jobs enqueued with RQ's client, run by
 * `rq worker --burst` against the same node, each ends `finished` with its
 * result readable through Pylon, and the rack's Redis holds what RQ wrote.
 *
 * The same test runs against a plain Redis, to show the test itself is right.
 *
 * Through Pylon it needs `XADD key *`: RQ keeps each job's result in a stream
 * (`rq:results:<id>`, `XADD ... MAXLEN ~ 10 *`) inside the transaction that
 * finishes the job. Pylon refuses an auto id until it takes the id from the
 * op's log time ("time and chance from the log"); until then the worker logs
 * "command 'xadd' is refused by Pylon" and every job stays `started`.
 */

import assert from "node:assert/strict";
import { linesWith, runPython, startTarget, type TargetKind, Worker } from "./frameworks.ts";

/** Jobs per run. */
const JOBS = 20;
const QUEUE = "pylon-jobs";
/** Bounds on each step (generous: two shared cores under a loaded suite). */
const SCRIPT_TIMEOUT_MS = 60_000;
const BURST_TIMEOUT_MS = 120_000;

interface Enqueued {
  id: string;
  key: string;
  sum: number;
}

async function rqBurstWorker(kind: TargetKind): Promise<void> {
  await using target = await startTarget(kind);

  const jobs = await runPython<Enqueued[]>("rq_check.py", [
    "enqueue",
    target.url,
    QUEUE,
    String(JOBS),
  ], { timeoutMs: SCRIPT_TIMEOUT_MS });
  assert.equal(jobs.length, JOBS);
  assert.equal(await target.rack.call("LLEN", `rq:queue:${QUEUE}`), String(JOBS));

  await using worker = await Worker.start(
    "rq-worker",
    (install) => install.rq,
    ["worker", "--burst", "--url", target.url, QUEUE],
  );
  const code = await worker.exit(BURST_TIMEOUT_MS);
  const log = await worker.log();
  assert.equal(code, 0, `rq worker --burst exited with ${code}:\n${log}`);

  // RQ's own view, read through the target (Pylon, or the plain Redis).
  const seen = await runPython<Record<string, { status: string; result: unknown }>>(
    "rq_check.py",
    ["report", target.url, ...jobs.map((job) => job.id)],
    { timeoutMs: SCRIPT_TIMEOUT_MS },
  );
  const refusals = linesWith(log, /refused by Pylon|Error: /);
  for (const job of jobs) {
    assert.deepEqual(
      seen[job.id],
      { status: "finished", result: job.sum },
      `job ${job.id} (${job.key}) as RQ reads it; the worker's errors:\n${refusals}`,
    );
    assert.equal(await target.call("GET", job.key), String(job.sum), `${job.key} through ${kind}`);
  }

  // The rack's Redis itself: the job hashes, the results' streams, the queue and registry.
  const rack = target.rack;
  for (const job of jobs) {
    assert.equal(await rack.call("GET", job.key), String(job.sum), `${job.key} in the rack`);
    assert.equal(await rack.call("HGET", `rq:job:${job.id}`, "status"), "finished");
    assert.equal(await rack.call("XLEN", `rq:results:${job.id}`), "1", `job ${job.id}'s result`);
  }
  assert.equal(await rack.call("LLEN", `rq:queue:${QUEUE}`), "0", "the queue is drained");
  assert.equal(await rack.call("ZCARD", `rq:finished:${QUEUE}`), String(JOBS));
}

Deno.test("RQ on plain Redis: a burst worker finishes every job, results in Redis (checks the test)", async () => {
  await rqBurstWorker("redis");
});

Deno.test("RQ through Pylon: a burst worker finishes every job enqueued through the node, results readable through it and in the rack's Redis", async () => {
  await rqBurstWorker("pylon");
});
