/**
 * `deno task bench divergence`: what the outcome fingerprints cost the
 * applier. The same log of ops (INCR, SET, HSET, a transaction every 50th,
 * a PUBLISH every 20th) is applied to an emptied Redis by an applier with the
 * divergence checker's hook and by one without, alternately; each run's
 * ops/s, this process's CPU per op, and the CPU time spent in the hook
 * itself per op (measured around each call, in the same runs).
 */

import { Applier } from "../src/applier/applier.ts";
import { HandBack } from "../src/applier/hand_back.ts";
import { RackProgress } from "../src/applier/rack_progress.ts";
import { readPosition } from "../src/applier/rack_reads.ts";
import { DivergenceChecker } from "../src/divergence/checker.ts";
import { DivergenceGuard } from "../src/divergence/guard.ts";
import { LAYOUT_VERSION } from "../src/identity/rack_marker.ts";
import { encodeOp, type Op } from "../src/log/op.ts";
import { newOpId } from "../src/log/op_id.ts";
import { SegmentLog } from "../src/log/segment_log.ts";
import type { HostPort } from "../src/net/address.ts";
import { Upstream } from "../src/redis/upstream.ts";
import { PendingWrites } from "../src/write/pending_writes.ts";
import { ensureRedis, startRedis, waitFor } from "../tests/harness/mod.ts";
import { cpuMs } from "../tests/harness/proc.ts";
import { median, printTable } from "./redis_benchmark.ts";
import { cpuUsage } from "node:process";

const OPS = Number(Deno.env.get("PYLON_BENCH_OPS") ?? 200_000);
const ROUNDS = Number(Deno.env.get("PYLON_BENCH_ROUNDS") ?? 3);
const META_DB = 15;
const encoder = new TextEncoder();

/** Op `i` of the workload. */
function op(i: number): Op {
  const argv = (...a: string[]) => a.map((x) => encoder.encode(x));
  const now = Date.now();
  const base = {
    id: newOpId(now),
    origin: "bench",
    rack: "r",
    db: 0,
    protocol: 2 as const,
    acceptedAtMs: now,
  };
  if (i % 50 === 0) {
    return {
      ...base,
      transaction: true,
      commands: [argv("INCR", "tx"), argv("SET", `k:${i}`, "v")],
    };
  }
  const command = i % 20 === 1
    ? argv("PUBLISH", "ch", "m")
    : i % 3 === 0
    ? argv("INCR", `c:${i % 1000}`)
    : i % 3 === 1
    ? argv("SET", `k:${i % 10_000}`, "0123456789abcdef")
    : argv("HSET", `h:${i % 1000}`, `f${i % 10}`, "v");
  return { ...base, transaction: false, commands: [command] };
}

/** A checker that records (it has peers) but never finds any to ask. */
function recordingChecker(): DivergenceChecker {
  const guard = new DivergenceGuard({
    read: () => Promise.resolve(undefined),
    write: () => Promise.resolve(),
  });
  return new DivergenceChecker({
    rack: "r",
    partitions: 1,
    metaDb: META_DB,
    applier: () => undefined,
    peers: { rackLeaders: () => [], ask: () => Promise.reject(new Error("none")) },
    guard,
    connect: () => Promise.resolve(undefined),
    dbs: () => [0],
    dataKeysPerSecond: 0,
  });
}

/** Applies the whole log once to an emptied Redis; ops/s and µs of this process's CPU per op. */
async function applyAll(
  log: SegmentLog,
  redis: { call: (...a: string[]) => Promise<string> },
  upstream: Upstream,
  withHook: boolean,
): Promise<{ opsPerSec: number; cpuUsPerOp: number; hookUsPerOp: number }> {
  await redis.call("FLUSHALL");
  const pending = new PendingWrites();
  const checker = withHook ? recordingChecker() : undefined;
  let hookMs = 0;
  const applier = new Applier(log, {
    master: {
      address: () => upstream.address,
      onChange: () => {},
      connect: (address: HostPort) => upstream.connectPipeline(address),
    },
    replies: new HandBack(pending, { nodeId: "other", rack: "r" }),
    metaDb: META_DB,
    marker: { layout: LAYOUT_VERSION, log: log.id },
    progress: new RackProgress(1, readPosition(upstream, META_DB)),
    ...(checker === undefined ? {} : {
      outcomes: {
        applied: (p, first, ops, r, body) => {
          // CPU time, not wall time: a busy machine deschedules the process mid-call.
          const before = cpuUsage();
          checker.applied(p, first, ops, r, body);
          const after = cpuUsage(before);
          hookMs += (after.user + after.system) / 1000;
        },
        halted: () => undefined,
        nextStop: () => Infinity,
        atStop: () => Promise.resolve(),
      },
    }),
  });
  const startedAt = performance.now();
  const cpuBefore = cpuMs(Deno.pid);
  applier.start();
  await waitFor(
    "the whole log applied",
    () => applier.status()[0]?.position === OPS ? true : undefined,
    { timeoutMs: 600_000, intervalMs: 5 },
  );
  const seconds = (performance.now() - startedAt) / 1000;
  const cpu = cpuMs(Deno.pid) - cpuBefore;
  await applier.stop();
  return {
    opsPerSec: OPS / seconds,
    cpuUsPerOp: (cpu * 1000) / OPS,
    hookUsPerOp: hookMs * 1000 / OPS,
  };
}

/** `deno task bench divergence`. */
export async function benchDivergence(): Promise<void> {
  await ensureRedis();
  await using redis = await startRedis();
  const dir = await Deno.makeTempDir({ prefix: "bench-divergence-" });
  const log = await SegmentLog.open(dir, { partitions: 1 });
  const upstream = new Upstream({ kind: "direct", host: redis.host, port: redis.port, access: {} });
  await upstream.start();
  try {
    console.log(`writing ${OPS} ops to an embedded log ...`);
    for (let i = 0; i < OPS; i += 5_000) {
      const chunk = Array.from({ length: Math.min(5_000, OPS - i) }, (_, j) => op(i + j));
      await Promise.all(chunk.map((o) => log.append(0, encodeOp(o))));
    }
    const runs: Record<string, { opsPerSec: number; cpuUsPerOp: number; hookUsPerOp: number }[]> = {
      without: [],
      with: [],
    };
    for (let round = 0; round < ROUNDS; round++) {
      for (const withHook of [false, true]) {
        const run = await applyAll(log, redis, upstream, withHook);
        runs[withHook ? "with" : "without"]!.push(run);
        console.log(
          `round ${round + 1} ${withHook ? "with" : "without"} fingerprints: ` +
            `${run.opsPerSec.toFixed(0)} ops/s, ${run.cpuUsPerOp.toFixed(2)} µs CPU per op` +
            (withHook ? `, ${run.hookUsPerOp.toFixed(3)} µs per op in the hook` : ""),
        );
      }
    }
    const m = (
      kind: string,
      f: (r: { opsPerSec: number; cpuUsPerOp: number; hookUsPerOp: number }) => number,
    ) => median(runs[kind]!.map(f));
    printTable(["applier", "ops/s (median)", "CPU µs/op (median)", "in the hook µs/op"], [
      [
        "without fingerprints",
        m("without", (r) => r.opsPerSec).toFixed(0),
        m("without", (r) => r.cpuUsPerOp).toFixed(2),
        "-",
      ],
      [
        "with fingerprints",
        m("with", (r) => r.opsPerSec).toFixed(0),
        m("with", (r) => r.cpuUsPerOp).toFixed(2),
        m("with", (r) => r.hookUsPerOp).toFixed(3),
      ],
    ]);
    console.log(
      `ops/s with ÷ without: ${
        (m("with", (r) => r.opsPerSec) / m("without", (r) => r.opsPerSec)).toFixed(3)
      }; ` +
        `the hook's share of the CPU per op: ${
          (100 * m("with", (r) => r.hookUsPerOp) / m("with", (r) => r.cpuUsPerOp)).toFixed(1)
        }%`,
    );
  } finally {
    upstream.stop();
    await log.close();
    await Deno.remove(dir, { recursive: true });
  }
}
