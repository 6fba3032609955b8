/**
 * Celery, unmodified, with one Pylon node as both its broker and its result
 * backend (`redis://<node>/0`), its worker run as users run it:
 * `celery -A celery_app worker --pool solo`.
 *
 * Each test runs against a plain Redis too, to show the test itself is right.
 *
 * What Pylon must serve for Celery, in the order a worker meets it:
 * - kombu binds a queue that has an expiry (mingle's and the remote control's
 *   reply queues, gossip's event queue: every worker has them) with a script,
 *   `REFRESH_BINDING`, and sweeps old bindings with another; both call `TIME`,
 *   which Pylon's restricted script user refuses today ("The user executing the
 *   script can't run this command or subcommand"): the worker stops at start.
 *   "Time and chance from the log" makes `TIME` in a script answer the op's log
 *   time. Sending a task binds the task queue, which has no expiry, with plain
 *   `SADD`s: that works today.
 * - then every read of a queue is a `BRPOP` (mingle's reply queue at start, the
 *   task queue after), which Pylon serves as tries in the log, the client
 *   waiting on its node (src/gateway/blocking_call.ts).
 *
 * Before issue 25 the worker stopped at `BRPOP`'s refusal; {@linkcode
 * BLOCKING_SERVED} is now true for Pylon too, so these are the same tests as on
 * plain Redis: the worker starts and stays up, and it processes tasks. The
 * world-wide runs (three racks, a node killed) are in celery_world_test.ts.
 */

import assert from "node:assert/strict";
import {
  errorsIn,
  linesWith,
  runPython,
  startTarget,
  type Target,
  type TargetKind,
  Worker,
} from "./frameworks.ts";

/**
 * Whether the target serves blocking commands (Pylon's since issue 25; false
 * keeps the old "stopped by BRPOP's refusal" checks for a node that refuses them).
 */
const BLOCKING_SERVED: Record<TargetKind, boolean> = { redis: true, pylon: true };

/** Pylon's refusal of `BRPOP` (src/command/classify.ts), as the worker logs it. */
const BRPOP_REFUSED =
  "command 'brpop' is refused by Pylon: blocking commands are not served, Pylon does not hold clients waiting";

/** The line a worker logs once it has started (Celery's `celery@host ready.`). */
const READY = /pylon-check@\S+ ready\./;

const TASKS = 10;
/** Bounds (generous: two shared cores under a loaded suite). */
const START_TIMEOUT_MS = 60_000;
const SCRIPT_TIMEOUT_MS = 60_000;
const RESULTS_TIMEOUT_S = 60;
/** How long a started worker must stay up: an observation window, not a wait. */
const STAYS_UP_MS = 3_000;

function startCeleryWorker(target: Target, args: string[] = []): Promise<Worker> {
  return Worker.start(
    "celery-worker",
    (install) => install.celery,
    [
      "-A",
      "celery_app",
      "worker",
      "--pool",
      "solo",
      "--loglevel",
      "INFO",
      "--hostname",
      "pylon-check@%h",
      ...args,
    ],
    { PYLON_CELERY_URL: target.url },
  );
}

/** The worker printed its ready line and is still up, with no error logged. */
async function expectUp(worker: Worker): Promise<void> {
  const outcome = await worker.waitForLogOrExit("the worker's ready line", READY, START_TIMEOUT_MS);
  assert.equal(
    outcome,
    "matched",
    `the worker exited before it was ready:\n${errorsIn(await worker.log())}`,
  );
  assert.ok(
    await worker.staysUpFor(STAYS_UP_MS),
    `the worker exited after its ready line:\n${errorsIn(await worker.log())}`,
  );
  assert.equal(linesWith(await worker.log(), /ERROR|CRITICAL/), "", "errors in the worker's log");
}

/** The worker stopped, and what stopped it was Pylon's refusal of `BRPOP` (nothing earlier). */
async function expectStoppedByBrpopRefusal(worker: Worker): Promise<string> {
  const code = await worker.exit(START_TIMEOUT_MS);
  const log = await worker.log();
  assert.notEqual(code, 0, `the worker exited with 0:\n${errorsIn(log)}`);
  assert.ok(
    log.includes(`ResponseError: ${BRPOP_REFUSED}`),
    `the worker must stop only at BRPOP's refusal (issue 25), but it logged:\n${errorsIn(log)}`,
  );
  return log;
}

async function celeryWorkerStarts(kind: TargetKind): Promise<void> {
  await using target = await startTarget(kind);
  // Mingle, gossip and heartbeat at their defaults.
  await using worker = await startCeleryWorker(target);
  if (BLOCKING_SERVED[kind]) {
    await expectUp(worker);
    return;
  }
  const log = await expectStoppedByBrpopRefusal(worker);
  // Connected, its queues declared (the binding scripts ran), then mingle's BRPOP.
  assert.match(log, /mingle: searching for neighbors/);
  assert.match(log, /mingle\.py/, "the refused BRPOP is mingle's");
}

interface Sent {
  id: string;
  sum: number;
}

async function celeryProcessesTasks(kind: TargetKind): Promise<void> {
  await using target = await startTarget(kind);
  const env = { PYLON_CELERY_URL: target.url };
  const tasks = await runPython<Sent[]>("celery_check.py", ["send", String(TASKS)], {
    env,
    timeoutMs: SCRIPT_TIMEOUT_MS,
  });
  assert.equal(tasks.length, TASKS);
  const rack = target.rack;
  assert.equal(await rack.call("LLEN", "celery"), String(TASKS), "the tasks wait in the rack");

  // Without mingle, the worker's first blocking read is the task queue's own BRPOP.
  await using worker = await startCeleryWorker(target, ["--without-mingle"]);
  if (!BLOCKING_SERVED[kind]) {
    const outcome = await worker.waitForLogOrExit(
      "the worker's ready line",
      READY,
      START_TIMEOUT_MS,
    );
    assert.equal(
      outcome,
      "matched",
      `the worker stopped before it was ready:\n${errorsIn(await worker.log())}`,
    );
    await expectStoppedByBrpopRefusal(worker);
    assert.equal(await rack.call("LLEN", "celery"), String(TASKS), "no task was taken");
    for (const task of tasks) {
      assert.equal(await rack.call("EXISTS", `celery-task-meta-${task.id}`), "0");
    }
    return;
  }

  // Celery's own view of the results, read through the target's backend.
  const results = await runPython<Record<string, unknown>>(
    "celery_check.py",
    ["results", String(RESULTS_TIMEOUT_S), ...tasks.map((task) => task.id)],
    { env, timeoutMs: (RESULTS_TIMEOUT_S + 30) * 1000 },
  );
  for (const task of tasks) {
    assert.equal(results[task.id], task.sum, `task ${task.id}:\n${errorsIn(await worker.log())}`);
  }
  // The rack's Redis itself: every result stored, the queue drained.
  for (const task of tasks) {
    const meta = JSON.parse(await rack.call("GET", `celery-task-meta-${task.id}`));
    assert.equal(meta.status, "SUCCESS");
    assert.equal(meta.result, task.sum);
  }
  assert.equal(await rack.call("LLEN", "celery"), "0", "the queue is drained");
  await expectUp(worker);
}

Deno.test("Celery on plain Redis: a worker with mingle, gossip and heartbeat at their defaults starts and stays up (checks the test)", async () => {
  await celeryWorkerStarts("redis");
});

Deno.test("Celery through Pylon: a worker with mingle, gossip and heartbeat at their defaults starts and stays up (BRPOP served)", async () => {
  await celeryWorkerStarts("pylon");
});

Deno.test("Celery on plain Redis: tasks sent through it are processed by a worker, results in Redis (checks the test)", async () => {
  await celeryProcessesTasks("redis");
});

Deno.test("Celery through Pylon: tasks sent through the node are processed by a worker taking them with BRPOP, results in the rack's Redis", async () => {
  await celeryProcessesTasks("pylon");
});
