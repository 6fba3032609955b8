/**
 * `deno task bench queue`: blocking commands.
 *
 * - A `BRPOP` round trip across racks: a consumer waits in `BRPOP` on rack B's
 *   node; a producer `LPUSH`es one element through rack A's; the time from the
 *   push to the consumer's reply, one element at a time, beside the log's own
 *   round trip in the same world (an `INCR` through rack A, answered once
 *   applied) and beside a `BRPOP` on one plain Redis.
 * - 10,000 clients blocked at once on one node (embedded log): the node's RSS
 *   with 10,000 idle connections, then with the same 10,000 waiting in
 *   `BLPOP` (each on its own key), per client; and how long one push takes to
 *   reach a client among them.
 */

import {
  ensureKafka,
  ensureRedis,
  RawClient,
  startKafka,
  startPylon,
  startRedis,
  startWorld,
  waitFor,
} from "../tests/harness/mod.ts";
import { rss } from "../tests/harness/proc.ts";
import { printTable } from "./redis_benchmark.ts";

const SAMPLES = Number(Deno.env.get("PYLON_BENCH_SAMPLES") ?? 300);
const BLOCKED = Number(Deno.env.get("PYLON_BENCH_BLOCKED") ?? 10_000);

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

function row(name: string, samples: number[]): string[] {
  const sorted = [...samples].sort((a, b) => a - b);
  return [
    name,
    String(sorted.length),
    quantile(sorted, 0.5).toFixed(2),
    quantile(sorted, 0.99).toFixed(2),
    (sorted[sorted.length - 1] ?? NaN).toFixed(2),
  ];
}

/** Push through `producer`, time until `consumer`'s waiting BRPOP answers; one at a time. */
async function brpopRoundTrips(producerPort: number, consumerPort: number): Promise<number[]> {
  await using producer = await RawClient.connect(producerPort);
  await using consumer = await RawClient.connect(consumerPort);
  await using watcher = await RawClient.connect(consumerPort);
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES + 20; i++) {
    await consumer.command("BRPOP", "bench:q", "10");
    // The consumer waits on its node before the push is sent.
    await waitFor("the consumer to wait", async () => {
      const info = await watcher.call("INFO", "clients");
      const text = info.type === "bulk" && info.value !== null
        ? new TextDecoder().decode(info.value)
        : "";
      return /blocked_clients:1/.test(text) ? true : undefined;
    }, { timeoutMs: 10_000, intervalMs: 1 });
    const at = performance.now();
    await producer.command("LPUSH", "bench:q", `e${i}`);
    const reply = await consumer.read(20_000);
    const took = performance.now() - at;
    await producer.read(20_000);
    if (reply.type !== "array" || reply.value === null) throw new Error(`BRPOP got ${reply.type}`);
    if (i >= 20) samples.push(took);
  }
  return samples;
}

/** One write at a time through `port`, answered once applied. */
async function writeRoundTrips(port: number): Promise<number[]> {
  await using client = await RawClient.connect(port);
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES + 20; i++) {
    const at = performance.now();
    await client.command("INCR", "bench:ctr");
    await client.read(20_000);
    if (i >= 20) samples.push(performance.now() - at);
  }
  return samples;
}

async function roundTrips(): Promise<void> {
  await using kafka = await startKafka({ fullJit: true });
  await using world = await startWorld({ brokers: kafka.brokers, racks: 2 });
  const [a, b] = world.racks;
  const rows = [
    row("write on rack A (the log's round trip + apply)", await writeRoundTrips(a!.pylon.port)),
    row("LPUSH on A -> BRPOP waiting on B", await brpopRoundTrips(a!.pylon.port, b!.pylon.port)),
    row("LPUSH on A -> BRPOP waiting on A", await brpopRoundTrips(a!.pylon.port, a!.pylon.port)),
  ];
  await using redis = await startRedis();
  rows.push(row("plain Redis: LPUSH -> BRPOP", await brpopRoundTrips(redis.port, redis.port)));
  console.log(`\nBRPOP round trips, Kafka, two racks (${SAMPLES} samples, one at a time), ms`);
  printTable(["what", "n", "p50", "p99", "max"], rows);
}

async function manyBlocked(): Promise<void> {
  await using redis = await startRedis({ config: { maxclients: String(BLOCKED + 1_000) } });
  await using pylon = await startPylon({
    redis: { url: redis.url },
    args: ["--log-level", "warning", "--max-clients", String(BLOCKED + 1_000)],
  });
  const pid = pylon.service.pid;
  const conns: Deno.TcpConn[] = [];
  const encoder = new TextEncoder();
  try {
    const base = rss(pid);
    for (let i = 0; i < BLOCKED; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: pylon.port });
      conns.push(conn);
    }
    const buf = new Uint8Array(64);
    for (const conn of conns) {
      await conn.write(encoder.encode("PING\r\n"));
      await conn.read(buf);
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const idle = rss(pid);
    const started = performance.now();
    for (let i = 0; i < conns.length; i++) {
      await conns[i]!.write(encoder.encode(`BLPOP bench:k${i} 0\r\n`));
    }
    await waitFor(`${BLOCKED} clients to wait`, async () => {
      const info = await pylon.call("INFO", "clients");
      const n = Number(/blocked_clients:(\d+)/.exec(info)?.[1]);
      return n === BLOCKED ? true : undefined;
    }, { timeoutMs: 300_000, intervalMs: 200 });
    const blockedInMs = performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const waiting = rss(pid);
    // Pushes among them, one at a time: how long until that client is answered.
    const pushes: number[] = [];
    const pushed: number[] = [];
    await using pusher = await RawClient.connect(pylon.port);
    for (let k = 0; k < 20; k++) {
      const i = Math.floor((k + 0.5) * BLOCKED / 20);
      const at = performance.now();
      await pusher.command("RPUSH", `bench:k${i}`, "x");
      const n = await conns[i]!.read(buf);
      pushes.push(performance.now() - at);
      await pusher.read(10_000);
      pushed.push(performance.now() - at);
      if (n === null) throw new Error("the waiting client was closed");
    }
    console.log(`served (ms, in order): ${pushes.map((p) => p.toFixed(1)).join(" ")}`);
    console.log(`RPUSH answered (ms): ${pushed.map((p) => p.toFixed(1)).join(" ")}`);
    pushes.sort((a, b) => a - b);
    const served = quantile(pushes, 0.5);
    const wait = await waitMemory();
    console.log(
      `\n${BLOCKED.toLocaleString("en-US")} clients blocked at once on one node (embedded log)`,
    );
    printTable(["measure", "value"], [
      ["RSS, no client (MiB)", (base / 1024 / 1024).toFixed(0)],
      ["RSS, all connected and idle (MiB)", (idle / 1024 / 1024).toFixed(0)],
      ["RSS, all waiting in BLPOP (MiB)", (waiting / 1024 / 1024).toFixed(0)],
      ["per idle client (KiB)", ((idle - base) / BLOCKED / 1024).toFixed(2)],
      ["per waiting client, above idle (KiB)", ((waiting - idle) / BLOCKED / 1024).toFixed(2)],
      ["the wait itself, heap after GC (bytes per client)", String(wait)],
      ["time for all to start waiting (ms)", blockedInMs.toFixed(0)],
      ["RPUSH -> that client's reply, p50 of 20 (ms)", served.toFixed(2)],
      ["RPUSH -> that client's reply, max of 20 (ms)", pushes[pushes.length - 1]!.toFixed(2)],
    ]);
  } finally {
    for (const conn of conns) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  }
}

/** Heap bytes the wait itself holds per client (bench/wait_memory.ts, in a process of its own). */
async function waitMemory(): Promise<number> {
  const script = new URL("./wait_memory.ts", import.meta.url).pathname;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--v8-flags=--expose-gc", script, String(BLOCKED)],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!output.success) throw new Error("bench/wait_memory.ts failed");
  return (JSON.parse(new TextDecoder().decode(output.stdout)) as { bytesPerWait: number })
    .bytesPerWait;
}

/** `PYLON_BENCH_QUEUE=roundtrips|blocked` runs one part alone. */
export async function benchQueue(): Promise<void> {
  const part = Deno.env.get("PYLON_BENCH_QUEUE") ?? "all";
  await ensureRedis();
  await ensureKafka();
  if (part !== "blocked") await roundTrips();
  if (part !== "roundtrips") await manyBlocked();
}
