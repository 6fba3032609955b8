/**
 * Latency of FileStorage.save() of one entry and a hard state (the common
 * path of a Ready bundle), next to a bare write + fdatasync of a record of
 * the same size on the same disk, so the storage's own cost shows.
 *
 * Usage: deno run --allow-read --allow-write tests/raft/storage/save_latency.ts [saves] [dir]
 */

import { FileStorage } from "../../../src/raft/file_storage.ts";

const SAVES_DEFAULT = 5_000;
const WARMUP_SAVES = 200;
const ENTRY_BYTES = 64;

const saves = Number(Deno.args[0] ?? SAVES_DEFAULT);
const parent = Deno.args[1];
const dir = await Deno.makeTempDir({
  prefix: "pylon-raft-latency-",
  ...(parent === undefined ? {} : { dir: parent }),
});

function summary(name: string, samplesMs: number[]): string {
  const sorted = samplesMs.slice().sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  const mean = sorted.reduce((sum, x) => sum + x, 0) / sorted.length;
  return `${name}: n=${sorted.length} p50=${at(0.5).toFixed(3)} ms p90=${at(0.9).toFixed(3)} ms ` +
    `p99=${at(0.99).toFixed(3)} ms max=${sorted.at(-1)!.toFixed(3)} ms mean=${mean.toFixed(3)} ms`;
}

try {
  const storage = await FileStorage.open(dir);
  const data = new Uint8Array(ENTRY_BYTES).fill(7);
  const samples: number[] = [];
  let recordBytes = 0;
  for (let i = 1; i <= WARMUP_SAVES + saves; i++) {
    const before = storage.walBytes;
    const started = performance.now();
    await storage.save(
      { term: 1, vote: "n1", commit: i - 1 },
      [{ index: i, term: 1, type: "normal", data }],
      undefined,
    );
    if (i > WARMUP_SAVES) samples.push(performance.now() - started);
    recordBytes = storage.walBytes - before;
  }
  const fsyncsPerSave = storage.fsyncs / (WARMUP_SAVES + saves);
  await storage.close();

  const file = await Deno.open(`${dir}/baseline`, { write: true, create: true });
  const record = new Uint8Array(recordBytes).fill(1);
  const baseline: number[] = [];
  for (let i = 0; i < WARMUP_SAVES + saves; i++) {
    const started = performance.now();
    await file.write(record);
    await file.syncData();
    if (i >= WARMUP_SAVES) baseline.push(performance.now() - started);
  }
  file.close();

  console.log(
    `dir ${dir}; one record is ${recordBytes} bytes; ${fsyncsPerSave.toFixed(3)} fsyncs per save`,
  );
  console.log(summary("save(hardState, [1 entry])", samples));
  console.log(summary("bare write + fdatasync     ", baseline));
} finally {
  await Deno.remove(dir, { recursive: true });
}
