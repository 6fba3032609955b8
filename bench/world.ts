/**
 * `deno task bench world`: replication lag between two racks. Writes go to
 * rack A's node at fixed rates (open loop, paced every 5 ms); rack B's Redis
 * publishes a keyspace event when each key lands, so the bench sees the
 * moment a write becomes readable in B. Lag is that moment minus the moment A
 * acknowledged the write (it can be negative: B may apply before A's reply
 * reaches the client). Reported beside the write acknowledgement latency of
 * the same run.
 */

import { RedisClient } from "../src/redis/client.ts";
import {
  ensureKafka,
  ensureRedis,
  RawClient,
  type RedisServer,
  startKafka,
  startWorld,
} from "../tests/harness/mod.ts";
import { printTable } from "./redis_benchmark.ts";
import { ceiling } from "./write.ts";

const RATES = (Deno.env.get("PYLON_BENCH_RATES") ?? "200,1000,5000").split(",").map(Number);
const SECONDS = Number(Deno.env.get("PYLON_BENCH_SECONDS") ?? 5);
const WARMUP_WRITES = 1_000;

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

export async function benchWorld(): Promise<void> {
  await ensureRedis();
  await ensureKafka();
  await using kafka = await startKafka({ fullJit: true });
  await benchLag(kafka.brokers);
  await benchStrong(kafka.brokers);
}

/** Strong (contentious) beside local reads and writes, three racks, clients on one. */
async function benchStrong(brokers: string[]): Promise<void> {
  await using world = await startWorld({
    brokers,
    racks: 3,
    args: ["--contentious", "s:*"],
  });
  const port = world.racks[0]!.pylon.port;
  const CLIENTS = 10;
  const PER_CLIENT = Math.max(50, Math.round(SECONDS * 100));
  const measure = async (argv: (i: number, c: number) => string[]) => {
    const latencies: number[] = [];
    const started = performance.now();
    await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
      await using client = await RawClient.connect(port);
      for (let i = 0; i < PER_CLIENT; i++) {
        const at = performance.now();
        await client.command(...argv(i, c));
        const reply = await client.read(30_000);
        if (reply.type === "error") throw new Error(`${argv(i, c).join(" ")}: ${reply.value}`);
        latencies.push(performance.now() - at);
      }
    }));
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((x, y) => x - y);
    return {
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      rate: latencies.length / seconds,
    };
  };
  const rows: string[][] = [];
  for (const kind of ["SET", "GET"] as const) {
    const local = await measure((i, c) =>
      kind === "SET" ? ["SET", `l:${c}:${i}`, "x"] : ["GET", `l:${c}:${i}`]
    );
    const strong = await measure((i, c) =>
      kind === "SET" ? ["SET", `s:${c}:${i}`, "x"] : ["GET", `s:${c}:${i}`]
    );
    rows.push([
      kind,
      local.p50.toFixed(2),
      local.p99.toFixed(2),
      strong.p50.toFixed(2),
      strong.p99.toFixed(2),
      (strong.p50 / local.p50).toFixed(2),
      Math.round(local.rate).toLocaleString("en-US"),
      Math.round(strong.rate).toLocaleString("en-US"),
    ]);
    console.error(`bench: strong ${kind} done`);
  }
  console.log(
    `\nworld: strong (contentious, quorum 2 of 3 racks) beside local requests, ${CLIENTS} clients on one rack, ${PER_CLIENT} requests each`,
  );
  printTable(
    [
      "request",
      "local p50",
      "local p99",
      "strong p50",
      "strong p99",
      "strong ÷ local p50",
      "local/s",
      "strong/s",
    ],
    rows,
  );
  console.log(
    "(milliseconds; a strong read waits for the log's end, a strong write for a quorum of racks)",
  );
}

/** Replication lag between two racks at fixed write rates. */
async function benchLag(brokers: string[]): Promise<void> {
  await using world = await startWorld({ brokers, racks: 2 });
  const [a, b] = world.racks as [typeof world.racks[0], typeof world.racks[0]];
  const redisB = b!.redis as RedisServer;
  await redisB.call("CONFIG", "SET", "notify-keyspace-events", "E$");
  using events = await RedisClient.connect({ host: redisB.host, port: redisB.port });
  const seen = new Map<string, number>();
  await events.subscribe(["__keyevent@0__:set"], (_channel, key) => {
    seen.set(new TextDecoder().decode(key), performance.now());
  });

  // Warm up first: a cold world's first writes (JIT, connections, the first fetches) took
  // 40-65 ms here and alone made the first rate's p99.
  {
    await using client = await RawClient.connect(a!.pylon.port);
    for (let i = 0; i < WARMUP_WRITES; i++) {
      await client.command("SET", `warmup:${i}`, "x");
      await client.read(30_000);
    }
  }
  const rows: string[][] = [];
  for (const rate of RATES) {
    await using client = await RawClient.connect(a!.pylon.port);
    const total = rate * SECONDS;
    const sentAt: number[] = [];
    const ackedAt: number[] = [];
    const reading = (async () => {
      for (let i = 0; i < total; i++) {
        await client.read(30_000);
        ackedAt[i] = performance.now();
      }
    })();
    const start = performance.now();
    let next = 0;
    while (next < total) {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
      for (; next < due; next++) {
        sentAt[next] = performance.now();
        await client.command("SET", `lag:${rate}:${next}`, "x");
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await reading;
    const elapsed = (performance.now() - start) / 1000;
    // Every key must land in B; wait for the stragglers.
    const deadline = performance.now() + 30_000;
    while (performance.now() < deadline) {
      let missing = 0;
      for (let i = 0; i < total; i++) if (!seen.has(`lag:${rate}:${i}`)) missing++;
      if (missing === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const write = sentAt.map((s, i) => ackedAt[i]! - s).sort((x, y) => x - y);
    const lag = sentAt.map((_, i) => seen.get(`lag:${rate}:${i}`)! - ackedAt[i]!).filter(
      Number.isFinite,
    )
      .sort((x, y) => x - y);
    const writeP50 = quantile(write, 0.5);
    const writeP99 = quantile(write, 0.99);
    const lagP99 = quantile(lag, 0.99);
    // The least any write through Kafka can take at this rate: one kafkajs process producing a
    // record at a time (acks=-1) and consuming it back, on the same broker.
    const floor = await ceiling(brokers, 1, total, true, rate);
    rows.push([
      String(rate),
      Math.round(total / elapsed).toLocaleString("en-US"),
      writeP50.toFixed(2),
      writeP99.toFixed(2),
      (writeP99 / writeP50).toFixed(2),
      floor.p50.toFixed(2),
      floor.p99.toFixed(2),
      (floor.p99 / floor.p50).toFixed(2),
      quantile(lag, 0.5).toFixed(2),
      lagP99.toFixed(2),
      (lag[lag.length - 1] ?? NaN).toFixed(2),
      `${lag.length}/${total}`,
      (lagP99 / writeP99).toFixed(2),
    ]);
    console.error(`bench: ${rate} writes/s done`);
  }
  console.log(
    `\nworld: replication lag rack A -> rack B (SET through A's node, seen by B's Redis), ${SECONDS} s per rate`,
  );
  printTable(
    [
      "rate/s",
      "achieved/s",
      "write p50",
      "write p99",
      "p99 ÷ p50",
      "round trip p50",
      "round trip p99",
      "rt p99 ÷ p50",
      "lag p50",
      "lag p99",
      "lag max",
      "seen",
      "lag p99 ÷ write p99",
    ],
    rows,
  );
  console.log(
    "(milliseconds; lag is from A's acknowledgement to the key existing in B's Redis; round " +
      "trip: the kafkajs produce-and-consume-back floor at the same rate)",
  );
}
