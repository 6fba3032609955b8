/**
 * Recovery of FileStorage from damaged files: a torn last record is cut at
 * every byte offset, garbage after the last record is cut, damage before the
 * last whole record fails the open, and so do damaged headers, undecodable or
 * unreplayable records and missing or damaged snapshot files.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { crc32c } from "../../../src/storage/crc32c.ts";
import { FileStorage, FileStorageError } from "../../../src/raft/file_storage.ts";
import { encodeRecord, RECORD_HEADER_BYTES, scanWal } from "../../../src/raft/wal.ts";
import { bytes, conf, entries, hs, type StorageView, tempDir, view } from "./helpers.ts";

interface Written {
  walPath: string;
  /** The WAL with every record. */
  full: Uint8Array;
  /** Where the last record starts. */
  lastStart: number;
  /** Where the record before the last starts. */
  previousStart: number;
  withoutLast: StorageView;
  withLast: StorageView;
}

/** A storage with a snapshot and several records, the last one a save of entries and a hard state. */
async function writeStorage(dir: string): Promise<Written> {
  const s = await FileStorage.open(dir, { initialConf: conf(["a", "b", "c"]) });
  let previousStart = 0;
  let withoutLast: StorageView;
  let lastStart: number;
  try {
    await s.save(hs(1, "a", 2), entries(1, 4, 1), undefined);
    await s.createSnapshot(2, conf(["a", "b"]), bytes("two"));
    await s.compact(2);
    await s.setHardState(hs(1, "a", 3));
    await s.save(hs(2, "b", 3), entries(4, 6, 2), undefined);
    previousStart = s.walBytes;
    await s.setHardState(hs(2, "b", 4));
    withoutLast = view(s);
    lastStart = s.walBytes;
    await s.save(hs(3, "c", 5), entries(7, 9, 3, "last record "), undefined);
  } finally {
    await s.close();
  }
  const reopened = await FileStorage.open(dir);
  const withLast = view(reopened);
  const walPath = reopened.walPath;
  await reopened.close();
  const full = await Deno.readFile(walPath);
  assert.equal(scanWal(full).tornTail, null);
  return { walPath, full, lastStart, previousStart, withoutLast, withLast };
}

Deno.test("a last record torn at every byte offset is dropped, keeping everything before it", async () => {
  await using dir = await tempDir();
  const w = await writeStorage(dir.path);
  assert.ok(w.full.length - w.lastStart > 40, "the last record is a few dozen bytes");
  for (let cut = w.lastStart; cut < w.full.length; cut++) {
    await Deno.writeFile(w.walPath, w.full.subarray(0, cut));
    const s = await FileStorage.open(dir.path);
    try {
      assert.deepEqual(view(s), w.withoutLast, `cut at byte ${cut}`);
      if (cut === w.lastStart) {
        assert.equal(s.recovery, undefined, "a cut at a record boundary tears nothing");
      } else {
        assert.equal(s.recovery?.validBytes, w.lastStart);
        assert.equal(s.recovery?.droppedBytes, cut - w.lastStart);
      }
      assert.equal((await Deno.stat(w.walPath)).size, w.lastStart, "the torn bytes are cut off");
    } finally {
      await s.close();
    }
  }
  // After a cut, writing goes on and survives.
  let s = await FileStorage.open(dir.path);
  try {
    await s.save(hs(3, "c", 5), entries(7, 7, 3), undefined);
    await s.close();
    s = await FileStorage.open(dir.path);
    assert.equal(s.recovery, undefined);
    assert.equal(s.lastIndex(), 7);
    assert.deepEqual(s.initialState().hardState, hs(3, "c", 5));
  } finally {
    await s.close();
  }
});

Deno.test("garbage after the last record is dropped and every record kept", async () => {
  await using dir = await tempDir();
  const w = await writeStorage(dir.path);
  const random = seeded(7);
  const tails: [string, Uint8Array][] = [
    ["one random byte", randomBytes(random, 1)],
    ["seven random bytes", randomBytes(random, 7)],
    ["a record header's worth", randomBytes(random, RECORD_HEADER_BYTES)],
    ["100 random bytes", randomBytes(random, 100)],
    ["5000 random bytes", randomBytes(random, 5000)],
    ["a zero-filled page", new Uint8Array(4096)],
    ["a header claiming 16 bytes then nothing", new Uint8Array([0, 0, 0, 16, 1, 2, 3, 4])],
    ["a copy of the last record with a bad checksum", badCrc(w.full.subarray(w.lastStart))],
  ];
  for (const [what, tail] of tails) {
    const damaged = new Uint8Array(w.full.length + tail.length);
    damaged.set(w.full);
    damaged.set(tail, w.full.length);
    await Deno.writeFile(w.walPath, damaged);
    const s = await FileStorage.open(dir.path);
    try {
      assert.deepEqual(view(s), w.withLast, what);
      assert.equal(s.recovery?.droppedBytes, tail.length, what);
      assert.equal(s.recovery?.validBytes, w.full.length, what);
    } finally {
      await s.close();
    }
  }
});

Deno.test("a last record with a flipped byte counts as torn: it alone is dropped", async () => {
  await using dir = await tempDir();
  const w = await writeStorage(dir.path);
  for (let at = w.lastStart; at < w.full.length; at += 7) {
    const damaged = w.full.slice();
    damaged[at]! ^= 0x40;
    await Deno.writeFile(w.walPath, damaged);
    const s = await FileStorage.open(dir.path);
    try {
      assert.deepEqual(view(s), w.withoutLast, `byte ${at} flipped`);
      assert.equal(s.recovery?.validBytes, w.lastStart);
    } finally {
      await s.close();
    }
  }
});

Deno.test("damage before the last whole record fails the open with a clear error", async () => {
  await using dir = await tempDir();
  const w = await writeStorage(dir.path);
  // Every byte of the record before the last, and a sample across the file's earlier records.
  const positions: number[] = [];
  for (let at = w.previousStart; at < w.lastStart; at++) positions.push(at);
  for (let at = 0; at < w.previousStart; at += 13) positions.push(at);
  for (const at of positions) {
    const damaged = w.full.slice();
    damaged[at]! ^= 0x01;
    await Deno.writeFile(w.walPath, damaged);
    await assert.rejects(
      FileStorage.open(dir.path),
      (error: unknown) =>
        error instanceof FileStorageError &&
        /is corrupt: Record at byte "\d+" is damaged \(.*\) but a whole record follows at byte "\d+", so this is not a torn tail/
          .test(error.message),
      `byte ${at} flipped`,
    );
  }
  // Nothing was cut: the damaged file is left for an operator to inspect.
  assert.equal((await Deno.stat(w.walPath)).size, w.full.length);
});

Deno.test("a damaged or foreign header, or an empty WAL, fails the open", async () => {
  await using dir = await tempDir();
  const w = await writeStorage(dir.path);
  const headerBytes = RECORD_HEADER_BYTES + new DataView(w.full.buffer).getUint32(0);

  await Deno.writeFile(w.walPath, w.full.subarray(0, headerBytes - 1));
  await assert.rejects(FileStorage.open(dir.path), /no whole header record/);
  await Deno.writeFile(w.walPath, new Uint8Array(0));
  await assert.rejects(FileStorage.open(dir.path), /no whole header record \(it is empty\)/);
  // A whole record that is not a header comes first.
  await Deno.writeFile(
    w.walPath,
    encodeRecord([{ kind: "hardState", hardState: hs(1, "", 0) }]),
  );
  await assert.rejects(FileStorage.open(dir.path), /first record is not a header/);
  // A header of another version.
  await Deno.writeFile(w.walPath, encodeRecord([{ kind: "header", version: 99 }]));
  await assert.rejects(FileStorage.open(dir.path), /format version "99"/);
});

Deno.test("a whole record that does not decode or replay fails the open instead of being dropped", async () => {
  await using dir = await tempDir();
  const w = await writeStorage(dir.path);

  // A valid checksum over an item of an unknown kind.
  const unknown = frame(new Uint8Array([99, 0, 0, 0, 0]));
  await Deno.writeFile(w.walPath, join2(w.full, unknown));
  await assert.rejects(
    FileStorage.open(dir.path),
    /valid checksum but does not decode: Item kind "99"/,
  );

  // Well-formed records that break Raft's rules: a gap, a falling term.
  const gap = encodeRecord([{ kind: "entries", entries: entries(20, 20, 3) }]);
  await Deno.writeFile(w.walPath, join2(w.full, gap));
  await assert.rejects(FileStorage.open(dir.path), /does not replay .* leave a gap/);
  const back = encodeRecord([{ kind: "hardState", hardState: hs(1, "", 0) }]);
  await Deno.writeFile(w.walPath, join2(w.full, back));
  await assert.rejects(FileStorage.open(dir.path), /does not replay .* below the stored term/);
});

Deno.test("a missing or damaged snapshot file fails the open", async () => {
  await using dir = await tempDir();
  await writeStorage(dir.path);
  const name = `snap-${"2".padStart(20, "0")}-${"1".padStart(20, "0")}.snap`;
  const path = join(dir.path, name);
  const data = await Deno.readFile(path);
  await Deno.writeFile(path, bytes("tw0"));
  await assert.rejects(FileStorage.open(dir.path), /Snapshot file ".*" is damaged/);
  await Deno.writeFile(path, bytes("two!"));
  await assert.rejects(FileStorage.open(dir.path), /is damaged: 4 bytes/);
  await Deno.remove(path);
  await assert.rejects(FileStorage.open(dir.path), /named by the WAL is missing/);
  await Deno.writeFile(path, data);
  const s = await FileStorage.open(dir.path);
  assert.deepEqual(s.snapshot().data, bytes("two"));
  await s.close();
});

Deno.test("opening removes what a crash left: temp files, superseded WALs, unnamed snapshots", async () => {
  await using dir = await tempDir();
  const w = await writeStorage(dir.path);
  const pad = (n: number) => String(n).padStart(20, "0");
  const leftovers = [
    `wal-${pad(0)}.log`,
    `wal-${pad(99)}.log.tmp`,
    `snap-${pad(1)}-${pad(1)}.snap`,
    `snap-${pad(7)}-${pad(3)}.snap.tmp`,
  ];
  for (const name of leftovers) await Deno.writeFile(join(dir.path, name), bytes("junk"));
  await Deno.writeFile(join(dir.path, "notes.txt.tmp"), bytes("not ours"));
  const s = await FileStorage.open(dir.path);
  try {
    assert.deepEqual(view(s), w.withLast);
    const names: string[] = [];
    for await (const entry of Deno.readDir(dir.path)) names.push(entry.name);
    for (const name of leftovers) assert.ok(!names.includes(name), `"${name}" removed`);
    assert.ok(names.includes("notes.txt.tmp"), "files not ours are left alone");
  } finally {
    await s.close();
  }
});

/** A record frame around `payload` with a correct checksum. */
function frame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(RECORD_HEADER_BYTES + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, payload.length);
  out.set(payload, RECORD_HEADER_BYTES);
  view.setUint32(4, crc32c(payload, crc32c(out.subarray(0, 4))));
  return out;
}

function badCrc(record: Uint8Array): Uint8Array {
  const copy = record.slice();
  copy[5]! ^= 0xff;
  return copy;
}

function join2(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 0x1_0000_0000;
  };
}

function randomBytes(random: () => number, length: number): Uint8Array {
  return Uint8Array.from({ length }, () => Math.floor(random() * 256));
}
