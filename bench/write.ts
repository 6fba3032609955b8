/**
 * `deno task bench write`: redis-benchmark SET and INCR with 50 clients, with
 * and without `-P 16`, against direct Redis, Pylon on Kafka and Pylon on its
 * embedded log, beside the raw ceiling of the same Kafka broker (one kafkajs
 * process producing batches of the size Pylon's group commit formed), in one
 * run. Pylon's write latency is the full acknowledgement: logged, read back,
 * applied, replied. Redis, Redis with fsync and the embedded log are measured
 * before Kafka starts; each Pylon is warmed up first.
 */

import {
  ensureKafka,
  ensureRedis,
  type PylonProcess,
  startKafka,
  startPylon,
  startRedis,
  uniqueTopic,
} from "../tests/harness/mod.ts";
import { median, printTable, redisBenchmark } from "./redis_benchmark.ts";
import { cpuMs } from "../tests/harness/proc.ts";

const CLIENTS = 50;
const ROUNDS = Number(Deno.env.get("PYLON_BENCH_ROUNDS") ?? 3);
const DATA_SIZE = 16;

interface Sample {
  ops: number;
  p50: number;
  p99: number;
  batch?: number;
  /** Process CPU time per operation, microseconds (user + system). */
  cpuUs?: number;
}

/** Runs bench/kafka_ceiling.ts; `ratePerSec` paces a round trip's batches. */
export async function ceiling(
  brokers: string[],
  batch: number,
  records: number,
  roundTrip = false,
  ratePerSec?: number,
): Promise<Sample> {
  const { stdout, success, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL("./kafka_ceiling.ts", import.meta.url).pathname,
      brokers.join(","),
      uniqueTopic("ceiling"),
      String(batch),
      String(records),
      "100",
      ...(roundTrip ? ["roundtrip"] : []),
      ...(ratePerSec === undefined ? [] : [String(ratePerSec)]),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!success) throw new Error(`kafka_ceiling failed: ${new TextDecoder().decode(stderr)}`);
  const lines = new TextDecoder().decode(stdout).trim().split("\n");
  const result = JSON.parse(lines[lines.length - 1]!);
  return { ops: result.opsPerSec, p50: result.p50Ms, p99: result.p99Ms, batch };
}

interface Target {
  name: string;
  port: number;
  pylon: PylonProcess | undefined;
  pid: number;
}

/** A process to measure: its port and pid; a Pylon also reports its batches. */
function target(
  name: string,
  server: { port: number; service: { pid: number } },
  pylon?: PylonProcess,
): Target {
  return { name, port: server.port, pylon, pid: server.service.pid };
}

/** A JIT-compiled process runs warm in production: a Pylon gets a run before it is measured. */
async function warmUp(port: number): Promise<void> {
  await redisBenchmark({
    port,
    tests: "set",
    clients: CLIENTS,
    requests: 50_000,
    pipeline: 16,
    keyspace: 100_000,
    dataSize: DATA_SIZE,
  });
}

/**
 * Rounds of SET and INCR at `-P 1` and `-P 16` against each target; after a
 * Kafka-mode Pylon, the kafkajs ceilings with the batch size it formed.
 */
async function measureRounds(
  targets: Target[],
  add: (key: string, sample: Sample) => void,
  brokers?: string[],
): Promise<void> {
  for (const pipeline of [1, 16]) {
    const requests = pipeline === 1 ? 30_000 : 100_000;
    for (let round = 0; round < ROUNDS; round++) {
      for (const target of targets) {
        for (const test of ["set", "incr"]) {
          const before = target.pylon === undefined ? undefined : await target.pylon.info();
          const cpuBefore = cpuMs(target.pid);
          const [result] = await redisBenchmark({
            port: target.port,
            tests: test,
            clients: CLIENTS,
            requests,
            pipeline,
            keyspace: 100_000,
            dataSize: DATA_SIZE,
          });
          const cpu = cpuMs(target.pid) - cpuBefore;
          const after = target.pylon === undefined ? undefined : await target.pylon.info();
          let batch: number | undefined;
          if (before !== undefined && after !== undefined) {
            const writes = Number(after.get("writes_accepted")) -
              Number(before.get("writes_accepted"));
            const batches = Number(after.get("log_batches")) - Number(before.get("log_batches"));
            batch = batches > 0 ? writes / batches : undefined;
          }
          const sample: Sample = {
            ops: result!.opsPerSec,
            p50: result!.p50Ms,
            p99: result!.p99Ms,
            cpuUs: (cpu * 1000) / requests,
          };
          if (batch !== undefined) sample.batch = batch;
          add(`${target.name}|${test.toUpperCase()}|${pipeline}`, sample);
          if (brokers !== undefined && batch !== undefined) {
            add(
              `kafka-ceiling|${test.toUpperCase()}|${pipeline}`,
              await ceiling(brokers, batch, requests),
            );
            add(
              `kafka-roundtrip|${test.toUpperCase()}|${pipeline}`,
              await ceiling(brokers, batch, requests, true),
            );
          }
        }
        console.error(`bench: ${target.name} -P ${pipeline} round ${round + 1}/${ROUNDS} done`);
      }
    }
  }
}

export async function benchWrite(): Promise<void> {
  await ensureRedis();
  await ensureKafka();
  const samples = new Map<string, Sample[]>();
  const add = (key: string, s: Sample) => samples.set(key, [...(samples.get(key) ?? []), s]);
  const single: string[][] = [];
  let fsyncP50 = NaN;
  /** One client, one write at a time: what a sequential program waits per write. */
  const measureSingle = async (targets: Target[]) => {
    for (const target of targets) {
      const [r] = await redisBenchmark({
        port: target.port,
        tests: "set",
        clients: 1,
        requests: 3_000,
        pipeline: 1,
        keyspace: 100_000,
        dataSize: DATA_SIZE,
      });
      if (target.name === "redis-fsync") fsyncP50 = r!.p50Ms;
      single.push([
        target.name,
        Math.round(r!.opsPerSec).toLocaleString("en-US"),
        r!.p50Ms.toFixed(3),
        r!.p99Ms.toFixed(3),
        target.name === "redis-fsync" ? "" : (r!.p50Ms / fsyncP50).toFixed(2),
      ]);
    }
  };

  // The embedded log and its anchors first, before Kafka runs: a broker writing the ceilings'
  // records to the same disk slowed every fsync of the rounds after it.
  await using redis = await startRedis();
  // The honest anchor for the embedded log: a Redis that also fsyncs before it answers.
  await using fsyncRedis = await startRedis({ appendonly: "always" });
  await using localRedis = await startRedis();
  await using pylonLocal = await startPylon({
    redis: { url: localRedis.url },
    args: ["--log-level", "warning"],
  });
  await warmUp(pylonLocal.port);
  const fsyncTarget = target("redis-fsync", fsyncRedis);
  const localTarget = target("pylon-local", pylonLocal, pylonLocal);
  await measureRounds([target("redis", redis), fsyncTarget, localTarget], add);
  await measureSingle([fsyncTarget, localTarget]);

  await using kafka = await startKafka({ fullJit: true });
  await using kafkaRedis = await startRedis();
  await using pylonKafka = await startPylon({
    redis: { url: kafkaRedis.url },
    args: [
      "--log",
      `kafka://${kafka.brokers.join(",")}/${uniqueTopic("bench")}`,
      "--log-level",
      "warning",
    ],
  });
  await warmUp(pylonKafka.port);
  const kafkaTarget = target("pylon-kafka", pylonKafka, pylonKafka);
  await measureRounds([kafkaTarget], add, kafka.brokers);
  await measureSingle([kafkaTarget]);
  // Kafka's own floor for one write at a time: one record produced and consumed back, paced far
  // apart (200/s) so each goes alone, as a sequential client's writes do.
  const alone = await ceiling(kafka.brokers, 1, 1_000, true, 200);
  single.push([
    "kafka-roundtrip",
    "",
    alone.p50.toFixed(3),
    alone.p99.toFixed(3),
    (alone.p50 / fsyncP50).toFixed(2),
  ]);

  const summary = (name: string, test: string, pipeline: number) => {
    const runs = samples.get(`${name}|${test}|${pipeline}`) ?? [];
    if (runs.length === 0) return undefined;
    const batches = runs.flatMap((r) => (r.batch === undefined ? [] : [r.batch]));
    const cpus = runs.flatMap((r) => (r.cpuUs === undefined ? [] : [r.cpuUs]));
    return {
      ops: median(runs.map((r) => r.ops)),
      p50: median(runs.map((r) => r.p50)),
      p99: median(runs.map((r) => r.p99)),
      batch: batches.length === 0 ? undefined : median(batches),
      cpuUs: cpus.length === 0 ? undefined : median(cpus),
    };
  };
  const rows: string[][] = [];
  for (const test of ["SET", "INCR"]) {
    for (const pipeline of [1, 16]) {
      const direct = summary("redis", test, pipeline);
      const fsync = summary("redis-fsync", test, pipeline);
      const roundTrip = summary("kafka-roundtrip", test, pipeline);
      for (
        const name of [
          "redis",
          "redis-fsync",
          "kafka-ceiling",
          "kafka-roundtrip",
          "pylon-kafka",
          "pylon-local",
        ]
      ) {
        const s = summary(name, test, pipeline);
        if (s === undefined) continue;
        const isPylon = name.startsWith("pylon");
        rows.push([
          test,
          String(pipeline),
          name,
          Math.round(s.ops).toLocaleString("en-US"),
          s.p50.toFixed(2),
          s.p99.toFixed(2),
          s.batch === undefined ? "" : s.batch.toFixed(1),
          isPylon && direct ? (s.ops / direct.ops).toFixed(2) : "",
          name === "pylon-local" && fsync ? (s.ops / fsync.ops).toFixed(2) : "",
          name === "pylon-kafka" && roundTrip ? (s.ops / roundTrip.ops).toFixed(2) : "",
          name === "pylon-kafka" && roundTrip ? (s.p99 / roundTrip.p99).toFixed(2) : "",
          s.cpuUs === undefined ? "" : s.cpuUs.toFixed(1),
        ]);
      }
    }
  }
  console.log(
    `\nwrite path: redis-benchmark, ${CLIENTS} clients, values of ${DATA_SIZE} bytes, median of ${ROUNDS}; ` +
      "Pylon replies after apply (ack=apply)",
  );
  printTable(
    [
      "test",
      "-P",
      "target",
      "ops/s",
      "p50 ms",
      "p99 ms",
      "batch",
      "÷ redis",
      "÷ redis fsync",
      "÷ round trip",
      "p99 ÷ round trip",
      "CPU µs/op",
    ],
    rows,
  );
  console.log(
    "(redis-fsync: appendonly yes, appendfsync always — the anchor for the embedded log, which " +
      "also fsyncs before it answers; CPU is the serving process's user+system time per request)",
  );

  console.log("\none client, one write at a time (-c 1 -P 1 SET, 3,000 requests)");
  printTable(["target", "ops/s", "p50 ms", "p99 ms", "p50 ÷ redis fsync"], single);
  console.log(
    "(kafka-roundtrip: kafkajs producing one record at a time, 200/s, and consuming it back — " +
      "the least a write through Kafka waits)",
  );
}
