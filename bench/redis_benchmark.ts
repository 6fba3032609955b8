/** Runs `redis-benchmark` against one target and reads its CSV: ops/s and latency percentiles. */

/** One test's result. */
export interface BenchResult {
  test: string;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

/** Options of {@linkcode redisBenchmark}. */
export interface BenchRun {
  /** Connect over TLS, trusting this CA. */
  tlsCaFile?: string;
  port: number;
  tests: string;
  clients: number;
  requests: number;
  pipeline: number;
  keyspace: number;
  dataSize: number;
}

/** Runs one `redis-benchmark` and returns a result per test. */
export async function redisBenchmark(run: BenchRun): Promise<BenchResult[]> {
  const { success, stdout, stderr } = await new Deno.Command("redis-benchmark", {
    args: [
      "-h",
      "127.0.0.1",
      "-p",
      String(run.port),
      "-c",
      String(run.clients),
      "-n",
      String(run.requests),
      "-P",
      String(run.pipeline),
      "-t",
      run.tests,
      "-r",
      String(run.keyspace),
      "-d",
      String(run.dataSize),
      "--csv",
      ...(run.tlsCaFile === undefined ? [] : ["--tls", "--cacert", run.tlsCaFile]),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout);
  if (!success) {
    throw new Error(`redis-benchmark failed: ${out}${new TextDecoder().decode(stderr)}`);
  }
  const results: BenchResult[] = [];
  for (const line of out.trim().split("\n").slice(1)) {
    const cells = line.split(",").map((c) => c.replaceAll('"', ""));
    const [test, rps, , , p50, , p99] = cells;
    if (test === undefined || rps === undefined || p50 === undefined || p99 === undefined) continue;
    results.push({ test, opsPerSec: Number(rps), p50Ms: Number(p50), p99Ms: Number(p99) });
  }
  if (results.length === 0) throw new Error(`redis-benchmark printed no results: ${out}`);
  return results;
}

/** The median of some numbers. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Prints rows as an aligned text table. */
export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join("  ");
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of rows) console.log(line(row));
}
