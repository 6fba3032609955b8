/**
 * Sidekiq 6.4 (Debian's `ruby-sidekiq`), unmodified, on a world of three racks
 * over Kafka: jobs pushed with `Sidekiq::Client.push` through rack0's node, a
 * `sidekiq` worker process (10 threads, each fetching with `BRPOP`) on rack1's
 * node and one on rack2's. In the middle, rack2's node is killed with -9 (and
 * started again) and rack1's worker is killed with -9 (and a new one started).
 * Not part of `deno task test` (the suite needs no Ruby); run it with
 *
 *     deno run -A tests/frameworks/sidekiq_world.ts     (PYLON_FRAMEWORK_JOBS=n, 1000 by default)
 *
 * What Sidekiq OSS promises: its basic fetch takes a job off the queue with
 * `BRPOP`, so a job is in no Redis key while a thread runs it; a warm shutdown
 * (SIGTERM) pushes unfinished jobs back, but a process killed with -9 loses the
 * jobs its threads held (Sidekiq Pro's reliable fetch exists for that). A job
 * that raises (its connection dropped with the killed node) is retried from the
 * retry set, so it may run twice. The runner therefore counts, from every
 * rack's Redis read directly (`runs:<i>` per run of job i): jobs that ran,
 * jobs that ran more than once, and jobs lost — and explains each loss by the
 * killed worker's log (the job started there and never finished). It fails on
 * a loss the killed worker does not explain, on a job Sidekiq still holds at
 * the end, or on racks that differ key by key.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { scratchDir, Service, waitFor } from "../harness/mod.ts";
import { waitConverged } from "../world/world.ts";
import { expectRacksEqual, startFrameworkWorld } from "./world_frameworks.ts";

const JOBS = Number(Deno.env.get("PYLON_FRAMEWORK_JOBS") ?? "1000");
/** How long each job works before it counts its run: threads hold jobs when the worker is killed. */
const WORK_MS = 100;
const QUEUE = "pylon-world";
/** Threads per worker process (Sidekiq 6.4's default): at most this many jobs held by one. */
const THREADS = 10;
const JOBS_RB = fileURLToPath(new URL("./sidekiq_jobs.rb", import.meta.url));
/** Sidekiq's own log lines of a job: `class=CountJob jid=<jid> ... INFO: start|done|fail`. */
const JOB_LINE = /jid=([0-9a-f]{24})\b.* INFO: (start|done|fail)$/gm;

/** The jids a worker's log shows in each state of a job's run. */
interface Runs {
  started: string[];
  finished: string[];
  failed: string[];
}

/** The distinct warnings and errors in a log (times, pids, thread and job ids left out). */
function troubleIn(log: string): string[] {
  const lines = log.split("\n").filter((line) => / (WARN|ERROR): /.test(line));
  return [
    ...new Set(
      lines.map((line) =>
        line.replace(/^\S+ pid=\d+ tid=\w+ /, "").replaceAll(/\b[0-9a-f]{24}\b/g, "<jid>")
      ),
    ),
  ];
}

function runsIn(log: string): Runs {
  const runs: Runs = { started: [], finished: [], failed: [] };
  for (const [, jid, state] of log.matchAll(JOB_LINE)) {
    const list = state === "start" ? runs.started : state === "done" ? runs.finished : runs.failed;
    list.push(jid!);
  }
  return runs;
}

/** Jids started in a log and never finished nor failed there (a job may start twice). */
function heldIn(log: string): string[] {
  const runs = runsIn(log);
  const open = new Map<string, number>();
  for (const jid of runs.started) open.set(jid, (open.get(jid) ?? 0) + 1);
  for (const jid of [...runs.finished, ...runs.failed]) open.set(jid, (open.get(jid) ?? 0) - 1);
  return [...open].filter(([, n]) => n > 0).map(([jid]) => jid);
}

/** A `sidekiq` process on one rack's node; its log in its own folder. */
async function startWorker(url: string, name: string): Promise<Service> {
  const service = new Service({
    name: `sidekiq-${name}`,
    cmd: "sidekiq",
    args: ["-r", JOBS_RB, "-q", QUEUE, "-c", String(THREADS), "-t", "10"],
    dir: await scratchDir(`sidekiq-${name}`),
    env: { REDIS_URL: url },
  });
  service.start();
  return service;
}

/** Pushes the jobs through `url` with Sidekiq::Client.push; their jids, job i at index i. */
async function push(url: string): Promise<string[]> {
  const child = new Deno.Command("ruby", {
    args: [JOBS_RB, "push", QUEUE, String(JOBS), String(WORK_MS)],
    env: { REDIS_URL: url },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 300_000);
  const output = await child.output();
  clearTimeout(timer);
  const stderr = new TextDecoder().decode(output.stderr);
  assert.ok(output.success, `sidekiq_jobs.rb push failed:\n${stderr.slice(-3000)}`);
  return JSON.parse(new TextDecoder().decode(output.stdout).trim()) as string[];
}

for (const tool of ["ruby", "sidekiq"]) {
  const found = await new Deno.Command("sh", { args: ["-c", `command -v ${tool}`] }).output();
  if (!found.success) {
    console.error(
      `sidekiq_world: no ${tool}; install Debian's ruby-sidekiq (apt-get install ruby-sidekiq)`,
    );
    Deno.exit(2);
  }
}

await using fw = await startFrameworkWorld();
const startedAt = performance.now();
const jids = await push(fw.url(0));
assert.equal(jids.length, JOBS);
const workers = [await startWorker(fw.url(1), "rack1-a"), await startWorker(fw.url(2), "rack2")];
const killed = workers[0]!;
const everyLog = async () =>
  (await Promise.all(
    [...new Set([killed, ...workers])].map((w) => Deno.readTextFile(w.logPath).catch(() => "")),
  )).join("\n");
let passed = false;
try {
  const rack0 = await fw.world.master(fw.rack(0));
  const ran = async () =>
    Number(await rack0.call("EVAL", "return #redis.call('KEYS', 'runs:*')", "0"));
  const context = async () => `${await killed.logTail(30)}\n${await workers[1]!.logTail(30)}`;
  await waitFor("a third of the jobs to run", async () => (await ran()) >= JOBS / 3 || undefined, {
    timeoutMs: 300_000,
    intervalMs: 200,
    context,
  });
  await fw.rack(2).pylon.kill();
  await fw.rack(2).pylon.restart();
  await waitFor(
    "two thirds of the jobs to run",
    async () => (await ran()) >= (2 * JOBS) / 3 || undefined,
    { timeoutMs: 300_000, intervalMs: 200, context },
  );
  await killed.kill();
  const killedLog = await Deno.readTextFile(killed.logPath);
  const held = heldIn(killedLog);
  workers[0] = await startWorker(fw.url(1), "rack1-b");

  // Settled: every job ran, or nothing is left to run (the queue, the retry
  // and schedule sets are empty and no live worker is in a job), twice in a row.
  let calm = 0;
  let state = "";
  await waitFor("every job to run or nothing left to run", async () => {
    if ((await ran()) === JOBS) return true;
    const left = await Promise.all([
      rack0.call("LLEN", `queue:${QUEUE}`),
      rack0.call("ZCARD", "retry"),
      rack0.call("ZCARD", "schedule"),
    ]);
    const busy = await Promise.all(
      workers.map(async (w) => heldIn(await Deno.readTextFile(w.logPath)).length),
    );
    state = `queue, retry, schedule: ${left.join(", ")}; busy: ${busy.join(", ")}`;
    calm = left.every((n) => n === "0") && busy.every((n) => n === 0) ? calm + 1 : 0;
    return calm >= 2 || undefined;
  }, { timeoutMs: 300_000, intervalMs: 500, context: async () => `${state}\n${await context()}` });
  const elapsedMs = performance.now() - startedAt;

  // Every rack's Redis, read directly once each applied the whole log: how many times each job ran.
  await waitConverged(fw.world.racks);
  const tallies = await Promise.all(
    fw.world.racks.map(async (rack) =>
      (await fw.world.master(rack)).call(
        "EVAL",
        "local out = {} for _, k in ipairs(redis.call('KEYS', 'runs:*')) do " +
          "out[#out + 1] = k .. '=' .. redis.call('GET', k) end table.sort(out) return out",
        "0",
      )
    ),
  );
  for (const tally of tallies) assert.equal(tally, tallies[0], "every rack counts the same runs");
  const runs = new Map<number, number>();
  for (const line of tallies[0]!.split("\n").filter((l) => l !== "")) {
    const [, i, n] = line.match(/^runs:(\d+)=(\d+)$/)!;
    runs.set(Number(i), Number(n));
  }
  const twice = [...runs.values()].filter((n) => n > 1).length;
  const lost = jids.map((jid, i) => ({ jid, i })).filter(({ i }) => !runs.has(i));
  const logs = await everyLog();
  // A job whose run raised is retried once its retry is in the `retry` set; if
  // writing that fails too (its node is down), Sidekiq does not acknowledge
  // it, which with basic fetch drops it (processor.rb: "Internal exception!").
  const dropped = new Set(
    [...logs.matchAll(/"context":"Internal exception!".*?"jid":"([0-9a-f]{24})"/g)].map((m) =>
      m[1]
    ),
  );
  const retried = [...logs.matchAll(/"context":"Job raised exception"/g)].length;
  const heldSet = new Set(held);
  const lostHeld = lost.filter(({ jid }) => heldSet.has(jid));
  const lostDropped = lost.filter(({ jid }) => !heldSet.has(jid) && dropped.has(jid));
  // A job a thread fetched (BRPOP answered) but had not started when its
  // worker was killed is in no log: only the killed worker's other threads can
  // hold such jobs (a live worker logs every job it fetches).
  const logged = new Set(runsIn(logs).started);
  const lostUnstarted = lost.filter(({ jid }) => !logged.has(jid) && !dropped.has(jid));
  const unexplained = lost.filter(({ jid }) =>
    logged.has(jid) && !heldSet.has(jid) && !dropped.has(jid)
  );
  if (lostUnstarted.length > THREADS - held.length) unexplained.push(...lostUnstarted);
  const claims = await Promise.all(fw.world.racks.map(async (rack) => {
    const master = await fw.world.master(rack);
    const keys = (await master.call("-n", "15", "KEYS", "pylon:claims:*")).trim();
    return keys === "" ? 0 : Number(await master.call("-n", "15", "HLEN", keys.split("\n")[0]!));
  }));
  const putBack = [
    ...(await Deno.readTextFile(fw.rack(2).pylon.service.logPath).catch(() => ""))
      .matchAll(/put back (\d+) elements/g),
  ].reduce((sum, m) => sum + Number(m[1]), 0);

  for (const w of workers) await w.stop(30_000);
  const keys = await expectRacksEqual(fw.world);
  const summary = `sidekiq: ${JOBS} jobs in ${Math.round(elapsedMs)} ms across a node and a ` +
    `worker killed; ${runs.size} ran, ${twice} ran twice, ${lost.length} lost ` +
    `(${lostHeld.length} of the ${held.length} the killed worker held, ${lostDropped.length} ` +
    `whose retry could not be stored with their node down, ${lostUnstarted.length} fetched and ` +
    `never started, ${unexplained.length} unexplained); ` +
    `${retried} runs raised and were retried; node put back ${putBack} elements, ` +
    `claims left ${claims.join("/")}; ${keys} keys equal on 3 racks`;
  console.log(summary);
  const trouble = troubleIn(logs);
  if (trouble.length > 0) console.log(`worker warnings:\n  ${trouble.slice(0, 20).join("\n  ")}`);
  if (lost.length > 0) {
    const why = (jid: string) =>
      heldSet.has(jid)
        ? "held by the killed worker"
        : dropped.has(jid)
        ? "retry not stored"
        : logged.has(jid)
        ? "unexplained"
        : "fetched, never started";
    console.log(`lost: ${lost.map(({ jid, i }) => `job ${i} (${jid}: ${why(jid)})`).join(", ")}`);
  }
  assert.deepEqual(unexplained, [], "every lost job is one Sidekiq's basic fetch drops");
  assert.deepEqual(claims, [0, 0, 0], "no claim left in any rack");
  passed = true;
} finally {
  for (const w of [...workers, killed]) {
    await w.stop(30_000);
    if (passed) await Deno.remove(w.spec.dir, { recursive: true }).catch(() => {});
    else console.error(`kept ${w.logPath}`);
  }
}
