/**
 * The contract every {@linkcode DurableStorage} keeps, as Deno tests: the
 * file storage and the in-memory one both run it, so the Raft simulation and
 * in-memory worlds stand on the same ground as a node on disk.
 *
 * `open()` gives a fresh, empty storage; `reopen` (when the storage survives
 * a restart) closes it and opens it again from what it kept.
 */

import assert from "node:assert/strict";
import {
  CompactedError,
  type DurableStorage,
  type Entry,
  UnavailableError,
} from "../../../src/raft/types.ts";
import { bytes, conf, entries, hs } from "./helpers.ts";

/** A fresh storage for one test, and how to restart it (if it survives one). */
export interface StorageFixture extends AsyncDisposable {
  storage: DurableStorage;
  /** Closes the storage and opens it again; absent for a storage that keeps nothing. */
  reopen?: () => Promise<DurableStorage>;
}

/** Registers the contract's tests for the storage `open()` makes, named after `name`. */
export function raftStorageContract(name: string, open: () => Promise<StorageFixture>): void {
  const test = (
    title: string,
    body: (s: () => DurableStorage, restart: () => Promise<void>) => Promise<void>,
  ) => {
    Deno.test(`${name}: ${title}`, async () => {
      await using fixture = await open();
      let storage = fixture.storage;
      // Reads after a restart must see every write that resolved before it.
      const restart = async () => {
        if (fixture.reopen !== undefined) {
          storage = await fixture.reopen();
          fixture.storage = storage;
        }
      };
      await body(() => storage, restart);
    });
  };

  test("a fresh storage is empty", (s) => {
    assert.deepEqual(s().initialState(), {
      hardState: { term: 0, vote: "", commit: 0 },
      conf: { voters: [], learners: [] },
    });
    assert.equal(s().firstIndex(), 1);
    assert.equal(s().lastIndex(), 0);
    assert.equal(s().term(0), 0);
    assert.equal(s().snapshot().index, 0);
    return Promise.resolve();
  });

  test("a saved bundle is read back, whole, and survives a restart", async (s, restart) => {
    const first = entries(1, 3, 1);
    first[1] = { ...first[1]!, type: "conf", data: bytes("conf") };
    await s().save(hs(1, "a", 2), first, undefined);
    await restart();
    assert.deepEqual(s().entries(1, 4, Number.MAX_SAFE_INTEGER), first);
    assert.deepEqual(s().initialState().hardState, hs(1, "a", 2));
    assert.equal(s().term(3), 1);
    await s().save(hs(2, "b", 3), entries(4, 5, 2), undefined);
    await restart();
    assert.equal(s().lastIndex(), 5);
    assert.equal(s().term(5), 2);
    assert.deepEqual(s().initialState().hardState, hs(2, "b", 3));
  });

  test("entries() reads [lo, hi) within a byte budget, always at least one", async (s) => {
    await s().save(undefined, entries(1, 10, 1), undefined);
    const one = s().entries(1, 11, 0);
    assert.equal(one.length, 1);
    const size = one[0]!.data.length;
    const some = s().entries(3, 11, size * 3);
    assert.deepEqual(some.map((e) => e.index), [3, 4, 5]);
    assert.deepEqual(s().entries(4, 4, 100), []);
  });

  test("a save at an earlier index replaces the suffix from there", async (s, restart) => {
    await s().save(hs(1, "a", 2), entries(1, 6, 1), undefined);
    await s().save(hs(2, "b", 2), entries(4, 5, 2, "new"), undefined);
    await restart();
    assert.equal(s().lastIndex(), 5);
    const read = s().entries(1, 6, Number.MAX_SAFE_INTEGER);
    assert.deepEqual(read.map((e) => [e.index, e.term]), [[1, 1], [2, 1], [3, 1], [4, 2], [5, 2]]);
    assert.deepEqual(read[3]!.data, bytes("new4@2"));
  });

  test("a save that leaves a gap is refused and changes nothing", async (s) => {
    await s().save(undefined, entries(1, 3, 1), undefined);
    await assert.rejects(s().save(undefined, entries(5, 6, 1), undefined));
    assert.equal(s().lastIndex(), 3);
    await s().save(undefined, entries(4, 4, 1), undefined);
    assert.equal(s().lastIndex(), 4, "still usable");
  });

  test("snapshot and compaction: reads below the first index and past the last throw", async (
    s,
    restart,
  ) => {
    await s().save(hs(1, "a", 8), entries(1, 8, 1), undefined);
    const snapshot = await s().createSnapshot(5, conf(["a", "b"]), bytes("state at 5"));
    assert.deepEqual([snapshot.index, snapshot.term], [5, 1]);
    await s().compact(4);
    await restart();
    assert.equal(s().firstIndex(), 5);
    assert.equal(s().term(4), 1, "the compaction point keeps its term");
    assert.equal(s().snapshot().index, 5);
    assert.deepEqual(s().snapshot().data, bytes("state at 5"));
    assert.deepEqual(s().snapshot().conf, conf(["a", "b"]));
    assert.throws(() => s().entries(3, 6, 100), CompactedError);
    assert.throws(() => s().term(2), CompactedError);
    assert.throws(() => s().entries(6, 10, 100), UnavailableError);
    assert.throws(() => s().term(9), UnavailableError);
    assert.deepEqual(s().entries(5, 9, Number.MAX_SAFE_INTEGER).map((e) => e.index), [5, 6, 7, 8]);
  });

  test("a snapshot from the leader resets the log, and what follows it in the save is kept", async (
    s,
    restart,
  ) => {
    await s().save(hs(1, "a", 3), entries(1, 3, 1), undefined);
    const snapshot = { index: 10, term: 3, conf: conf(["a", "b", "c"]), data: bytes("at 10") };
    await s().save(hs(3, "b", 10), entries(11, 12, 3), snapshot);
    await restart();
    assert.equal(s().firstIndex(), 11);
    assert.equal(s().lastIndex(), 12);
    assert.equal(s().term(10), 3);
    assert.equal(s().snapshot().index, 10);
    assert.deepEqual(s().initialState().conf, conf(["a", "b", "c"]));
    assert.deepEqual(s().initialState().hardState, hs(3, "b", 10));
    await assert.rejects(
      s().save(undefined, [], { ...snapshot, index: 9 }),
      RangeError,
      "an older snapshot is refused",
    );
  });

  test("what the storage returns is not changed by later saves", async (s) => {
    await s().save(undefined, entries(1, 3, 1), undefined);
    const read: Entry[] = s().entries(1, 4, Number.MAX_SAFE_INTEGER);
    const copy = read.map((e) => ({ ...e }));
    await s().save(undefined, entries(2, 3, 2), undefined);
    assert.deepEqual(read, copy);
  });
}
