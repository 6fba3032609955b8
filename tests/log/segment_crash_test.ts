/**
 * Crash safety of the segment log with a real process: a child appends from
 * many concurrent callers and prints every acknowledged offset; it is killed
 * with SIGKILL mid-write; reopening must show every acknowledged record with
 * its payload, dense offsets, any torn tail cut and reported, and appends
 * going on. Five kills on the same directory, each child continuing the log.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { SegmentLog } from "../../src/log/segment_log.ts";
import { CRASH_LOG_OPTIONS, crashPayload } from "./segment_crash_shared.ts";
import { killAfterAcks } from "../harness/kill_child.ts";

const CHILD = new URL("./segment_crash_child.ts", import.meta.url).pathname;
/** Acknowledgements to see before each kill: early, mid-stream, later. */
const KILL_AFTER_ACKS = [300, 1_500, 3_000, 5_000, 8_000];
/**
 * A bound on the wait, not a speed: each round's fsyncs share a busy 2-core
 * machine with the rest of the suite.
 */
const ROUND_DEADLINE_MS = 60_000;

interface Ack {
  partition: number;
  offset: number;
  id: string;
}

/** Runs the child until it has acknowledged `killAfter` appends, then SIGKILLs it. */
async function runAndKill(dir: string, run: string, killAfter: number): Promise<Ack[]> {
  const acks: Ack[] = [];
  await killAfterAcks({
    script: CHILD,
    args: [dir, run],
    killAfter,
    deadlineMs: ROUND_DEADLINE_MS,
    onLine: (line) => {
      if (!line.startsWith("ready")) {
        const [partition, offset, id] = line.split(" ");
        acks.push({ partition: Number(partition), offset: Number(offset), id: id! });
      }
      return acks.length;
    },
  });
  return acks;
}

/** Bytes of every segment file of a partition, by path. */
async function segmentSizes(dir: string, partition: number): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  const folder = join(dir, `partition-${partition}`);
  for await (const entry of Deno.readDir(folder)) {
    if (entry.name.endsWith(".log")) {
      sizes.set(join(folder, entry.name), (await Deno.stat(join(folder, entry.name))).size);
    }
  }
  return sizes;
}

Deno.test("SegmentLog keeps every acknowledged record through repeated kill -9 of its writer", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pylon-segment-crash-" });
  try {
    const acked = new Map<string, Ack>();
    const extra: string[] = [];
    for (const [round, killAfter] of KILL_AFTER_ACKS.entries()) {
      const run = `r${round}`;
      const acks = await runAndKill(dir, run, killAfter);
      for (const ack of acks) {
        assert.ok(!acked.has(ack.id), `id "${ack.id}" acknowledged twice`);
        acked.set(ack.id, ack);
      }

      const before = await Promise.all(
        Array.from({ length: CRASH_LOG_OPTIONS.partitions }, (_, p) => segmentSizes(dir, p)),
      );
      const log = await SegmentLog.open(dir, CRASH_LOG_OPTIONS);
      try {
        const dropped: string[] = [];
        for (let p = 0; p < log.partitions; p++) {
          const notes = log.recovery.filter((n) => n.partition === p);
          assert.ok(notes.length <= 1);
          // Every byte that opening cut is reported, and only the last segment is cut.
          for (const [path, size] of before[p]!) {
            const now = (await Deno.stat(path)).size;
            const note = notes.find((n) => n.path === path);
            assert.equal(now, size - (note?.droppedBytes ?? 0), `size of "${path}"`);
            if (note !== undefined) {
              assert.equal(path, log.segments(p).at(-1), "only the last segment is cut");
              dropped.push(`${note.droppedBytes} bytes (${note.reason})`);
            }
          }

          const { start, end } = await log.bounds(p);
          const reader = log.reader(p, start);
          const positions = new Map<string, number>();
          try {
            let expected = start;
            while (expected < end) {
              const batch = await reader.next({ recordsMax: 10_000, bytesMax: 8 << 20, waitMs: 0 });
              assert.ok(batch.length > 0, `nothing read at offset "${expected}" of "${end}"`);
              for (const record of batch) {
                assert.equal(record.offset, expected, "offsets are dense");
                expected++;
                const text = new TextDecoder().decode(record.value);
                const id = text.slice(0, text.indexOf("|"));
                assert.deepEqual(record.value, crashPayload(id), `payload of "${id}"`);
                assert.ok(!positions.has(id), `id "${id}" stored twice`);
                positions.set(id, record.offset);
              }
            }
          } finally {
            await reader.close();
          }

          for (const ack of acked.values()) {
            if (ack.partition !== p) continue;
            assert.equal(
              positions.get(ack.id),
              ack.offset,
              `acknowledged "${ack.id}" lost or moved`,
            );
          }
          // Each caller appends one record at a time, so its records form a gapless prefix.
          const next = new Map<string, number>();
          for (const id of [...positions.keys()].filter((id) => /^r\d/.test(id))) {
            const [r, worker, i] = id.split(".");
            const key = `${r}.${worker}`;
            assert.equal(Number(i), next.get(key) ?? 0, `records of caller "${key}" in order`);
            next.set(key, Number(i) + 1);
          }
          // A caller's next append starts only after its previous one was acknowledged, so
          // only its last stored record can lack an acknowledgement (killed before printing).
          for (const id of positions.keys()) {
            if (!/^r\d/.test(id) || acked.has(id)) continue;
            const [r, worker, i] = id.split(".");
            assert.equal(
              Number(i) + 1,
              next.get(`${r}.${worker}`),
              `unacknowledged "${id}" is last`,
            );
          }

          // Appends continue right at the end.
          const id = `check${round}.${p}`;
          assert.equal(await log.append(p, crashPayload(id)), end);
          extra.push(id);
        }
        console.log(
          `kill ${round + 1}: ${acks.length} acknowledged, ${
            log.recovery.length === 0 ? "no torn tail" : `dropped ${dropped.join(", ")}`
          }, bounds ${
            (await Promise.all([0, 1].map((p) => log.bounds(p)))).map((b) => b.end).join("/")
          }`,
        );
      } finally {
        await log.close();
      }
    }
    assert.equal(extra.length, KILL_AFTER_ACKS.length * CRASH_LOG_OPTIONS.partitions);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
