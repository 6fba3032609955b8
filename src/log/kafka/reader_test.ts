import assert from "node:assert/strict";
import { BUFFERED_BYTES_MAX, BUFFERED_RECORDS_MAX, KafkaPartitionReader } from "./reader.ts";
import type { FetchResult } from "./fetcher.ts";
import { onFatal } from "../../observe/fatal.ts";

/**
 * A partition in memory, fetched as Kafka does: whole batches of `batch`
 * records from the one holding `offset`, as many as fit in `bytesMax`, and
 * always at least one batch (KIP-74).
 */
function twinPartition(sizes: number[], batch: number) {
  const fetches: { offset: number; bytesMax: number; bufferedRecords: number }[] = [];
  let reader: KafkaPartitionReader | undefined;
  const fetcher = {
    partition: 0,
    fetch(offset: number, bytesMax: number): Promise<FetchResult> {
      fetches.push({ offset, bytesMax, bufferedRecords: reader?.bufferedRecords ?? 0 });
      const records: FetchResult["records"] = [];
      let bytes = 0;
      for (let first = offset - (offset % batch); first < sizes.length; first += batch) {
        const end = Math.min(first + batch, sizes.length);
        const batchBytes = sizes.slice(first, end).reduce((a, b) => a + b, 0);
        if (records.length > 0 && bytes + batchBytes > bytesMax) break;
        for (let o = first; o < end; o++) {
          records.push({ offset: o, value: new Uint8Array(sizes[o]!).fill(o % 251) });
        }
        bytes += batchBytes;
      }
      return Promise.resolve({ records, highWatermark: sizes.length });
    },
    close() {},
  };
  const open = (options: { bufferedRecordsMax?: number; bufferedBytesMax?: number }) => {
    reader = new KafkaPartitionReader([], {
      topic: "t",
      partition: 0,
      offset: 0,
      clientId: "test",
      bounds: () => Promise.resolve({ start: 0, end: sizes.length }),
      fetcher,
      ...options,
    });
    return reader;
  };
  return { fetches, open };
}

/** Reads the whole partition in small steps, checking the bounds between steps. */
async function readAll(
  reader: KafkaPartitionReader,
  count: number,
  check: () => void,
): Promise<number[]> {
  const offsets: number[] = [];
  while (offsets.length < count) {
    const records = await reader.next({ recordsMax: 7, bytesMax: 1 << 20, waitMs: 50 });
    for (const record of records) {
      assert.equal(record.value[0], record.offset % 251, "each record is its own");
      offsets.push(record.offset);
    }
    check();
  }
  return offsets;
}

/** Runs `body` with fatal stops recorded instead of ending the process. */
async function noFatal(body: () => Promise<void>): Promise<void> {
  const stops: string[] = [];
  const previous = onFatal((reason) => stops.push(reason));
  try {
    await body();
  } finally {
    onFatal(previous);
  }
  assert.deepEqual(stops, [], "a bound was breached");
}

Deno.test("the Kafka reader's bounds have their documented defaults", () => {
  const reader = twinPartition([1], 1).open({});
  assert.equal(reader.bufferedRecordsMax, BUFFERED_RECORDS_MAX);
  assert.equal(BUFFERED_RECORDS_MAX, 10_000);
  assert.equal(reader.bufferedBytesMax, BUFFERED_BYTES_MAX);
  assert.equal(BUFFERED_BYTES_MAX, 16 * 1024 * 1024);
  assert.throws(() => twinPartition([1], 1).open({ bufferedRecordsMax: 0 }), /bufferedRecordsMax/);
});

Deno.test("the Kafka reader never buffers more than bufferedRecordsMax records, whole batches notwithstanding", async () => {
  await noFatal(async () => {
    const { fetches, open } = twinPartition(Array(1_000).fill(10), 100);
    const reader = open({ bufferedRecordsMax: 64 });
    let most = 0;
    const offsets = await readAll(reader, 1_000, () => {
      most = Math.max(most, reader.bufferedRecords);
      assert.ok(reader.bufferedRecords <= 64, `${reader.bufferedRecords} records buffered`);
    });
    assert.deepEqual(offsets, Array.from({ length: 1_000 }, (_, i) => i), "every record, in order");
    assert.equal(most, 64, "the buffer fills up to its bound");
    assert.ok(fetches.every((f) => f.bufferedRecords < 64), "no fetch while the buffer is full");
    await reader.close();
  });
});

Deno.test("the Kafka reader never buffers more than bufferedBytesMax, and asks no fetch for more than the room left", async () => {
  await noFatal(async () => {
    const { fetches, open } = twinPartition(Array(500).fill(100), 10);
    const reader = open({ bufferedBytesMax: 2_500 });
    const offsets = await readAll(reader, 500, () => {
      assert.ok(reader.bufferedBytes <= 2_500, `${reader.bufferedBytes} bytes buffered`);
    });
    assert.equal(offsets.length, 500);
    assert.ok(fetches.every((f) => f.bytesMax <= 2_500 && f.bytesMax >= 1), "fetch sizes");
    await reader.close();
  });
});

Deno.test("a record larger than bufferedBytesMax is taken alone, so it cannot stall the reader", async () => {
  await noFatal(async () => {
    const sizes = [10, 10, 5_000, 10, 10];
    const { open } = twinPartition(sizes, 1);
    const reader = open({ bufferedBytesMax: 1_000 });
    const offsets = await readAll(reader, sizes.length, () => {
      assert.ok(
        reader.bufferedBytes <= 1_000 || reader.bufferedRecords === 1,
        `${reader.bufferedBytes} bytes in ${reader.bufferedRecords} records`,
      );
    });
    assert.deepEqual(offsets, [0, 1, 2, 3, 4]);
    await reader.close();
  });
});

Deno.test("the Kafka reader pauses at its bound while nothing is read, and refills once half is read", async () => {
  await noFatal(async () => {
    const { fetches, open } = twinPartition(Array(10_000).fill(10), 1_000);
    const reader = open({ bufferedRecordsMax: 100 });
    const turns = async () => {
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 0));
    };
    const take = (n: number) => reader.next({ recordsMax: n, bytesMax: 1 << 20, waitMs: 50 });
    assert.equal((await take(1)).length, 1);
    await turns();
    const filled = fetches.length;
    assert.equal(filled, 1, "one fetch filled the buffer (its batch was larger than the bound)");
    assert.equal(reader.bufferedRecords, 99);
    assert.equal((await take(40)).length, 40);
    await turns();
    assert.equal(fetches.length, filled, "no fetch while more than half the buffer is unread");
    assert.equal((await take(9)).length, 9);
    await turns();
    assert.equal(fetches.length, filled + 1, "half read: one fetch refills it");
    assert.equal(reader.bufferedRecords, 100);
    assert.deepEqual(fetches.map((f) => f.offset), [0, 100], "it fetches on from where it stopped");
    await reader.close();
  });
});
