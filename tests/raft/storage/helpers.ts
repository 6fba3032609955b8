/** What the FileStorage tests share: temp dirs, entry builders, a whole-state view for comparisons. */

import assert from "node:assert/strict";
import { FileStorage, type FileStorageOptions } from "../../../src/raft/file_storage.ts";
import type { ConfState, Entry, HardState, Snapshot } from "../../../src/raft/types.ts";

/** A temp dir removed when disposed. */
export async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "pylon-raft-storage-" });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true });
    },
  };
}

const encoder = new TextEncoder();

/** Bytes of `text`. */
export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Entries `from`..`to` (inclusive) in `term`, data naming index and term. */
export function entries(from: number, to: number, term: number, tag = ""): Entry[] {
  const out: Entry[] = [];
  for (let index = from; index <= to; index++) {
    out.push({ index, term, type: "normal", data: bytes(`${tag}${index}@${term}`) });
  }
  return out;
}

/** A hard state. */
export function hs(term: number, vote: string, commit: number): HardState {
  return { term, vote, commit };
}

/** A membership. */
export function conf(voters: string[], learners: string[] = []): ConfState {
  return { voters, learners };
}

/** Everything a FileStorage serves, for comparing states across reopens. */
export interface StorageView {
  hardState: HardState;
  conf: ConfState;
  snapshot: Snapshot;
  firstIndex: number;
  lastIndex: number;
  /** The term at firstIndex - 1 (the compaction point). */
  baseTerm: number;
  entries: Entry[];
}

/** The whole state `storage` serves. */
export function view(storage: FileStorage): StorageView {
  const { hardState, conf } = storage.initialState();
  const firstIndex = storage.firstIndex();
  const lastIndex = storage.lastIndex();
  return {
    hardState,
    conf,
    snapshot: storage.snapshot(),
    firstIndex,
    lastIndex,
    baseTerm: storage.term(firstIndex - 1),
    entries: storage.entries(firstIndex, lastIndex + 1, Number.MAX_SAFE_INTEGER),
  };
}

/** Closes `storage`, reopens its directory, asserts it serves the same state, and returns it. */
export async function reopen(
  storage: FileStorage,
  options: FileStorageOptions = {},
): Promise<FileStorage> {
  const before = view(storage);
  await storage.close();
  const again = await FileStorage.open(storage.dir, options);
  try {
    assert.deepEqual(view(again), before, "state after reopen");
    assert.equal(again.recovery, undefined, "a clean close leaves no torn tail");
  } catch (error) {
    await again.close();
    throw error;
  }
  return again;
}
