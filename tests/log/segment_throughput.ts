/**
 * Append throughput of the segment log with fsync: `callers` concurrent
 * appenders of `recordBytes`-byte records to one partition for `seconds`.
 *
 * Usage: deno run --allow-read --allow-write tests/log/segment_throughput.ts
 *          [callers=64] [recordBytes=100] [seconds=5] [dir=<temp>]
 */

import { SegmentLog } from "../../src/log/segment_log.ts";

const callers = Number(Deno.args[0] ?? 64);
const recordBytes = Number(Deno.args[1] ?? 100);
const seconds = Number(Deno.args[2] ?? 5);
const given = Deno.args[3];
const dir = given ?? await Deno.makeTempDir({ prefix: "pylon-segment-throughput-" });

const log = await SegmentLog.open(dir, { partitions: 1 });
try {
  const record = new Uint8Array(recordBytes).fill(0x61);
  const latenciesMs: number[] = [];
  const started = performance.now();
  const until = started + seconds * 1000;
  let appended = 0;
  await Promise.all(Array.from({ length: callers }, async () => {
    while (performance.now() < until) {
      const t = performance.now();
      await log.append(0, record);
      latenciesMs.push(performance.now() - t);
      appended++;
    }
  }));
  const elapsedS = (performance.now() - started) / 1000;
  latenciesMs.sort((a, b) => a - b);
  const quantile = (q: number) => latenciesMs[Math.floor(q * (latenciesMs.length - 1))]!.toFixed(2);
  console.log(
    `${callers} callers, ${recordBytes}-byte records, ${elapsedS.toFixed(1)} s: ` +
      `${Math.round(appended / elapsedS)} records/s, ` +
      `${Math.round(log.fsyncs / elapsedS)} fsyncs/s, ` +
      `${(appended / log.batches).toFixed(1)} records/batch, ` +
      `latency p50 ${quantile(0.5)} ms p99 ${quantile(0.99)} ms`,
  );
} finally {
  await log.close();
  if (given === undefined) await Deno.remove(dir, { recursive: true });
}
