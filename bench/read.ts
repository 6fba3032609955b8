/**
 * `deno task bench read`: redis-benchmark GET and PING with 50 clients, with
 * and without `-P 16`, against direct Redis, twemproxy and Pylon in front of
 * the same Redis, in one run. Runs alternate between targets and repeat, and
 * the median is reported, so a noisy moment does not favour one target.
 */

import { ensureRedis, freePort, makeCerts, startPylon, startRedis } from "../tests/harness/mod.ts";
import { type BenchResult, median, printTable, redisBenchmark } from "./redis_benchmark.ts";
import { startTwemproxy } from "./twemproxy.ts";
import { cpuMs, rss } from "../tests/harness/proc.ts";

const CLIENTS = 50;
const KEYSPACE = 100_000;
const DATA_SIZE = 16;
const ROUNDS = Number(Deno.env.get("PYLON_BENCH_ROUNDS") ?? 3);

export async function benchRead(): Promise<void> {
  await ensureRedis();
  await using certs = await makeCerts();
  const redisTlsPort = freePort();
  await using redis = await startRedis({
    config: {
      "tls-port": String(redisTlsPort),
      "tls-cert-file": certs.server.certFile,
      "tls-key-file": certs.server.keyFile,
      "tls-ca-cert-file": certs.caFile,
      "tls-auth-clients": "no",
      // Room for the idle-connection row's 10,000 clients beside the benchmark's own.
      "maxclients": "11000",
    },
  });
  await using twemproxy = await startTwemproxy(redis.port);
  const pylonTlsPort = freePort();
  await using pylon = await startPylon({
    redis: { url: redis.url },
    args: [
      "--log-level",
      "warning",
      "--max-clients",
      "11000",
      "--tls-listen",
      `127.0.0.1:${pylonTlsPort}`,
      "--tls-cert",
      certs.server.certFile,
      "--tls-key",
      certs.server.keyFile,
    ],
  });
  // Loaded straight into Redis after Pylon adopted it as a rack: Pylon refuses a Redis holding
  // data it did not write, and a read benchmark only needs the keys to exist.
  await redisBenchmark({
    port: redis.port,
    tests: "set",
    clients: CLIENTS,
    requests: KEYSPACE * 3,
    pipeline: 16,
    keyspace: KEYSPACE,
    dataSize: DATA_SIZE,
  });
  const targets: { name: string; port: number; pid: number; tlsCaFile?: string }[] = [
    { name: "redis", port: redis.port, pid: redis.service.pid },
    { name: "twemproxy", port: twemproxy.port, pid: twemproxy.pid },
    { name: "pylon", port: pylon.port, pid: pylon.service.pid },
    // Client TLS on both: Redis's own TLS port, and Pylon's (Pylon to Redis stays plain here).
    { name: "redis-tls", port: redisTlsPort, pid: redis.service.pid, tlsCaFile: certs.caFile },
    { name: "pylon-tls", port: pylonTlsPort, pid: pylon.service.pid, tlsCaFile: certs.caFile },
  ];
  // CPU per request, GET alone: the proxy's own process time (Redis behind it is not counted).
  const cpu = new Map<string, number[]>();

  const samples = new Map<string, BenchResult[]>();
  for (const pipeline of [1, 16]) {
    const requests = pipeline === 1 ? 200_000 : 1_000_000;
    for (let round = 0; round < ROUNDS; round++) {
      for (const target of targets) {
        // twemproxy answers PING only from 0.5.0 on; GET is the comparison that matters.
        const results = await redisBenchmark({
          port: target.port,
          ...(target.tlsCaFile === undefined ? {} : { tlsCaFile: target.tlsCaFile }),
          tests: target.tlsCaFile === undefined ? "get,ping_mbulk" : "get",
          clients: CLIENTS,
          requests,
          pipeline,
          keyspace: KEYSPACE,
          dataSize: DATA_SIZE,
        });
        for (const r of results) {
          const key = `${target.name}|${r.test}|${pipeline}`;
          samples.set(key, [...(samples.get(key) ?? []), r]);
        }
        if (target.tlsCaFile === undefined) {
          const before = cpuMs(target.pid);
          await redisBenchmark({
            port: target.port,
            tests: "get",
            clients: CLIENTS,
            requests: requests / 2,
            pipeline,
            keyspace: KEYSPACE,
            dataSize: DATA_SIZE,
          });
          const key = `${target.name}|${pipeline}`;
          cpu.set(key, [
            ...(cpu.get(key) ?? []),
            ((cpuMs(target.pid) - before) * 1000) / (requests / 2),
          ]);
        }
        console.error(`bench: ${target.name} -P ${pipeline} round ${round + 1}/${ROUNDS} done`);
      }
    }
  }

  const summary = (target: string, test: string, pipeline: number) => {
    const runs = samples.get(`${target}|${test}|${pipeline}`) ?? [];
    return runs.length === 0 ? undefined : {
      ops: median(runs.map((r) => r.opsPerSec)),
      p50: median(runs.map((r) => r.p50Ms)),
      p99: median(runs.map((r) => r.p99Ms)),
    };
  };
  const rows: string[][] = [];
  for (const test of ["GET", "PING_MBULK"]) {
    for (const pipeline of [1, 16]) {
      const direct = summary("redis", test, pipeline);
      const twem = summary("twemproxy", test, pipeline);
      const directTls = summary("redis-tls", test, pipeline);
      const cpuOf = (name: string) => {
        const runs = cpu.get(`${name}|${pipeline}`);
        return test === "GET" && runs !== undefined ? median(runs).toFixed(1) : "";
      };
      for (const target of targets) {
        const s = summary(target.name, test, pipeline);
        if (s === undefined) continue;
        if (target.name === "pylon-tls") {
          rows.push([
            test,
            String(pipeline),
            target.name,
            Math.round(s.ops).toLocaleString("en-US"),
            s.p50.toFixed(3),
            s.p99.toFixed(3),
            directTls ? `${(s.ops / directTls.ops).toFixed(2)} (÷ redis-tls)` : "",
            "",
            "",
            "",
          ]);
          continue;
        }
        const pylonRow = target.name === "pylon";
        rows.push([
          test,
          String(pipeline),
          target.name,
          Math.round(s.ops).toLocaleString("en-US"),
          s.p50.toFixed(3),
          s.p99.toFixed(3),
          pylonRow && direct ? (s.ops / direct.ops).toFixed(2) : "",
          pylonRow && twem ? (s.ops / twem.ops).toFixed(2) : "",
          pylonRow && twem ? (s.p99 / twem.p99).toFixed(2) : "",
          cpuOf(target.name),
        ]);
      }
    }
  }
  console.log(
    `\nread path: redis-benchmark, ${CLIENTS} clients, ${KEYSPACE} keys of ${DATA_SIZE} bytes, median of ${ROUNDS}`,
  );
  printTable(
    [
      "test",
      "-P",
      "target",
      "ops/s",
      "p50 ms",
      "p99 ms",
      "÷ redis",
      "÷ twemproxy",
      "p99 ÷ twemproxy",
      "CPU µs/GET",
    ],
    rows,
  );
  console.log(
    "(CPU: the serving process's own user+system time per GET, Redis behind a proxy not counted)",
  );
  await idleConnections([
    { name: "redis", port: redis.port, pid: redis.service.pid },
    { name: "twemproxy", port: twemproxy.port, pid: twemproxy.pid },
    { name: "pylon", port: pylon.port, pid: pylon.service.pid },
  ]);
}

const IDLE_CONNECTIONS = Number(Deno.env.get("PYLON_BENCH_IDLE") ?? 10_000);

/** Memory per idle client connection: RSS before and after opening many, each having sent one PING. */
async function idleConnections(targets: { name: string; port: number; pid: number }[]) {
  const rows: string[][] = [];
  for (const target of targets) {
    const before = rss(target.pid);
    const conns: Deno.TcpConn[] = [];
    try {
      for (let i = 0; i < IDLE_CONNECTIONS; i++) {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: target.port });
        conns.push(conn);
      }
      // Every connection used once, so each side has set up what a client that spoke costs.
      const ping = new TextEncoder().encode("PING\r\n");
      const buf = new Uint8Array(64);
      for (const conn of conns) {
        await conn.write(ping);
        await conn.read(buf);
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
      const after = rss(target.pid);
      rows.push([
        target.name,
        IDLE_CONNECTIONS.toLocaleString("en-US"),
        (before / 1024 / 1024).toFixed(0),
        (after / 1024 / 1024).toFixed(0),
        ((after - before) / IDLE_CONNECTIONS / 1024).toFixed(1),
      ]);
    } finally {
      for (const conn of conns) conn.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  console.log(`\nidle connections: RSS of the serving process with ${IDLE_CONNECTIONS} open`);
  printTable(
    ["target", "connections", "RSS before MiB", "RSS after MiB", "KiB per connection"],
    rows,
  );
}
