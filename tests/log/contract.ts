/**
 * The contract every {@linkcode OpLog} keeps, as Deno tests: the embedded
 * segment log and the Kafka log both run it.
 *
 * `open()` must give a fresh, empty log with at least two partitions (empty:
 * `bounds().end === bounds().start`, whatever `start` is) and dispose of it
 * afterwards; disposing must be safe after the test already closed the log.
 * Nothing here assumes offsets start at 0 or anything about files or brokers.
 * Every wait has a deadline; nothing sleeps to synchronise.
 */

import assert from "node:assert/strict";
import { LogError, type LogReader, type LogRecord, type OpLog } from "../../src/log/op_log.ts";

/** A fresh log for one test, disposed of when the test ends. */
export type OpenLog = () => Promise<{ log: OpLog } & AsyncDisposable>;

/** Options of {@linkcode opLogContract}. */
export interface ContractOptions {
  /** Deno's op and resource sanitizers (default true); a client with background sockets may need false. */
  sanitize?: boolean;
  /** Scale for every deadline, for slow implementations or machines (default 1). */
  deadlineScale?: number;
}

const TEST_DEADLINE_MS = 60_000;
const WAIT_MS = 10_000;
const ALL = { recordsMax: 100_000, bytesMax: 64 * 1024 * 1024, waitMs: 0 };

/** Registers the contract's tests for the log `open()` makes, named after `name`. */
export function opLogContract(name: string, open: OpenLog, options: ContractOptions = {}): void {
  const scale = options.deadlineScale ?? 1;
  const sanitize = options.sanitize ?? true;
  const test = (title: string, body: (log: OpLog, waitMs: number) => Promise<void>): void => {
    Deno.test({
      name: `${name}: ${title}`,
      sanitizeOps: sanitize,
      sanitizeResources: sanitize,
      fn: async () => {
        await using fixture = await within(TEST_DEADLINE_MS * scale, open(), "open()");
        assert.ok(
          fixture.log.partitions >= 2,
          `the contract needs at least 2 partitions, got "${fixture.log.partitions}"`,
        );
        await within(TEST_DEADLINE_MS * scale, body(fixture.log, WAIT_MS * scale), title);
      },
    });
  };

  test("a fresh log is empty and appends get dense offsets from bounds().start", async (log) => {
    const before = await log.bounds(0);
    assert.equal(before.end, before.start, "a fresh log holds no records");
    for (let i = 0; i < 20; i++) {
      assert.equal(await log.append(0, text(`record ${i}`)), before.start + i);
    }
    assert.deepEqual(await log.bounds(0), { start: before.start, end: before.start + 20 });
  });

  test("bounds() tracks appends and start stays put", async (log) => {
    const { start } = await log.bounds(1);
    const offsets = await Promise.all(
      Array.from({ length: 7 }, (_, i) => log.append(1, text(`${i}`))),
    );
    assert.deepEqual(offsets, [0, 1, 2, 3, 4, 5, 6].map((i) => start + i));
    assert.deepEqual(await log.bounds(1), { start, end: start + 7 });
    await log.append(1, text("one more"));
    assert.deepEqual(await log.bounds(1), { start, end: start + 8 });
  });

  test("a burst of concurrent appends resolves in arrival order and reads back identically", async (log) => {
    const { start } = await log.bounds(0);
    const count = 3000;
    const values = Array.from(
      { length: count },
      (_, i) => text(`burst ${i} ${"x".repeat(i % 50)}`),
    );
    // Issued in one synchronous loop: arrival order is index order.
    const offsets = await Promise.all(values.map((value) => log.append(0, value)));
    assert.deepEqual(offsets, values.map((_, i) => start + i));
    const read = await readFrom(log, 0, start, count);
    assert.deepEqual(read.map((r) => r.offset), offsets);
    read.forEach((r, i) => assert.deepEqual(r.value, values[i], `record at offset "${r.offset}"`));
  });

  test("many async callers appending in loops get distinct, dense offsets in their own order", async (log) => {
    const { start } = await log.bounds(0);
    const callers = 64;
    const each = 40;
    const byOffset = new Map<number, string>();
    await Promise.all(Array.from({ length: callers }, async (_, caller) => {
      let previous = -1;
      for (let i = 0; i < each; i++) {
        const id = `caller ${caller} record ${i}`;
        const offset = await log.append(0, text(id));
        assert.ok(offset > previous, `caller ${caller}: offset "${offset}" after "${previous}"`);
        assert.ok(!byOffset.has(offset), `offset "${offset}" given twice`);
        byOffset.set(offset, id);
        previous = offset;
      }
    }));
    const total = callers * each;
    assert.deepEqual([...byOffset.keys()].sort((a, b) => a - b), range(start, start + total));
    assert.deepEqual(await log.bounds(0), { start, end: start + total });
    for (const record of await readFrom(log, 0, start, total)) {
      assert.equal(decode(record.value), byOffset.get(record.offset));
    }
  });

  test("readers start from the start, the middle, or the end", async (log, waitMs) => {
    const { start } = await log.bounds(0);
    for (let i = 0; i < 50; i++) await log.append(0, text(`r${i}`));
    const fromStart = await readFrom(log, 0, start, 50);
    assert.deepEqual(fromStart.map((r) => decode(r.value)), range(0, 50).map((i) => `r${i}`));

    const middle = log.reader(0, start + 37);
    try {
      const first = await middle.next({ recordsMax: 1, bytesMax: 1024, waitMs });
      assert.equal(first.length, 1);
      assert.equal(first[0]!.offset, start + 37);
      assert.equal(decode(first[0]!.value), "r37");
      const rest = await readAll(middle, 12);
      assert.deepEqual(rest.map((r) => r.offset), range(start + 38, start + 50));
    } finally {
      await middle.close();
    }

    const atEnd = log.reader(0, start + 50);
    try {
      assert.deepEqual(await atEnd.next({ recordsMax: 10, bytesMax: 1024, waitMs: 0 }), []);
    } finally {
      await atEnd.close();
    }
  });

  test(
    "a reader at the end waits and receives a later append before its deadline",
    async (log, waitMs) => {
      const { end } = await log.bounds(1);
      const reader = log.reader(1, end);
      try {
        const started = performance.now();
        const pending = reader.next({ recordsMax: 10, bytesMax: 1024, waitMs });
        const offset = await log.append(1, text("late"));
        const got = await pending;
        const elapsedMs = performance.now() - started;
        assert.equal(got.length, 1);
        assert.equal(got[0]!.offset, offset);
        assert.equal(decode(got[0]!.value), "late");
        assert.ok(elapsedMs < waitMs, `woke after ${elapsedMs.toFixed(0)} ms, not at once`);
        // And again, with the reader already waiting across an event-loop turn.
        const second = reader.next({ recordsMax: 10, bytesMax: 1024, waitMs });
        await new Promise<void>((resolve) => setTimeout(resolve, 0));
        await log.append(1, text("later"));
        assert.deepEqual((await second).map((r) => decode(r.value)), ["later"]);
      } finally {
        await reader.close();
      }
    },
  );

  test("next() returns no records once waitMs passes with nothing appended", async (log) => {
    const { end } = await log.bounds(0);
    const reader = log.reader(0, end);
    try {
      const waitMs = 250;
      const started = performance.now();
      assert.deepEqual(await reader.next({ recordsMax: 10, bytesMax: 1024, waitMs }), []);
      const elapsedMs = performance.now() - started;
      assert.ok(elapsedMs >= waitMs - 25, `returned after ${elapsedMs.toFixed(0)} ms`);
      assert.ok(elapsedMs < waitMs + 5_000, `returned after ${elapsedMs.toFixed(0)} ms`);
      // The reader is still usable at the same position.
      const offset = await log.append(0, text("after the wait"));
      const got = await reader.next({ recordsMax: 10, bytesMax: 1024, waitMs: WAIT_MS });
      assert.deepEqual(got.map((r) => r.offset), [offset]);
    } finally {
      await reader.close();
    }
  });

  test(
    "next() respects recordsMax and bytesMax and always returns at least one record",
    async (log, waitMs) => {
      const { start } = await log.bounds(0);
      for (let i = 0; i < 30; i++) await log.append(0, new Uint8Array(100).fill(i));

      const byCount = log.reader(0, start);
      try {
        const got: LogRecord[] = [];
        while (got.length < 30) {
          const batch = await byCount.next({ recordsMax: 4, bytesMax: 1 << 20, waitMs });
          assert.ok(batch.length >= 1 && batch.length <= 4, `batch of ${batch.length}`);
          got.push(...batch);
        }
        assert.deepEqual(got.map((r) => r.offset), range(start, start + 30));
      } finally {
        await byCount.close();
      }

      const byBytes = log.reader(0, start);
      try {
        const got: LogRecord[] = [];
        while (got.length < 30) {
          const batch = await byBytes.next({ recordsMax: 1000, bytesMax: 250, waitMs });
          const bytes = batch.reduce((sum, r) => sum + r.value.length, 0);
          assert.ok(batch.length >= 1, "at least one record");
          assert.ok(bytes <= 250, `batch of ${batch.length} records, ${bytes} bytes`);
          got.push(...batch);
        }
        assert.deepEqual(got.map((r) => r.offset), range(start, start + 30));
        got.forEach((r, i) => assert.deepEqual(r.value, new Uint8Array(100).fill(i)));
      } finally {
        await byBytes.close();
      }

      const tiny = log.reader(0, start + 5);
      try {
        const batch = await tiny.next({ recordsMax: 1000, bytesMax: 1, waitMs });
        assert.deepEqual(batch.map((r) => r.offset), [start + 5], "one record even past bytesMax");
      } finally {
        await tiny.close();
      }
    },
  );

  test("seek() moves a reader backwards and forwards", async (log, waitMs) => {
    const { start } = await log.bounds(1);
    for (let i = 0; i < 20; i++) await log.append(1, text(`s${i}`));
    const reader = log.reader(1, start);
    try {
      await readAll(reader, 20);
      reader.seek(start + 3);
      const back = await reader.next({ recordsMax: 2, bytesMax: 1 << 20, waitMs });
      assert.equal(back[0]?.offset, start + 3);
      assert.equal(decode(back[0]!.value), "s3");
      reader.seek(start + 15);
      const forward = await readAll(reader, 5);
      assert.deepEqual(forward.map((r) => decode(r.value)), range(15, 20).map((i) => `s${i}`));
      reader.seek(start);
      assert.deepEqual((await readAll(reader, 20)).map((r) => r.offset), range(start, start + 20));
      // Seeking to the end makes the reader wait for what comes next.
      reader.seek(start + 20);
      const pending = reader.next({ recordsMax: 10, bytesMax: 1 << 20, waitMs });
      const offset = await log.append(1, text("next"));
      assert.deepEqual((await pending).map((r) => r.offset), [offset]);
    } finally {
      await reader.close();
    }
  });

  test("reading before the start or past the end is an error", async (log) => {
    await log.append(0, text("only"));
    const { start, end } = await log.bounds(0);
    await assertReadFails(log, 0, end + 5, "past the end");
    await assertReadFails(log, 0, start - 1, "before the start");
  });

  test(
    "binary payloads come back byte for byte: every byte value, empty, 1 MiB",
    async (log, waitMs) => {
      const everyByte = Uint8Array.from({ length: 256 }, (_, i) => i);
      const reversed = everyByte.slice().reverse();
      const empty = new Uint8Array(0);
      const large = pseudoRandomBytes(1024 * 1024, 7);
      const singles = Array.from({ length: 256 }, (_, i) => Uint8Array.of(i));
      const values = [everyByte, empty, large, reversed, empty, ...singles];
      const offsets = await Promise.all(values.map((value) => log.append(1, value)));
      const reader = log.reader(1, offsets[0]!);
      try {
        const read: LogRecord[] = [];
        while (read.length < values.length) {
          const batch = await reader.next({ recordsMax: 1000, bytesMax: 4 << 20, waitMs });
          assert.ok(batch.length > 0, "records were appended, so next() must return some");
          read.push(...batch);
        }
        assert.deepEqual(read.map((r) => r.offset), offsets);
        read.forEach((r, i) => assert.deepEqual(r.value, values[i], `value #${i}`));
      } finally {
        await reader.close();
      }
    },
  );

  test("partitions are independent", async (log) => {
    const start0 = (await log.bounds(0)).start;
    const start1 = (await log.bounds(1)).start;
    const appends: Promise<number>[] = [];
    for (let i = 0; i < 100; i++) {
      appends.push(log.append(i % 3 === 0 ? 1 : 0, text(`${i % 3 === 0 ? "one" : "zero"} ${i}`)));
    }
    const offsets = await Promise.all(appends);
    const zero = offsets.filter((_, i) => i % 3 !== 0);
    const one = offsets.filter((_, i) => i % 3 === 0);
    assert.deepEqual(zero, range(start0, start0 + zero.length));
    assert.deepEqual(one, range(start1, start1 + one.length));
    assert.deepEqual(await log.bounds(0), { start: start0, end: start0 + zero.length });
    assert.deepEqual(await log.bounds(1), { start: start1, end: start1 + one.length });
    const read0 = await readFrom(log, 0, start0, zero.length);
    const read1 = await readFrom(log, 1, start1, one.length);
    assert.ok(read0.every((r) => decode(r.value).startsWith("zero ")));
    assert.ok(read1.every((r) => decode(r.value).startsWith("one ")));
  });

  test("close() settles pending appends, ends readers and resolves", async (log, waitMs) => {
    const waiting = log.reader(1, (await log.bounds(1)).end);
    const pendingRead = waiting.next({ recordsMax: 10, bytesMax: 1024, waitMs });
    const appends = Array.from({ length: 100 }, (_, i) => log.append(0, text(`closing ${i}`)));
    const settled = Promise.allSettled(appends);
    await log.close();
    for (const result of await settled) {
      if (result.status === "rejected") {
        assert.ok(result.reason instanceof LogError, `rejected with ${result.reason}`);
      }
    }
    // A reader waiting at the end does not hold close() or the test until its deadline.
    await pendingRead.then(
      (records) => assert.deepEqual(records, []),
      (error) => assert.ok(error instanceof Error),
    );
    await waiting.close().catch(() => {});
    await assert.rejects(log.append(0, text("after close")), LogError);
  });
}

/** Reads exactly `count` records from `reader`. */
async function readAll(reader: LogReader, count: number): Promise<LogRecord[]> {
  const records: LogRecord[] = [];
  while (records.length < count) {
    const batch = await reader.next({
      ...ALL,
      recordsMax: count - records.length,
      waitMs: WAIT_MS,
    });
    assert.ok(batch.length > 0, `next() gave nothing after ${records.length} of ${count} records`);
    records.push(...batch);
  }
  return records;
}

/** Reads exactly `count` records of `partition` from `offset` with a reader of its own. */
async function readFrom(
  log: OpLog,
  partition: number,
  offset: number,
  count: number,
): Promise<LogRecord[]> {
  const reader = log.reader(partition, offset);
  try {
    return await readAll(reader, count);
  } finally {
    await reader.close();
  }
}

/** Reading at `offset` fails: reader(), seek() or next() may be the one that throws. */
async function assertReadFails(log: OpLog, partition: number, offset: number, what: string) {
  let reader: LogReader;
  try {
    reader = log.reader(partition, offset);
  } catch (error) {
    assert.ok(error instanceof Error, `reading ${what}: ${error}`);
    return;
  }
  try {
    await assert.rejects(
      reader.next({ recordsMax: 10, bytesMax: 1024, waitMs: 1_000 }),
      Error,
      `reading ${what} (offset "${offset}") must fail`,
    );
  } finally {
    await reader.close().catch(() => {});
  }
}

/** Resolves with `promise` or fails once `ms` pass. */
async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`"${what}" did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function text(value: string): Uint8Array {
  return new TextEncoder().encode(value);
}

function decode(value: Uint8Array): string {
  return new TextDecoder().decode(value);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/** Deterministic bytes (xorshift32), so a failure replays. */
export function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    bytes[i] = state & 0xff;
  }
  return bytes;
}
