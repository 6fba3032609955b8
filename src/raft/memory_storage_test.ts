import assert from "node:assert/strict";
import { MemoryStorage } from "./memory_storage.ts";
import { CompactedError, type Entry, UnavailableError } from "./types.ts";

function entry(index: number, term: number, bytes = 1): Entry {
  return { index, term, type: "normal", data: new Uint8Array(bytes).fill(index) };
}

function storageWith(terms: number[]): MemoryStorage {
  const storage = new MemoryStorage({ voters: ["a"], learners: [] });
  storage.append(terms.map((term, i) => entry(i + 1, term)));
  return storage;
}

Deno.test("MemoryStorage starts empty with its membership and a zero hard state", () => {
  const storage = new MemoryStorage({ voters: ["a", "b"], learners: ["c"] });
  assert.deepEqual(storage.initialState(), {
    hardState: { term: 0, vote: "", commit: 0 },
    conf: { voters: ["a", "b"], learners: ["c"] },
  });
  assert.equal(storage.firstIndex(), 1);
  assert.equal(storage.lastIndex(), 0);
  assert.equal(storage.term(0), 0);
  assert.equal(storage.snapshot().index, 0);
});

Deno.test("MemoryStorage.bootstrap() holds committed conf entries for the membership", () => {
  const storage = MemoryStorage.bootstrap({ voters: ["a", "b"], learners: [] });
  assert.equal(storage.lastIndex(), 2);
  assert.deepEqual(storage.initialState(), {
    hardState: { term: 1, vote: "", commit: 2 },
    conf: { voters: [], learners: [] },
  });
});

Deno.test("MemoryStorage.append() truncates the entries it replaces", () => {
  const storage = storageWith([1, 1, 1, 1]);
  storage.append([entry(3, 2), entry(4, 2), entry(5, 2)]);
  assert.deepEqual([1, 2, 3, 4, 5].map((i) => storage.term(i)), [1, 1, 2, 2, 2]);
  storage.append([entry(2, 3)]);
  assert.equal(storage.lastIndex(), 2);
  assert.throws(() => storage.append([entry(5, 3)]), /gap/);
});

Deno.test("MemoryStorage.entries() reads [lo, hi) up to a byte budget, at least one entry", () => {
  const storage = storageWith([1, 1, 1, 1, 1]);
  assert.deepEqual(storage.entries(2, 5, Infinity).map((e) => e.index), [2, 3, 4]);
  assert.deepEqual(storage.entries(2, 5, 2).map((e) => e.index), [2, 3]);
  assert.deepEqual(storage.entries(2, 5, 0).map((e) => e.index), [2]);
  assert.throws(() => storage.entries(2, 7, Infinity), UnavailableError);
});

Deno.test("MemoryStorage.compact() keeps the term of the compaction point and no earlier entry", () => {
  const storage = storageWith([1, 1, 2, 2, 3]);
  assert.throws(() => storage.compact(3), /passes the snapshot/);
  storage.createSnapshot(4, { voters: ["a"], learners: [] }, new Uint8Array([7]));
  storage.compact(3);
  assert.equal(storage.firstIndex(), 4);
  assert.equal(storage.term(3), 2);
  assert.throws(() => storage.term(2), CompactedError);
  assert.throws(() => storage.entries(3, 5, Infinity), CompactedError);
  assert.deepEqual(storage.entries(4, 6, Infinity).map((e) => e.index), [4, 5]);
  assert.equal(storage.snapshot().index, 4);
  assert.equal(storage.snapshot().term, 2);
});

Deno.test("MemoryStorage.createSnapshot() refuses an older or unknown index", () => {
  const storage = storageWith([1, 1, 1]);
  storage.createSnapshot(2, { voters: ["a"], learners: [] }, new Uint8Array(0));
  assert.throws(() =>
    storage.createSnapshot(2, { voters: ["a"], learners: [] }, new Uint8Array(0))
  );
  assert.throws(() =>
    storage.createSnapshot(9, { voters: ["a"], learners: [] }, new Uint8Array(0))
  );
});

Deno.test("MemoryStorage.applySnapshot() replaces the whole log", () => {
  const storage = storageWith([1, 1, 1]);
  storage.applySnapshot({
    index: 10,
    term: 4,
    conf: { voters: ["x"], learners: [] },
    data: new Uint8Array(0),
  });
  assert.equal(storage.firstIndex(), 11);
  assert.equal(storage.lastIndex(), 10);
  assert.equal(storage.term(10), 4);
  assert.deepEqual(storage.initialState().conf, { voters: ["x"], learners: [] });
  assert.throws(() =>
    storage.applySnapshot({
      index: 5,
      term: 4,
      conf: { voters: ["x"], learners: [] },
      data: new Uint8Array(0),
    })
  );
  storage.append([entry(11, 4)]);
  assert.equal(storage.lastIndex(), 11);
});

Deno.test("MemoryStorage.append() skips entries at or below the compaction point", () => {
  const storage = storageWith([1, 1, 1, 1]);
  storage.createSnapshot(3, { voters: ["a"], learners: [] }, new Uint8Array(0));
  storage.compact(3);
  storage.append([entry(2, 1), entry(3, 1), entry(4, 1), entry(5, 1)]);
  assert.equal(storage.firstIndex(), 4);
  assert.equal(storage.lastIndex(), 5);
});
