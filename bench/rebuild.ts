/**
 * `deno task bench rebuild [gigabytes]` (default 1): how long a rebuild from
 * a peer's snapshot takes for a dataset of that size, its rate and the
 * node's peak memory, beside what Redis's own tools take for the same data
 * on the same machine: `redis-cli --rdb` (the snapshot alone, to a file) and
 * a plain `REPLICAOF` full sync into an empty Redis (snapshot, transfer and
 * load, Redis to Redis).
 *
 * The dataset is generated here and never kept: rack A's Redis is filled
 * behind its node's back (after the node claimed it) with values of random
 * bytes (LZF cannot shrink them): strings of 1 KiB, hashes, lists, sets and
 * sorted sets. Rack C, an empty rack of the same world, is then rebuilt from
 * A with `PYLON REBUILD FROM`.
 */

import { PipelineConnection } from "../src/redis/pipeline_connection.ts";
import { encodeCommand } from "../src/resp/encoder.ts";
import { isErrorFrame } from "../src/resp/frames.ts";
import {
  ensureKafka,
  ensureRedis,
  parseInfo,
  type RedisServer,
  scratchDir,
  startKafka,
  startRedis,
  startWorld,
  waitFor,
} from "../tests/harness/mod.ts";
import { printTable } from "./redis_benchmark.ts";
import { join } from "node:path";

const MIB = 1024 * 1024;

/** Resident and peak resident memory of a process, in bytes (Linux /proc). */
function memory(pid: number): { rss: number; peak: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb("VmRSS"), peak: kb("VmHWM") };
}

/** CPU seconds a process has used (user + system, Linux /proc). */
function cpuSeconds(pid: number): number {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Random bytes (64 KiB at a time, as the API allows). */
function random(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let at = 0; at < n; at += 65_536) crypto.getRandomValues(out.subarray(at, at + 65_536));
  return out;
}

/** Fills `server` with about `bytes` of values; returns the keys written. */
export async function generate(server: RedisServer, bytes: number): Promise<number> {
  const connection = await PipelineConnection.connect({ host: server.host, port: server.port });
  const inFlight: Promise<void>[] = [];
  let group: Uint8Array[] = [];
  let written = 0;
  let keys = 0;
  const flush = async () => {
    const commands = group;
    group = [];
    const sent = connection.run(commands).then((frames) => {
      const refused = frames.find(isErrorFrame);
      if (refused !== undefined) throw new Error(new TextDecoder().decode(refused));
    });
    inFlight.push(sent);
    if (inFlight.length >= 4) await inFlight.shift();
  };
  const pool = random(64 * MIB);
  let cursor = 0;
  const take = (n: number) => {
    if (cursor + n > pool.length) cursor = Math.floor(Math.random() * 1024);
    const slice = pool.subarray(cursor, cursor + n);
    cursor += n + 7;
    return slice;
  };
  try {
    while (written < bytes) {
      const i = keys++;
      const kind = i % 10;
      let argv: (string | Uint8Array)[];
      if (kind < 6) {
        argv = ["SET", `s:${i}`, take(1_024)];
        written += 1_024;
      } else if (kind < 8) {
        argv = [
          "HSET",
          `h:${i}`,
          ...Array.from({ length: 20 }, (_, f) => [`f${f}`, take(100)]).flat(),
        ];
        written += 20 * 103;
      } else if (kind === 8) {
        argv = ["RPUSH", `l:${i}`, ...Array.from({ length: 40 }, () => take(100))];
        written += 40 * 100;
      } else if (i % 20 === 9) {
        argv = [
          "ZADD",
          `z:${i}`,
          ...Array.from({ length: 40 }, (_, m) => [String(m), take(60)]).flat(),
        ];
        written += 40 * 62;
      } else {
        argv = ["SADD", `t:${i}`, ...Array.from({ length: 40 }, () => take(40))];
        written += 40 * 40;
      }
      group.push(encodeCommand(argv));
      if (group.length >= 500) await flush();
    }
    if (group.length > 0) await flush();
    await Promise.all(inFlight);
  } finally {
    connection.close();
  }
  return keys;
}

/** Polls a process's memory while `work` runs; its peak RSS seen (bytes). */
async function watchMemory<T>(pid: number, work: Promise<T>): Promise<{ result: T; peak: number }> {
  let peak = memory(pid).rss;
  let done = false;
  const polling = (async () => {
    while (!done) {
      try {
        peak = Math.max(peak, memory(pid).rss);
      } catch {
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  try {
    return { result: await work, peak };
  } finally {
    done = true;
    await polling;
  }
}

export async function benchRebuild(): Promise<void> {
  const gigabytes = Number(Deno.args[1] ?? Deno.env.get("PYLON_BENCH_REBUILD_GB") ?? 1);
  await ensureRedis();
  await ensureKafka();
  await using kafka = await startKafka({ fullJit: true });
  await using world = await startWorld({ brokers: kafka.brokers, racks: 2 });
  const [a, c] = world.racks as [typeof world.racks[0], typeof world.racks[0]];
  await a.pylon.call("SET", "bench:start", "1");
  await c.pylon.waitApplying();
  const source = await world.master(a);
  let started = performance.now();
  const keys = await generate(source, gigabytes * 1024 * MIB);
  const used = Number((await source.info("memory")).get("used_memory"));
  console.log(
    `dataset: ${keys} keys, ${(used / MIB).toFixed(0)} MiB in Redis, generated in ${
      ((performance.now() - started) / 1000).toFixed(1)
    } s`,
  );
  const rows: string[][] = [];
  const row = (what: string, ms: number, bytes: number, rss: string) =>
    rows.push([what, (ms / 1000).toFixed(1), (bytes / MIB / (ms / 1000)).toFixed(1), rss]);

  // 1. redis-cli --rdb: the snapshot alone, written to a file.
  const dir = await scratchDir("bench-rebuild");
  const file = join(dir, "dump.rdb");
  started = performance.now();
  const cli = new Deno.Command("redis-cli", {
    args: ["-h", source.host, "-p", String(source.port), "--rdb", file],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const { result: status, peak: cliPeak } = await watchMemory(cli.pid, cli.status);
  if (!status.success) throw new Error("redis-cli --rdb failed");
  const rdbBytes = (await Deno.stat(file)).size;
  row(
    "redis-cli --rdb (to a file)",
    performance.now() - started,
    rdbBytes,
    `${(cliPeak / MIB).toFixed(0)} (redis-cli)`,
  );
  await Deno.remove(dir, { recursive: true });

  // 2. REPLICAOF: a full sync into an empty Redis, until it has loaded it.
  {
    await using replica = await startRedis();
    started = performance.now();
    await replica.call("REPLICAOF", source.host, String(source.port));
    await waitFor("the replica to finish its full sync", async () => {
      const info = parseInfo(
        await replica.call("INFO", "replication") + (await replica.call("INFO", "persistence")),
      );
      return info.get("master_link_status") === "up" && info.get("loading") === "0"
        ? true
        : undefined;
    }, { timeoutMs: 30 * 60_000, intervalMs: 50 });
    row("REPLICAOF full sync (Redis to Redis)", performance.now() - started, rdbBytes, "-");
    await replica.call("REPLICAOF", "NO", "ONE");
  }

  // 3. Pylon: rack C rebuilt from rack A over the peer link.
  const pid = c.pylon.service.pid;
  const processes: [string, number][] = [
    ["C's node", pid],
    ["A's node", a.pylon.service.pid],
    ["C's Redis", (await world.master(c)).service.pid],
    ["A's Redis", source.service.pid],
  ];
  const cpuBefore = processes.map(([, p]) => cpuSeconds(p));
  const before = memory(pid);
  const sourceBefore = memory(a.pylon.service.pid);
  const admin = ["--no-auth-warning", "--user", "pylon", "--pass", world.secret];
  started = performance.now();
  const reply = await c.pylon.call(...admin, "PYLON", "REBUILD", "FROM", a.name);
  if (!reply.startsWith("Rebuilding")) throw new Error(reply);
  const phases = new Map<string, number>();
  const { peak } = await watchMemory(
    pid,
    (async () => {
      await waitFor("C's rebuild to finish", async () => {
        const info = await c.pylon.info();
        const phase = info.get("rebuild_phase") ?? "";
        if (!phases.has(phase)) phases.set(phase, performance.now() - started);
        if (phase === "failed") {
          throw new Error(`rebuild failed: ${info.get("rebuild_last_error")}`);
        }
        return phase === "done" ? info : undefined;
      }, { timeoutMs: 60 * 60_000, intervalMs: 100 });
    })(),
  );
  const total = performance.now() - started;
  const cpu = processes.map(([name, p], i) =>
    `${name} ${(cpuSeconds(p) - cpuBefore[i]!).toFixed(1)} s`
  );
  const info = await c.pylon.info();
  const rebuildBytes = Number(info.get("rebuild_bytes"));
  row(
    "Pylon PYLON REBUILD FROM (peer link, RESTORE)",
    total,
    rebuildBytes,
    `${(peak / MIB).toFixed(0)} (node; ${(before.rss / MIB).toFixed(0)} before)`,
  );
  printTable(["what", "seconds", "MiB/s of RDB", "peak RSS MiB"], rows);
  console.log(
    `RDB ${(rdbBytes / MIB).toFixed(0)} MiB; Pylon moved ${(rebuildBytes / MIB).toFixed(0)} MiB, ` +
      `${info.get("rebuild_keys")} keys; phases began at ${
        [...phases].map(([p, ms]) => `${p} ${(ms / 1000).toFixed(1)} s`).join(", ")
      }; source node RSS ${(sourceBefore.rss / MIB).toFixed(0)} MiB before, peak ${
        (memory(a.pylon.service.pid).peak / MIB).toFixed(0)
      } MiB (its process's high-water mark)`,
  );
  console.log(`CPU used during the rebuild: ${cpu.join(", ")} (Redis's fork not counted)`);
  // Equal data: once both nodes stopped, without the metadata db (as tests/world/world.ts compares).
  const target = await world.master(c);
  for (const rack of world.racks) await rack.pylon.stop();
  for (const server of [source, target]) await server.call("-n", "15", "FLUSHDB");
  const equal = (await source.call("DEBUG", "DIGEST")) === (await target.call("DEBUG", "DIGEST"));
  console.log(`C's Redis equals A's (DEBUG DIGEST of the client dbs): ${equal}`);
}
