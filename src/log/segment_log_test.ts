import assert from "node:assert/strict";
import { join } from "node:path";
import { LogError, type LogRecord } from "./op_log.ts";
import { SegmentLog, SegmentLogError, type SegmentLogOptions } from "./segment_log.ts";
import { DirectoryInUseError } from "../storage/directory_lock.ts";

const WAIT_MS = 5_000;
const ALL = { recordsMax: 1_000_000, bytesMax: 1 << 30, waitMs: 0 };

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pylon-segment-unit-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function withLog<T>(
  dir: string,
  options: SegmentLogOptions,
  body: (log: SegmentLog) => Promise<T>,
): Promise<T> {
  const log = await SegmentLog.open(dir, options);
  try {
    return await body(log);
  } finally {
    await log.close();
  }
}

function text(value: string): Uint8Array {
  return new TextEncoder().encode(value);
}

function decode(value: Uint8Array): string {
  return new TextDecoder().decode(value);
}

async function readAll(log: SegmentLog, partition: number, from = 0): Promise<LogRecord[]> {
  const reader = log.reader(partition, from);
  try {
    return await reader.next(ALL);
  } finally {
    await reader.close();
  }
}

async function appendTexts(
  log: SegmentLog,
  partition: number,
  values: string[],
): Promise<number[]> {
  return await Promise.all(values.map((v) => log.append(partition, text(v))));
}

function names(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${i}`);
}

/** Segment files of a partition on disk, oldest first. */
async function segmentFiles(dir: string, partition: number): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(join(dir, `partition-${partition}`))) {
    if (entry.name.endsWith(".log")) files.push(join(dir, `partition-${partition}`, entry.name));
  }
  return files.sort();
}

async function fileSize(path: string): Promise<number> {
  return (await Deno.stat(path)).size;
}

async function flipByte(path: string, position: number): Promise<void> {
  const bytes = await Deno.readFile(path);
  bytes[position] = bytes[position]! ^ 0x40;
  await Deno.writeFile(path, bytes);
}

Deno.test("SegmentLog keeps every record of every partition across a reopen", async () => {
  await withDir(async (dir) => {
    const options = { partitions: 3, segmentBytes: 128, indexIntervalRecords: 3 };
    await withLog(dir, options, async (log) => {
      for (let p = 0; p < 3; p++) {
        // One by one, so batches are small and the segments roll.
        for (const value of names(`p${p}-`, 40 + p * 10)) await log.append(p, text(value));
      }
    });
    await withLog(dir, options, async (log) => {
      assert.deepEqual(log.recovery, [], "a clean close leaves nothing to recover");
      for (let p = 0; p < 3; p++) {
        assert.deepEqual(await log.bounds(p), { start: 0, end: 40 + p * 10 });
        const records = await readAll(log, p);
        assert.deepEqual(records.map((r) => decode(r.value)), names(`p${p}-`, 40 + p * 10));
        assert.deepEqual(records.map((r) => r.offset), [...Array(40 + p * 10).keys()]);
      }
      assert.ok(log.segments(0).length > 1, "the test spans segments");
      assert.equal(await log.append(0, text("after reopen")), 40);
    });
  });
});

Deno.test("SegmentLog drops a tail torn mid-record and appends continue at the right offset", async () => {
  await withDir(async (dir) => {
    const options = { partitions: 1 };
    await withLog(dir, options, (log) => appendTexts(log, 0, names("r", 10)));
    const [segment] = await segmentFiles(dir, 0);
    const size = await fileSize(segment!);
    // Each record is 8 header bytes + "rN" (2 bytes): cut the last one in half.
    await Deno.truncate(segment!, size - 5);
    await withLog(dir, options, async (log) => {
      assert.equal(log.recovery.length, 1);
      assert.equal(log.recovery[0]!.droppedBytes, 5, "the header and half of r9 were dropped");
      assert.equal(log.recovery[0]!.validBytes, size - 10);
      assert.match(log.recovery[0]!.reason, /torn record/);
      assert.equal(
        await fileSize(segment!),
        size - 10,
        "the file was cut at the last whole record",
      );
      assert.deepEqual(await log.bounds(0), { start: 0, end: 9 });
      assert.equal(await log.append(0, text("r9 again")), 9);
      assert.deepEqual(
        (await readAll(log, 0)).map((r) => decode(r.value)),
        [...names("r", 9), "r9 again"],
      );
    });
    await withLog(dir, options, async (log) => {
      assert.deepEqual(log.recovery, [], "the cut was durable; nothing more to recover");
      assert.equal((await log.bounds(0)).end, 10);
    });
  });
});

Deno.test("SegmentLog drops garbage and zero-filled tails after the last record", async () => {
  await withDir(async (dir) => {
    const options = { partitions: 1 };
    await withLog(dir, options, (log) => appendTexts(log, 0, names("r", 5)));
    const [segment] = await segmentFiles(dir, 0);
    const size = await fileSize(segment!);
    const file = await Deno.open(segment!, { append: true });
    await file.write(Uint8Array.of(0, 0, 0, 3, 1, 2, 3, 4, 9, 9, 9, 7, 7));
    file.close();
    await withLog(dir, options, async (log) => {
      assert.equal(log.recovery[0]?.droppedBytes, 13);
      assert.match(log.recovery[0]!.reason, /checksum/);
      assert.equal(await log.append(0, text("r5")), 5);
    });
    // A tail of zeros reads as "length 0, crc 0": it must not pass for empty records.
    const grown = await Deno.open(segment!, { append: true });
    await grown.write(new Uint8Array(64));
    grown.close();
    await withLog(dir, options, async (log) => {
      assert.equal(log.recovery[0]?.droppedBytes, 64);
      assert.deepEqual((await readAll(log, 0)).map((r) => decode(r.value)), names("r", 6));
      assert.equal(await fileSize(segment!), size + 10);
    });
  });
});

Deno.test("SegmentLog detects a flipped byte in the last record by its CRC and drops it", async () => {
  await withDir(async (dir) => {
    const options = { partitions: 1 };
    await withLog(dir, options, (log) => appendTexts(log, 0, names("record-", 8)));
    const [segment] = await segmentFiles(dir, 0);
    const size = await fileSize(segment!);
    await flipByte(segment!, size - 2);
    await withLog(dir, options, async (log) => {
      assert.equal(log.recovery.length, 1);
      assert.match(log.recovery[0]!.reason, /checksum mismatch at offset "7"/);
      assert.equal(log.recovery[0]!.droppedBytes, 8 + "record-7".length);
      assert.deepEqual(await log.bounds(0), { start: 0, end: 7 });
      assert.equal(await log.append(0, text("record-7")), 7);
    });
  });
});

Deno.test("SegmentLog refuses to open when a segment before the last one is torn or corrupt", async () => {
  await withDir(async (dir) => {
    const options = { partitions: 1, segmentBytes: 100 };
    await withLog(dir, options, async (log) => {
      for (let i = 0; i < 30; i++) await log.append(0, text(`record ${i}`));
    });
    const files = await segmentFiles(dir, 0);
    assert.ok(files.length >= 3, `segments: ${files.length}`);
    const sealed = files[1]!;
    const bytes = await Deno.readFile(sealed);

    await Deno.truncate(sealed, bytes.length - 3);
    await assert.rejects(
      SegmentLog.open(dir, options),
      (error: Error) => {
        assert.ok(error instanceof SegmentLogError);
        assert.match(error.message, /is corrupt at offset .*torn record.*not the last segment/);
        assert.ok(error.message.includes(sealed), error.message);
        return true;
      },
    );
    assert.equal(await fileSize(sealed), bytes.length - 3, "nothing was cut from a sealed segment");

    await Deno.writeFile(sealed, bytes);
    await flipByte(sealed, 12);
    await assert.rejects(SegmentLog.open(dir, options), SegmentLogError, "checksum mismatch");

    await Deno.writeFile(sealed, bytes);
    await Deno.remove(sealed);
    await assert.rejects(SegmentLog.open(dir, options), SegmentLogError, "missing or overlap");

    await Deno.writeFile(sealed, bytes);
    await withLog(dir, options, async (log) => {
      assert.equal((await readAll(log, 0)).length, 30, "restored, it opens again");
    });
  });
});

Deno.test("SegmentLog rolls segments at segmentBytes and reads across them from any offset", async () => {
  await withDir(async (dir) => {
    const options = { partitions: 1, segmentBytes: 256, indexIntervalRecords: 4 };
    await withLog(dir, options, async (log) => {
      const values = names("value-", 200).map((v, i) => v + "#".repeat(i % 17));
      for (const value of values) await log.append(0, text(value));
      const segments = log.segments(0);
      assert.ok(segments.length > 10, `${segments.length} segments`);
      assert.deepEqual(segments, await segmentFiles(dir, 0));
      assert.ok(segments[0]!.endsWith("00000000000000000000.log"));
      let expectedBase = 0;
      for (const path of segments) {
        const base = Number(path.slice(-24, -4));
        assert.equal(base, expectedBase, "each segment starts where the one before ends");
        const size = await fileSize(path);
        if (path !== segments[segments.length - 1]) {
          assert.ok(size >= 256 && size < 256 + 64, `sealed segment of ${size} bytes`);
        }
        // Count the records of this segment from its bytes.
        const bytes = await Deno.readFile(path);
        let at = 0;
        while (at < bytes.length) {
          at += 8 + new DataView(bytes.buffer).getUint32(at);
          expectedBase++;
        }
      }
      assert.equal(expectedBase, 200);

      for (const from of [0, 1, 3, 4, 5, 57, 63, 64, 127, 198, 199]) {
        const reader = log.reader(0, from);
        try {
          const got: LogRecord[] = [];
          while (got.length < 200 - from) {
            got.push(...await reader.next({ recordsMax: 7, bytesMax: 1 << 20, waitMs: WAIT_MS }));
          }
          assert.deepEqual(
            got.map((r) => r.offset),
            [...Array(200 - from).keys()].map((i) => i + from),
          );
          assert.deepEqual(got.map((r) => decode(r.value)), values.slice(from));
        } finally {
          await reader.close();
        }
      }
    });
  });
});

Deno.test("SegmentLog readers follow appends into new segments while they read", async () => {
  await withDir(async (dir) => {
    await withLog(dir, { partitions: 1, segmentBytes: 128 }, async (log) => {
      const reader = log.reader(0, 0);
      try {
        const got: string[] = [];
        const reading = (async () => {
          while (got.length < 300) {
            const batch = await reader.next({ recordsMax: 5, bytesMax: 1 << 20, waitMs: WAIT_MS });
            assert.ok(batch.length > 0, `the reader starved after ${got.length} records`);
            got.push(...batch.map((r) => decode(r.value)));
          }
        })();
        for (let i = 0; i < 300; i += 10) await appendTexts(log, 0, names(`${i}:`, 10));
        await reading;
        assert.equal(got.length, 300);
        assert.deepEqual(got.slice(0, 3), ["0:0", "0:1", "0:2"]);
        assert.equal(got[299], "290:9");
      } finally {
        await reader.close();
      }
    });
  });
});

Deno.test("SegmentLog does one fsync per batch under concurrent appends", async () => {
  await withDir(async (dir) => {
    await withLog(dir, { partitions: 2, batchRecordsMax: 50 }, async (log) => {
      const callers = 64;
      const each = 30;
      await Promise.all(Array.from({ length: callers }, async (_, caller) => {
        for (let i = 0; i < each; i++) await log.append(caller % 2, text(`${caller}/${i}`));
      }));
      const records = callers * each;
      assert.equal(log.fsyncs, log.batches, "one fsync per batch, no more");
      assert.ok(log.batches < records / 4, `${log.batches} batches for ${records} records`);
      assert.ok(log.batches >= records / 50, "batches respect batchRecordsMax");
      const before = log.fsyncs;
      await log.append(0, text("alone"));
      assert.equal(log.fsyncs, before + 1, "an idle log syncs a lone append at once");
    });
  });
});

Deno.test("SegmentLog refuses a different partition count, a foreign metadata file and a second opener", async () => {
  await withDir(async (dir) => {
    await withLog(dir, { partitions: 4 }, async (log) => {
      await log.append(3, text("x"));
      await assert.rejects(
        SegmentLog.open(dir, { partitions: 4 }),
        DirectoryInUseError,
        "already open",
      );
    });
    await assert.rejects(
      SegmentLog.open(dir, { partitions: 2 }),
      SegmentLogError,
      `has "4" partitions, not "2"`,
    );
    await withLog(dir, { partitions: 4 }, async (log) => {
      assert.deepEqual(await log.bounds(3), { start: 0, end: 1 }, "the refusal changed nothing");
    });
    await Deno.writeTextFile(join(dir, "pylon-log.json"), `{"partitions": 4}`);
    await assert.rejects(
      SegmentLog.open(dir, { partitions: 4 }),
      SegmentLogError,
      "not the metadata",
    );
    await Deno.remove(join(dir, "pylon-log.json"));
    await assert.rejects(
      SegmentLog.open(dir, { partitions: 4 }),
      SegmentLogError,
      'no "pylon-log.json"',
    );
  });
});

Deno.test("SegmentLog opens after a crash that left an empty new segment", async () => {
  await withDir(async (dir) => {
    const options = { partitions: 1, segmentBytes: 64 };
    await withLog(dir, options, async (log) => {
      for (let i = 0; i < 12; i++) await log.append(0, text(`record ${i}`));
    });
    const end = 12;
    const empty = join(dir, "partition-0", `${String(end).padStart(20, "0")}.log`);
    await Deno.writeFile(empty, new Uint8Array(0));
    await withLog(dir, options, async (log) => {
      assert.deepEqual(log.recovery, []);
      assert.deepEqual(await log.bounds(0), { start: 0, end });
      assert.equal(await log.append(0, text("next")), end);
      assert.equal(log.segments(0).at(-1), empty, "the empty segment is used, not replaced");
      assert.equal((await readAll(log, 0)).length, end + 1);
    });
  });
});

Deno.test("SegmentLog readers report bytes damaged after opening instead of returning them", async () => {
  await withDir(async (dir) => {
    // Written by an earlier process: a reader of this one reads them from the file.
    await withLog(dir, { partitions: 1 }, (log) => appendTexts(log, 0, names("value ", 5)));
    await withLog(dir, { partitions: 1 }, async (log) => {
      const [segment] = await segmentFiles(dir, 0);
      const handle = await Deno.open(segment!, { write: true });
      await handle.seek(8 + 3, Deno.SeekMode.Start);
      await handle.write(text("X"));
      handle.close();
      const reader = log.reader(0, 0);
      try {
        await assert.rejects(reader.next(ALL), SegmentLogError, "checksum mismatch");
      } finally {
        await reader.close();
      }
    });
  });
});

Deno.test("SegmentLog hands a reader at the end the appended arrays themselves", async () => {
  await withDir(async (dir) => {
    await withLog(dir, { partitions: 1 }, async (log) => {
      const records = [text("a"), text("b")];
      const reader = log.reader(0, 0);
      try {
        await Promise.all(records.map((r) => log.append(0, r)));
        const read = await reader.next(ALL);
        assert.deepEqual(read.map((r) => r.offset), [0, 1]);
        assert.equal(read[0]!.value, records[0]);
        assert.equal(read[1]!.value, records[1]);
      } finally {
        await reader.close();
      }
    });
  });
});

Deno.test("SegmentLog readers: seek() wakes a waiting next(), bad arguments and closed logs fail clearly", async () => {
  await withDir(async (dir) => {
    const log = await SegmentLog.open(dir, { partitions: 1 });
    await log.append(0, text("a"));
    const reader = log.reader(0, 1);
    const started = performance.now();
    const waiting = reader.next({ recordsMax: 1, bytesMax: 1, waitMs: WAIT_MS });
    await assert.rejects(reader.next(ALL), /already pending/);
    reader.seek(0);
    assert.deepEqual(await waiting, [], "the seek ended the wait");
    assert.ok(performance.now() - started < WAIT_MS / 2);
    assert.deepEqual((await reader.next(ALL)).map((r) => decode(r.value)), ["a"]);

    assert.throws(() => reader.seek(-1), RangeError);
    assert.throws(() => reader.seek(1.5), RangeError);
    assert.throws(() => log.reader(1, 0), RangeError);
    await assert.rejects(reader.next({ ...ALL, recordsMax: 0 }), RangeError);
    await assert.rejects(
      log.append(1, text("x")),
      (e: Error) => e instanceof LogError && !e.maybeAppended,
    );
    reader.seek(5);
    await assert.rejects(reader.next(ALL), RangeError, `past the end "1"`);

    reader.seek(1);
    const ended = reader.next({ recordsMax: 1, bytesMax: 1, waitMs: WAIT_MS });
    await log.close();
    assert.deepEqual(await ended, [], "close() woke the waiting reader");
    await assert.rejects(reader.next(ALL), /The log is closed/);
    assert.throws(() => log.reader(0, 0), /The log is closed/);
    await assert.rejects(log.append(0, text("late")), LogError);
    await log.close();
  });
});

Deno.test("SegmentLog refuses a record above recordBytesMax without writing anything", async () => {
  await withDir(async (dir) => {
    await withLog(dir, { partitions: 1, recordBytesMax: 16 }, async (log) => {
      await assert.rejects(
        log.append(0, new Uint8Array(17)),
        (e: Error) =>
          e instanceof LogError && !e.maybeAppended && /exceeds the bound "16"/.test(e.message),
      );
      assert.equal(await log.append(0, new Uint8Array(16)), 0);
      assert.equal(log.batches, 1);
    });
  });
});

Deno.test("SegmentLog retention removes old segments only below what was applied, and reopens", async () => {
  await withDir(async (dir) => {
    const options = { partitions: 1, segmentBytes: 100 };
    await withLog(dir, options, async (log) => {
      // 40 records of 20 bytes (+8 of framing): a new segment about every 4 records.
      for (let i = 0; i < 40; i++) {
        await log.append(0, text(`record-${String(i).padStart(13, "0")}`));
      }
      const segments = log.segments(0).length;
      assert.ok(segments >= 8, `${segments} segments`);
      const reader = log.reader(0, 0);
      await reader.next({ recordsMax: 1, bytesMax: 1 << 20, waitMs: 0 });
      // Over the size bound, but nothing applied past offset 10: only segments wholly below 10 go.
      const freed = await log.retain(0, { keepFrom: 10, bytesMax: 0, ageMsMax: Infinity });
      assert.ok(freed > 0);
      const { start, end } = await log.bounds(0);
      assert.ok(start > 0 && start <= 10, `start ${start}`);
      assert.equal(end, 40);
      // Within bounds: nothing more goes even though more was applied.
      assert.equal(await log.retain(0, { keepFrom: 40, bytesMax: 1 << 30, ageMsMax: Infinity }), 0);
      // A reader left below the new start is told so (as Kafka says "offset out of range").
      await assert.rejects(
        reader.next({ recordsMax: 100, bytesMax: 1 << 20, waitMs: 0 }),
        /before the start/,
      );
      await reader.close();
      const fromStart = await readAll(log, 0, start);
      assert.deepEqual(
        fromStart.map((r) => r.offset),
        Array.from({ length: 40 - start }, (_, i) => start + i),
      );
      await assert.rejects(log.reader(0, start - 1).next(ALL), "below the start is an error");
      // The segment being written is never removed.
      await log.retain(0, { keepFrom: 40, bytesMax: 0, ageMsMax: 0 });
      assert.equal(log.segments(0).length, 1);
    });
    await withLog(dir, options, async (log) => {
      const { start, end } = await log.bounds(0);
      assert.equal(end, 40);
      assert.equal(
        decode((await readAll(log, 0, start))[0]!.value),
        `record-${String(start).padStart(13, "0")}`,
      );
      assert.equal(await log.append(0, text("after")), 40);
    });
  });
});
