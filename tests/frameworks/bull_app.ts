/**
 * Bull and BullMQ as an application uses them, run as its own process by the
 * framework tests (so a worker can be killed with -9):
 *
 *   bull_app.ts produce bull|bullmq PORT QUEUE N   adds jobs 0..N-1 (every tenth delayed by
 *                                                   1 s) and one repeatable job (every second,
 *                                                   3 times); prints {"added": N + 3}
 *   bull_app.ts work bull|bullmq PORT QUEUE        processes jobs until killed: INCR runs:<i>,
 *                                                   returns i + 1000 (stalled jobs of a dead
 *                                                   worker are taken again after 5 s)
 *   bull_app.ts events PORT QUEUE N SECONDS        BullMQ's QueueEvents: counts `completed`
 *                                                   events until N or SECONDS; prints {"completed"}
 *   bull_app.ts counts bull|bullmq PORT QUEUE      prints the queue's job counts
 *
 * The port is a Pylon node's (or a plain Redis's); nothing here knows which.
 */

import Bull from "bull";
import { Queue, QueueEvents, Worker } from "bullmq";
import { Redis } from "ioredis";

const [mode, a, b, c, d] = Deno.args;

/** Every tenth job waits a second; the rest are due at once. */
const delayOf = (i: number) => (i % 10 === 9 ? 1_000 : 0);
const REPEATS = 3;
const STALLED_MS = 5_000;

async function produce(kind: string, port: number, name: string, n: number): Promise<void> {
  const connection = { host: "127.0.0.1", port };
  if (kind === "bull") {
    const queue = new Bull(name, { redis: connection });
    for (let i = 0; i < n; i++) await queue.add({ i }, { delay: delayOf(i), jobId: `job-${i}` });
    await queue.add({ i: -1 }, { repeat: { every: 1_000, limit: REPEATS }, jobId: "repeat" });
    await queue.close();
  } else {
    const queue = new Queue(name, { connection });
    for (let i = 0; i < n; i++) {
      await queue.add("job", { i }, { delay: delayOf(i), jobId: `job-${i}` });
    }
    await queue.upsertJobScheduler("tick", { every: 1_000, limit: REPEATS }, {
      name: "tick",
      data: { i: -1 },
    });
    await queue.close();
  }
  console.log(JSON.stringify({ added: n + REPEATS }));
}

async function work(kind: string, port: number, name: string): Promise<void> {
  const connection = { host: "127.0.0.1", port };
  const counter = new Redis(connection);
  const run = async (i: number) => {
    await counter.incr(i < 0 ? "runs:repeat" : `runs:${i}`);
    return i + 1000;
  };
  if (kind === "bull") {
    const queue = new Bull(name, {
      redis: connection,
      settings: { lockDuration: STALLED_MS, stalledInterval: STALLED_MS, maxStalledCount: 5 },
    });
    queue.process((job: { data: { i: number } }) => run(job.data.i));
  } else {
    new Worker(name, (job) => run(job.data.i), {
      connection,
      lockDuration: STALLED_MS,
      stalledInterval: STALLED_MS,
      maxStalledCount: 5,
    });
  }
  console.log("working");
  // Until killed.
  await new Promise(() => {});
}

async function events(port: number, name: string, n: number, seconds: number): Promise<void> {
  const queueEvents = new QueueEvents(name, { connection: { host: "127.0.0.1", port } });
  await queueEvents.waitUntilReady();
  console.error("listening");
  let completed = 0;
  const done = Promise.withResolvers<void>();
  queueEvents.on("completed", () => {
    if (++completed >= n) done.resolve();
  });
  const timer = setTimeout(done.resolve, seconds * 1_000);
  await done.promise;
  clearTimeout(timer);
  await queueEvents.close();
  console.log(JSON.stringify({ completed }));
}

async function counts(kind: string, port: number, name: string): Promise<void> {
  const connection = { host: "127.0.0.1", port };
  const queue = kind === "bull"
    ? new Bull(name, { redis: connection })
    : new Queue(name, { connection });
  const got = await queue.getJobCounts();
  await queue.close();
  console.log(JSON.stringify(got));
}

switch (mode) {
  case "produce":
    await produce(a!, Number(b), c!, Number(d));
    break;
  case "work":
    await work(a!, Number(b), c!);
    break;
  case "events":
    await events(Number(a), b!, Number(c), Number(d));
    break;
  case "counts":
    await counts(a!, Number(b), c!);
    break;
  default:
    throw new Error(`Unknown mode '${mode}'`);
}
Deno.exit(0);
