/**
 * One chaos run: a world, clients writing and reading through every node, the
 * nemesis for a while, then quiescence and the checker's verdict on what every
 * rack's Redis and the log really hold. The history is written as JSON lines
 * so a failure can be studied; the seed replays the same schedule.
 */

import { join } from "node:path";
import { ensureRedis62, scratchDir, waitFor } from "../harness/mod.ts";
import { check, type Verdict } from "./checker.ts";
import { type Clients, startClients } from "./clients.ts";
import { startTimeClients } from "./time_clients.ts";
import { startQueueClients } from "./queue_clients.ts";
import { checkQueues } from "./queue_checker.ts";
import { type Fault, type FaultRecord, FAULTS, runNemesis } from "./nemesis.ts";
import { ChaosWorld } from "./world.ts";
import type { Entry } from "./history.ts";

/** What a run does. */
export interface ChaosOptions {
  seed: number;
  durationMs: number;
  brokers: 1 | 3;
  ackLog: boolean;
  clients: number;
  /** Time clients (tests/chaos/time_clients.ts) beside the basic ones; default none. */
  timeClients?: number;
  /** Queue clients (tests/chaos/queue_clients.ts): producers and blocking consumers; default none. */
  queueClients?: number;
  faults: readonly Fault[];
  /** Take the faults in turn, in the order given, instead of at random (targets stay seeded). */
  inTurn?: boolean;
  /** Where the history goes (default: a scratch folder). */
  historyPath?: string;
  log?: (line: string) => void;
}

/** The outcome of a run. */
export interface ChaosResult {
  ok: boolean;
  verdict: Verdict;
  faults: FaultRecord[];
  historyPath: string;
  summary: string;
}

const COUNTERS = 4;

/** Runs the world through the nemesis and checks it. */
export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const log = options.log ?? ((line: string) => console.error(line));
  // Built once into .cache/ (tests/harness/provision.ts), before the world: never during a fault.
  const olderRedis = options.faults.includes("redis-version") ? await ensureRedis62() : undefined;
  const started = performance.now();
  await using world = await ChaosWorld.start({ brokers: options.brokers, ackLog: options.ackLog });
  log(
    `chaos: world up in ${
      ((performance.now() - started) / 1000).toFixed(1)
    } s (seed ${options.seed})`,
  );
  const basic = startClients({
    targets: () => world.targets(),
    clients: options.clients,
    counters: COUNTERS,
    seed: options.seed,
    replyTimeoutMs: 30_000,
  });
  const timed = startTimeClients({
    targets: () => world.targets(),
    clients: options.timeClients ?? 0,
    firstClient: options.clients,
    seed: options.seed,
    replyTimeoutMs: 30_000,
  });
  const queued = startQueueClients({
    targets: () => world.targets(),
    clients: options.queueClients ?? 0,
    firstClient: options.clients + (options.timeClients ?? 0),
    seed: options.seed,
    replyTimeoutMs: 30_000,
  });
  const clients = both(both(basic, timed), queued);
  let faults: FaultRecord[] = [];
  let end = 0;
  try {
    await waitFor(
      "the first acknowledged writes",
      () => clients.acknowledged() >= 50 ? true : undefined,
      { timeoutMs: 60_000 },
    );
    faults = await runNemesis(world, {
      seed: options.seed,
      durationMs: options.durationMs,
      faults: options.faults,
      inTurn: options.inTurn ?? false,
      log,
      ...(olderRedis === undefined ? {} : { olderRedis }),
    });
    world.heal();
    // After the last fault, writes must flow again through every rack.
    const before = clients.acknowledged();
    await waitFor(
      "writes to flow after the last fault",
      () => clients.acknowledged() >= before + 100 ? true : undefined,
      { timeoutMs: 60_000 },
    );
  } finally {
    await clients.stop();
  }
  end = await world.quiesce(120_000);
  const racks = await world.snapshot();
  // After every rack applied the log's end and was read: see checker.ts on the comparison time.
  const comparisonMs = await world.logTime();
  const logged = await world.readLog(end);
  const history = clients.history;
  const verdict = check(history, racks, logged, comparisonMs);
  // Faults that empty a rack's Redis outright: the README's stated window for claims.
  const emptiedMs = faults.filter((f) =>
    f.fault === "redis-empty" || f.fault === "redis-empty-retention"
  ).map((f) => f.healedMs);
  const queues = checkQueues(history, racks, await world.claims(), emptiedMs);
  for (const { kind, text } of queues.anomalies) {
    verdict.anomalies.push(text);
    verdict.all.push(text);
    verdict.kinds[kind] = (verdict.kinds[kind] ?? 0) + 1;
    verdict.figures.anomalies = (verdict.figures.anomalies ?? 0) + 1;
  }
  if ((options.queueClients ?? 0) > 0) Object.assign(verdict.figures, queues.figures);
  for (const exit of world.unexpectedExits) {
    verdict.anomalies.push(`unexpected exit: ${exit}`);
    verdict.all.push(`unexpected exit: ${exit}`);
    verdict.kinds.unexpected_exit = (verdict.kinds.unexpected_exit ?? 0) + 1;
    verdict.figures.anomalies = (verdict.figures.anomalies ?? 0) + 1;
  }
  for (const { kind, text } of world.faultAnomalies) {
    verdict.anomalies.push(text);
    verdict.all.push(text);
    verdict.kinds[kind] = (verdict.kinds[kind] ?? 0) + 1;
    verdict.figures.anomalies = (verdict.figures.anomalies ?? 0) + 1;
  }
  Object.assign(verdict.figures, figures(history, faults));
  // Rebuilds from a peer's snapshot the nodes made (counted since each node's last start).
  verdict.figures.rebuilds = await world.rebuildsCompleted();

  const historyPath = options.historyPath ??
    join(await scratchDir("chaos-history"), `history-${options.seed}.jsonl`);
  await Deno.writeTextFile(
    historyPath,
    [
      JSON.stringify({ options: { ...options, log: undefined }, faults }),
      ...history.map((e) => JSON.stringify(e)),
    ].join("\n") + "\n",
  );
  const ok = verdict.anomalies.length === 0;
  const anomaliesPath = historyPath.replace(/\.jsonl$/, "") + ".anomalies.txt";
  if (!ok) await Deno.writeTextFile(anomaliesPath, verdict.all.join("\n") + "\n");
  const kinds = new Map<string, Map<string, number>>();
  for (const e of history) {
    const outcomes = kinds.get(e.kind) ?? new Map<string, number>();
    outcomes.set(e.outcome, (outcomes.get(e.outcome) ?? 0) + 1);
    kinds.set(e.kind, outcomes);
  }
  const perKind = [...kinds].map(([kind, outcomes]) => {
    const total = [...outcomes.values()].reduce((a, b) => a + b, 0);
    const others = [...outcomes].filter(([o]) => o !== "ok").map(([o, n]) => `${o} ${n}`);
    return `${kind} ${total}${others.length > 0 ? ` (${others.join(", ")})` : ""}`;
  });
  const refused = [...kinds].filter(([, o]) => o.has("refused")).map(([k, o]) =>
    `${k} ${o.get("refused")}`
  );
  const summary = [
    `chaos: seed ${options.seed}, ${options.brokers} broker(s), ack ${
      options.ackLog ? "log (SET)" : "apply"
    }, ${(options.durationMs / 1000).toFixed(0)} s of faults: ${faults.length} faults (${
      countBy(faults.map((f) => f.fault))
    })`,
    `chaos: ${history.length} operations, ${logged.length} ops in the log; ${
      Object.entries(verdict.figures).map(([k, v]) => `${k}=${v}`).join(" ")
    }`,
    `chaos: operations per kind: ${perKind.join(", ")}`,
    `chaos: refusals: ${refused.length === 0 ? "none" : refused.join(", ")}`,
    ok
      ? "chaos: no anomaly"
      : `chaos: ${verdict.figures.anomalies} anomalies (${
        Object.entries(verdict.kinds).map(([k, n]) => `${k} ${n}`).join(", ")
      }):\n  ${verdict.anomalies.join("\n  ")}`,
    `chaos: history in ${historyPath}${ok ? "" : `, every anomaly in ${anomaliesPath}`}`,
  ].join("\n");
  return { ok, verdict, faults, historyPath, summary };
}

/** Two sets of clients as one: their histories merged in invocation order when read. */
function both(a: Clients, b: Clients): Clients {
  return {
    get history() {
      return [...a.history, ...b.history].sort((x, y) => x.invokeMs - y.invokeMs);
    },
    acknowledged: () => a.acknowledged() + b.acknowledged(),
    async stop() {
      await Promise.all([a.stop(), b.stop()]);
    },
  };
}

function countBy(items: string[]): string {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return [...counts].map(([k, v]) => `${k} ${v}`).join(", ");
}

/** Latency of acknowledged writes, and how soon writes flowed again after each healed fault. */
function figures(history: Entry[], faults: FaultRecord[]): Record<string, number> {
  // Blocking reads wait by design: their latency is not a write's.
  const acked = history.filter((e) =>
    e.outcome === "ok" && e.kind !== "get" &&
    e.kind !== "ismember" && e.kind !== "q-pop" && e.kind !== "q-xread"
  );
  const latencies = acked.map((e) => e.completeMs - e.invokeMs).sort((a, b) => a - b);
  const at = (q: number) => Math.round(latencies[Math.floor(q * (latencies.length - 1))] ?? 0);
  let worstRecovery = 0;
  for (const f of faults) {
    const next = acked.find((e) => e.completeMs >= f.healedMs);
    if (next !== undefined) worstRecovery = Math.max(worstRecovery, next.completeMs - f.healedMs);
  }
  return {
    write_p50_ms: at(0.5),
    write_p99_ms: at(0.99),
    write_max_ms: at(1),
    worst_recovery_ms: Math.round(worstRecovery),
  };
}

/** Every fault the suite has. */
export const ALL_FAULTS = FAULTS;
