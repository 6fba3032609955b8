/** FileStorage: every write and its reopen, the read contracts, Raft's invariants, fsync counts. */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FileStorage, SnapshotOutOfDateError } from "../../../src/raft/file_storage.ts";
import { CompactedError, UnavailableError } from "../../../src/raft/types.ts";
import { RECORD_BYTES_MAX, scanWal } from "../../../src/raft/wal.ts";
import { DirectoryInUseError } from "../../../src/storage/directory_lock.ts";
import { bytes, conf, entries, hs, reopen, tempDir, view } from "./helpers.ts";

Deno.test("FileStorage opens a fresh directory empty", async () => {
  await using dir = await tempDir();
  const storage = await FileStorage.open(dir.path);
  try {
    assert.deepEqual(storage.initialState(), {
      hardState: { term: 0, vote: "", commit: 0 },
      conf: { voters: [], learners: [] },
    });
    assert.equal(storage.firstIndex(), 1);
    assert.equal(storage.lastIndex(), 0);
    assert.equal(storage.term(0), 0);
    assert.deepEqual(storage.entries(1, 1, 0), []);
    assert.deepEqual(storage.snapshot(), {
      index: 0,
      term: 0,
      conf: { voters: [], learners: [] },
      data: new Uint8Array(0),
    });
    assert.equal(storage.recovery, undefined);
  } finally {
    await storage.close();
  }
});

Deno.test("every write survives a reopen", async () => {
  await using dir = await tempDir();
  let s = await FileStorage.open(dir.path, { initialConf: conf(["a", "b", "c"], ["d"]) });
  try {
    const first = entries(1, 3, 1);
    first[1] = { ...first[1]!, type: "conf" };
    await s.append(first);
    s = await reopen(s);
    assert.deepEqual(s.entries(1, 4, 1 << 20), first);

    await s.setHardState(hs(1, "a", 2));
    s = await reopen(s);
    assert.deepEqual(s.initialState().hardState, hs(1, "a", 2));

    await s.save(hs(2, "b", 3), entries(4, 5, 2), undefined);
    s = await reopen(s);
    assert.equal(s.lastIndex(), 5);
    assert.equal(s.term(5), 2);

    assert.deepEqual(s.initialState().conf, conf(["a", "b", "c"], ["d"]), "the initial conf");

    const snap = await s.createSnapshot(3, conf(["a", "b"]), bytes("state at 3"));
    assert.deepEqual(snap, {
      index: 3,
      term: 1,
      conf: conf(["a", "b"]),
      data: bytes("state at 3"),
    });
    s = await reopen(s);
    assert.deepEqual(s.snapshot(), snap);
    assert.equal(s.firstIndex(), 1, "createSnapshot() keeps the log");
    assert.deepEqual(s.initialState().conf, conf(["a", "b"]), "the conf is the snapshot's");

    await s.compact(3);
    s = await reopen(s);
    assert.equal(s.firstIndex(), 4);
    assert.equal(s.term(3), 1);

    await s.append(entries(6, 8, 2));
    s = await reopen(s);
    assert.equal(s.lastIndex(), 8);

    await s.applySnapshot({ index: 20, term: 3, conf: conf(["x", "y"]), data: bytes("at 20") });
    s = await reopen(s);
    assert.equal(s.firstIndex(), 21);
    assert.equal(s.lastIndex(), 20);
    assert.equal(s.term(20), 3);
    assert.deepEqual(s.initialState().conf, conf(["x", "y"]), "the snapshot's conf is stored");

    await s.save(hs(3, "x", 20), entries(21, 22, 3), undefined);
    s = await reopen(s);

    await s.save(
      hs(4, "y", 30),
      entries(31, 32, 4),
      { index: 30, term: 4, conf: conf(["y"]), data: bytes("at 30") },
    );
    s = await reopen(s);
    assert.deepEqual(view(s), {
      hardState: hs(4, "y", 30),
      conf: conf(["y"]),
      snapshot: { index: 30, term: 4, conf: conf(["y"]), data: bytes("at 30") },
      firstIndex: 31,
      lastIndex: 32,
      baseTerm: 4,
      entries: entries(31, 32, 4),
    });
  } finally {
    await s.close();
  }
});

Deno.test("append() truncates a conflicting suffix and the truncation survives a reopen", async () => {
  await using dir = await tempDir();
  let s = await FileStorage.open(dir.path);
  try {
    await s.save(hs(1, "a", 1), entries(1, 5, 1), undefined);
    const before = s.fsyncs;
    await s.save(hs(2, "b", 1), entries(3, 4, 2, "new"), undefined);
    assert.equal(s.fsyncs - before, 1, "truncation, entries and hard state are one record");
    const expected = [...entries(1, 2, 1), ...entries(3, 4, 2, "new")];
    assert.deepEqual(s.entries(1, 5, 1 << 20), expected);
    assert.throws(() => s.term(5), UnavailableError);
    s = await reopen(s);
    assert.deepEqual(s.entries(1, 5, 1 << 20), expected);
    assert.equal(s.lastIndex(), 4);

    // A longer replacement, then appending goes on after it.
    await s.append(entries(4, 7, 3));
    await s.append(entries(8, 8, 3));
    s = await reopen(s);
    assert.deepEqual(s.entries(3, 9, 1 << 20), [...entries(3, 3, 2, "new"), ...entries(4, 8, 3)]);
  } finally {
    await s.close();
  }
});

Deno.test("append() refuses gaps, falling terms and changes to committed entries, and stays usable", async () => {
  await using dir = await tempDir();
  let s = await FileStorage.open(dir.path);
  try {
    await s.save(hs(2, "a", 3), [...entries(1, 3, 1), ...entries(4, 5, 2)], undefined);
    const before = view(s);
    await assert.rejects(s.append(entries(7, 7, 2)), /leave a gap/);
    await assert.rejects(s.append(entries(6, 6, 1)), /below the term/);
    await assert.rejects(s.append([...entries(6, 6, 2), ...entries(8, 8, 2)]), /dense/);
    await assert.rejects(s.append([...entries(6, 6, 3), ...entries(7, 7, 2)]), /below the term/);
    await assert.rejects(s.append(entries(3, 5, 2)), /replace committed entry "3"/);
    await assert.rejects(s.append(entries(2, 2, 1)), /drop committed entry "3"/);
    await assert.rejects(s.append(entries(0, 1, 1)), /1 or more/);
    assert.deepEqual(view(s), before, "a refused write changes nothing");

    // Committed entries may come again unchanged, with a new suffix after them.
    await s.append([...entries(2, 3, 1), ...entries(4, 4, 3)]);
    assert.deepEqual(s.entries(1, 5, 1 << 20), [...entries(1, 3, 1), ...entries(4, 4, 3)]);
    s = await reopen(s);
    assert.equal(s.lastIndex(), 4);
  } finally {
    await s.close();
  }
});

Deno.test("the hard state survives a reopen and never goes back", async () => {
  await using dir = await tempDir();
  let s = await FileStorage.open(dir.path);
  try {
    await s.setHardState(hs(5, "", 0));
    await s.setHardState(hs(5, "b", 0));
    s = await reopen(s);
    assert.deepEqual(s.initialState().hardState, hs(5, "b", 0));
    await assert.rejects(s.setHardState(hs(4, "b", 0)), /Term "4" is below/);
    await assert.rejects(s.setHardState(hs(5, "c", 0)), /replaces vote "b" within term "5"/);
    await assert.rejects(s.setHardState(hs(5, "", 0)), /replaces vote "b"/);
    await s.setHardState(hs(6, "", 2));
    await assert.rejects(s.setHardState(hs(6, "", 1)), /Commit "1" is below/);
    await assert.rejects(s.setHardState(hs(6.5, "", 2)), /safe integer/);
    s = await reopen(s);
    assert.deepEqual(s.initialState().hardState, hs(6, "", 2));
  } finally {
    await s.close();
  }
});

Deno.test("snapshot, compact and reopen: entries stay until compact() and old files go", async () => {
  await using dir = await tempDir();
  let s = await FileStorage.open(dir.path);
  try {
    await s.save(hs(2, "a", 8), [...entries(1, 4, 1), ...entries(5, 10, 2)], undefined);
    const snap = await s.createSnapshot(6, conf(["a", "b", "c"]), bytes("six"));
    assert.equal(snap.term, 2);
    assert.deepEqual(s.entries(1, 11, 1 << 20), [...entries(1, 4, 1), ...entries(5, 10, 2)]);

    const rewrites = s.rewrites;
    const walBefore = s.walPath;
    await s.compact(4);
    assert.equal(s.rewrites, rewrites + 1, "compact() writes a fresh WAL");
    assert.notEqual(s.walPath, walBefore);
    await assert.rejects(Deno.stat(walBefore), Deno.errors.NotFound);
    assert.equal(s.firstIndex(), 5);
    assert.equal(s.term(4), 1);
    s = await reopen(s);

    await s.compact(6);
    s = await reopen(s);
    assert.equal(s.firstIndex(), 7);
    assert.equal(s.term(6), 2);
    assert.deepEqual(s.entries(7, 11, 1 << 20), entries(7, 10, 2));
    assert.deepEqual(s.snapshot(), snap);

    await assert.rejects(s.compact(8), /not covered by the snapshot at "6"/);
    const before = s.rewrites;
    await s.compact(6); // at the compaction point or below it: nothing to do
    await s.compact(2);
    assert.equal(s.rewrites, before);
    assert.equal(s.firstIndex(), 7);
    await assert.rejects(s.createSnapshot(6, conf(["a"]), bytes("")), SnapshotOutOfDateError);
    await assert.rejects(s.createSnapshot(11, conf(["a"]), bytes("")), UnavailableError);
    await assert.rejects(
      s.applySnapshot({ index: 5, term: 2, conf: conf([]), data: bytes("") }),
      SnapshotOutOfDateError,
    );

    const next = await s.createSnapshot(9, conf(["a"]), bytes("nine"));
    await s.compact(9);
    s = await reopen(s);
    assert.deepEqual(s.snapshot(), next);
    assert.equal(s.firstIndex(), 10);
    const files = [];
    for await (const entry of Deno.readDir(dir.path)) files.push(entry.name);
    assert.deepEqual(
      files.filter((name) => name.startsWith("snap-")),
      [`snap-${"9".padStart(20, "0")}-${"2".padStart(20, "0")}.snap`],
      "only the live snapshot's file is kept",
    );
    assert.equal(files.filter((name) => name.startsWith("wal-")).length, 1);
  } finally {
    await s.close();
  }
});

Deno.test("applySnapshot() empties the log even where it matches, and keeps what follows in the same save", async () => {
  await using dir = await tempDir();
  let s = await FileStorage.open(dir.path);
  try {
    await s.save(hs(2, "a", 3), [...entries(1, 3, 1), ...entries(4, 6, 2)], undefined);
    await s.applySnapshot({ index: 5, term: 2, conf: conf(["p", "q"]), data: bytes("five") });
    assert.equal(s.firstIndex(), 6);
    assert.equal(s.lastIndex(), 5, "the matching entry 6 is not kept");
    assert.equal(s.term(5), 2);
    assert.throws(() => s.entries(5, 6, 0), CompactedError);
    s = await reopen(s);

    await s.save(hs(3, "p", 5), entries(6, 7, 3), {
      index: 5,
      term: 2,
      conf: conf([]),
      data: bytes(""),
    }).then(() => assert.fail("an equal snapshot is out of date"), (error) => {
      assert.ok(error instanceof SnapshotOutOfDateError);
    });
    assert.equal(s.lastIndex(), 5, "nothing of a refused save is applied");
  } finally {
    await s.close();
  }
});

Deno.test("reads throw CompactedError below the first index and UnavailableError past the last", async () => {
  await using dir = await tempDir();
  const s = await FileStorage.open(dir.path);
  try {
    await s.save(hs(3, "a", 8), [...entries(1, 5, 1), ...entries(6, 10, 3)], undefined);
    await s.createSnapshot(5, conf(["a"]), bytes("five"));
    await s.compact(5);

    assert.equal(s.firstIndex(), 6);
    assert.equal(s.lastIndex(), 10);
    assert.equal(s.term(5), 1, "the term at the compaction point is kept");
    assert.equal(s.term(10), 3);
    assert.throws(() => s.term(4), CompactedError);
    assert.throws(() => s.term(0), CompactedError);
    assert.throws(() => s.term(11), UnavailableError);
    assert.throws(() => s.entries(5, 7, 1 << 20), CompactedError);
    assert.throws(() => s.entries(1, 2, 1 << 20), CompactedError);
    assert.throws(() => s.entries(6, 12, 1 << 20), UnavailableError);
    assert.throws(() => s.entries(11, 12, 1 << 20), UnavailableError);
    assert.throws(() => s.entries(8, 7, 1 << 20), RangeError);
    assert.deepEqual(s.entries(11, 11, 0), [], "an empty range at the end");
    assert.deepEqual(s.entries(6, 11, 1 << 20), entries(6, 10, 3));

    // At least one entry, then as many as fit in maxBytes of data (each is 4 bytes: "6@3").
    const size = entries(6, 6, 3)[0]!.data.length;
    assert.deepEqual(s.entries(6, 11, 0), entries(6, 6, 3));
    assert.deepEqual(s.entries(6, 11, size), entries(6, 6, 3));
    assert.deepEqual(s.entries(6, 11, 3 * size), entries(6, 8, 3));
    assert.deepEqual(s.entries(6, 11, 3 * size + 1), entries(6, 8, 3));
  } finally {
    await s.close();
  }
});

Deno.test("returned arrays are the caller's, and written entries and data are copied", async () => {
  await using dir = await tempDir();
  const s = await FileStorage.open(dir.path);
  try {
    const written = entries(1, 3, 1);
    await s.save(hs(1, "a", 0), written, undefined);
    written[0]!.data[0] = 0;
    written.pop();
    assert.deepEqual(s.entries(1, 4, 1 << 20), entries(1, 3, 1));

    const read = s.entries(1, 4, 1 << 20);
    read.pop();
    assert.equal(s.entries(1, 4, 1 << 20).length, 3);
    const state = s.initialState();
    state.hardState.term = 99;
    state.conf.voters.push("z");
    assert.deepEqual(s.initialState(), { hardState: hs(1, "a", 0), conf: conf([]) });

    const data = bytes("snap");
    const membership = conf(["a"]);
    await s.createSnapshot(2, membership, data);
    data[0] = 0;
    membership.voters.push("b");
    s.snapshot().conf.voters.push("c");
    assert.deepEqual(s.snapshot(), { index: 2, term: 1, conf: conf(["a"]), data: bytes("snap") });
  } finally {
    await s.close();
  }
});

Deno.test("one fsync per save(), none for a save that changes nothing", async () => {
  await using dir = await tempDir();
  const s = await FileStorage.open(dir.path);
  try {
    const count = 200;
    for (let i = 1; i <= count; i++) {
      const before = s.fsyncs;
      await s.save(hs(i, "a", i - 1), entries(i, i, i), undefined);
      assert.equal(s.fsyncs - before, 1, `save ${i}`);
    }
    let before = s.fsyncs;
    await s.save(hs(count, "a", count - 1), [], undefined);
    await s.save(undefined, [], undefined);
    await s.append([]);
    assert.equal(s.fsyncs, before, "nothing changed, nothing written");
    await s.append(entries(count + 1, count + 3, count));
    await s.setHardState(hs(count, "a", count));
    assert.equal(s.fsyncs - before, 2, "append, setHardState: one each");
    assert.equal(s.rewrites, 0);

    before = s.fsyncs;
    await s.createSnapshot(count, conf(["a"]), bytes("x"));
    assert.equal(
      s.fsyncs - before,
      3,
      "createSnapshot(): data file, its directory entry, the record",
    );
  } finally {
    await s.close();
  }
});

Deno.test("a WAL that grows is rewritten, and the state survives", async () => {
  await using dir = await tempDir();
  const options = { rewriteBytesMin: 4096 };
  let s = await FileStorage.open(dir.path, options);
  try {
    let most = 0;
    for (let term = 1; term <= 1000; term++) {
      await s.setHardState(hs(term, term % 3 === 0 ? "" : "b", 0));
      most = Math.max(most, s.walBytes);
    }
    assert.ok(s.rewrites > 0, "hard states piled up and were rewritten away");
    assert.ok(most < 4096 + 100, `the WAL stayed small (at most "${most}" bytes)`);
    s = await reopen(s, options);
    assert.deepEqual(s.initialState().hardState, hs(1000, "b", 0));

    // Live entries grow the file geometrically: rewrites stay few.
    const before = s.rewrites;
    for (let i = 1; i <= 300; i++) {
      await s.append([{ ...entries(i, i, 1000)[0]!, data: bytes("x".repeat(200)) }]);
    }
    assert.ok(s.rewrites - before <= 5, `"${s.rewrites - before}" rewrites for 300 appends`);
    s = await reopen(s, options);
    assert.equal(s.lastIndex(), 300);
  } finally {
    await s.close();
  }
});

Deno.test("writes run in call order; reads see only writes that resolved", async () => {
  await using dir = await tempDir();
  const s = await FileStorage.open(dir.path);
  try {
    const pending = [];
    for (let i = 1; i <= 50; i++) {
      pending.push(s.save(hs(1, "a", i - 1), entries(i, i, 1), undefined));
    }
    assert.equal(s.lastIndex(), 0, "nothing resolved yet");
    await pending[9];
    assert.ok(s.lastIndex() >= 10);
    await Promise.all(pending);
    assert.equal(s.lastIndex(), 50);
    assert.deepEqual(s.initialState().hardState, hs(1, "a", 49));
  } finally {
    await s.close();
  }
});

Deno.test("a second open of the directory is refused, and so are writes after close()", async () => {
  await using dir = await tempDir();
  const s = await FileStorage.open(dir.path);
  await assert.rejects(FileStorage.open(dir.path), DirectoryInUseError);
  const queued = s.append(entries(1, 1, 1));
  await s.close();
  await queued;
  await s.close();
  await assert.rejects(s.append(entries(2, 2, 1)), /closed/);
  assert.equal(s.lastIndex(), 1, "reads still serve the last state");
  const again = await FileStorage.open(dir.path);
  assert.equal(again.lastIndex(), 1);
  await again.close();
});

Deno.test("a directory with snapshot files but no WAL is refused", async () => {
  await using dir = await tempDir();
  await Deno.writeFile(
    join(dir.path, `snap-${"1".padStart(20, "0")}-${"1".padStart(20, "0")}.snap`),
    bytes("x"),
  );
  await assert.rejects(FileStorage.open(dir.path), /no WAL/);
});

Deno.test("membership: initialConf starts a new directory, then the latest snapshot's conf", async () => {
  await using dir = await tempDir();
  let s = await FileStorage.open(dir.path, { initialConf: conf(["a", "b", "c"]) });
  try {
    assert.deepEqual(s.initialState().conf, conf(["a", "b", "c"]));
    assert.deepEqual(s.snapshot().conf, conf(["a", "b", "c"]), "the index-0 snapshot carries it");
    await s.save(hs(1, "a", 3), entries(1, 3, 1), undefined);
    await s.close();
    // Once the directory holds a log, initialConf is ignored.
    s = await FileStorage.open(dir.path, { initialConf: conf(["z"]) });
    assert.deepEqual(s.initialState().conf, conf(["a", "b", "c"]));
    s = await reopen(s);

    await s.createSnapshot(2, conf(["a", "b"], ["c"]), bytes("two"));
    assert.deepEqual(s.initialState().conf, conf(["a", "b"], ["c"]));
    s = await reopen(s);
    await s.applySnapshot({ index: 9, term: 2, conf: conf(["q"]), data: bytes("nine") });
    s = await reopen(s);
    assert.deepEqual(s.initialState().conf, conf(["q"]));
    assert.deepEqual(s.snapshot().conf, conf(["q"]));
    // The compaction rewrite keeps it too.
    await s.append(entries(10, 12, 2));
    await s.createSnapshot(11, conf(["q", "r"]), bytes("eleven"));
    await s.compact(11);
    s = await reopen(s);
    assert.deepEqual(s.initialState().conf, conf(["q", "r"]));

    await assert.rejects(
      FileStorage.open(join(dir.path, "bad"), { initialConf: conf(["a"], ["a"]) }),
      /appears twice/,
    );
  } finally {
    await s.close();
  }
});

Deno.test("out-of-date snapshots are refused as SnapshotOutOfDateError, a RangeError like MemoryStorage's", async () => {
  await using dir = await tempDir();
  const s = await FileStorage.open(dir.path);
  try {
    await s.save(hs(1, "a", 2), entries(1, 3, 1), undefined);
    await s.createSnapshot(2, conf([]), bytes(""));
    for (
      const attempt of [
        s.createSnapshot(2, conf([]), bytes("")),
        s.createSnapshot(1, conf([]), bytes("")),
        s.applySnapshot({ index: 2, term: 1, conf: conf([]), data: bytes("") }),
      ]
    ) {
      await assert.rejects(
        attempt,
        (error: unknown) => error instanceof SnapshotOutOfDateError && error instanceof RangeError,
      );
    }
  } finally {
    await s.close();
  }
});

Deno.test("a rewrite cuts many entries into several records, and a save too large for one is refused", async () => {
  await using dir = await tempDir();
  let s = await FileStorage.open(dir.path);
  try {
    const big = (index: number) => ({
      index,
      term: 1,
      type: "normal" as const,
      data: new Uint8Array(600_000).fill(index),
    });
    await s.save(hs(1, "a", 5), [big(1), big(2), big(3), big(4)], undefined);
    await s.append(entries(5, 200, 1));
    await s.createSnapshot(2, conf(["a"]), bytes("two"));
    await s.compact(2);
    const records = scanWal(await Deno.readFile(s.walPath)).records;
    assert.ok(records.length >= 4, `"${records.length}" records: header, state, entries in pieces`);
    s = await reopen(s);
    assert.deepEqual(s.entries(3, 5, Infinity), [big(3), big(4)]);

    const huge = {
      index: 201,
      term: 1,
      type: "normal" as const,
      data: new Uint8Array(RECORD_BYTES_MAX),
    };
    await assert.rejects(s.append([huge]), /exceeds the bound/);
    await assert.rejects(
      s.save(undefined, [huge], { index: 200, term: 1, conf: conf([]), data: bytes("") }),
      /exceeds the bound/,
    );
    assert.equal(s.lastIndex(), 200);
    assert.equal(s.snapshot().index, 2);
    await s.append(entries(201, 201, 1));
    s = await reopen(s);
    assert.equal(s.lastIndex(), 201);
  } finally {
    await s.close();
  }
});
