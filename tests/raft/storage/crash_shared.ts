/**
 * What crash_test.ts and its child agree on: the storage options, a seeded
 * workload that follows Raft's rules (appends, new terms truncating an
 * uncommitted suffix, snapshots, compaction, snapshots from a leader),
 * operations as JSON lines, and an in-memory model of what the storage must
 * hold after a given run of operations.
 */

import type { FileStorage } from "../../../src/raft/file_storage.ts";
import type { ConfState, Entry, EntryType, HardState, Snapshot } from "../../../src/raft/types.ts";
import type { StorageView } from "./helpers.ts";

/** A small rewrite bound, so that rewrites after growth happen (and get killed) too. */
export const CRASH_OPTIONS = {
  rewriteBytesMin: 16 * 1024,
  initialConf: { voters: ["n1", "n2", "n3"], learners: [] },
};

/** An entry as a JSON line carries it. */
export interface WireEntry {
  index: number;
  term: number;
  type: EntryType;
  data: string;
}

/** A snapshot as a JSON line carries it. */
export interface WireSnapshot {
  index: number;
  term: number;
  conf: ConfState;
  data: string;
}

/** One storage write of the workload. */
export type CrashOp =
  | {
    kind: "save";
    hardState: HardState | null;
    entries: WireEntry[];
    snapshot: WireSnapshot | null;
  }
  | { kind: "createSnapshot"; index: number; conf: ConfState; data: string }
  | { kind: "compact"; index: number };

const NODES = ["n1", "n2", "n3", "n4", "n5"];
const encoder = new TextEncoder();

/** The next write for a storage in this state; `tag` makes the data unique. */
export function nextOp(storage: FileStorage, random: () => number, tag: string): CrashOp {
  const { hardState } = storage.initialState();
  const { term, vote, commit } = hardState;
  const first = storage.firstIndex();
  const last = storage.lastIndex();
  const snapshotIndex = storage.snapshot().index;
  const count = 1 + Math.floor(random() * 3);
  const r = random();

  if (term > 0 && r >= 0.6) {
    if (r < 0.7) {
      // A new leader's entries replace an uncommitted suffix.
      const from = Math.max(commit + 1, first, last - 2);
      return {
        kind: "save",
        hardState: { term: term + 1, vote: NODES[term % NODES.length]!, commit },
        entries: wireEntries(from, count, term + 1, tag, random),
        snapshot: null,
      };
    }
    if (r < 0.84 && commit > snapshotIndex && commit <= last) {
      return {
        kind: "createSnapshot",
        index: commit,
        conf: randomConf(random),
        data: `${tag}|snap`,
      };
    }
    if (r < 0.93 && snapshotIndex >= first) return { kind: "compact", index: snapshotIndex };
    if (r >= 0.93) {
      // A leader's snapshot past the end of the log, with entries after it.
      const index = last + 1 + Math.floor(random() * 3);
      return {
        kind: "save",
        hardState: { term: term + 1, vote: "", commit: index },
        entries: wireEntries(index + 1, count, term + 1, tag, random),
        snapshot: { index, term: term + 1, conf: randomConf(random), data: `${tag}|restore` },
      };
    }
  }
  const entryTerm = Math.max(term, 1);
  return {
    kind: "save",
    hardState: {
      term: entryTerm,
      vote: term === 0 ? "n1" : vote,
      commit: Math.max(commit, last + count - 2),
    },
    entries: wireEntries(last + 1, count, entryTerm, tag, random),
    snapshot: null,
  };
}

/** Performs `op` on `storage`. */
export async function runOp(storage: FileStorage, op: CrashOp): Promise<void> {
  switch (op.kind) {
    case "save":
      await storage.save(
        op.hardState ?? undefined,
        op.entries.map(toEntry),
        op.snapshot === null ? undefined : toSnapshot(op.snapshot),
      );
      return;
    case "createSnapshot":
      await storage.createSnapshot(op.index, op.conf, encoder.encode(op.data));
      return;
    case "compact":
      await storage.compact(op.index);
      return;
  }
}

/** What the storage must hold after a run of operations: plain data, JSON-copyable. */
export interface ModelState {
  hardState: HardState;
  /** The latest snapshot (index 0: none, with the initial membership). */
  snapshot: WireSnapshot;
  baseIndex: number;
  baseTerm: number;
  entries: WireEntry[];
}

/** The model of an empty storage. */
export function emptyModel(): ModelState {
  return {
    hardState: { term: 0, vote: "", commit: 0 },
    snapshot: { index: 0, term: 0, conf: CRASH_OPTIONS.initialConf, data: "" },
    baseIndex: 0,
    baseTerm: 0,
    entries: [],
  };
}

/** `model` after `op`, written independently of the storage's own replay code. */
export function applyOp(model: ModelState, op: CrashOp): ModelState {
  const m: ModelState = JSON.parse(JSON.stringify(model));
  const termAt = (index: number) =>
    index === m.baseIndex ? m.baseTerm : m.entries.find((e) => e.index === index)!.term;
  switch (op.kind) {
    case "save":
      if (op.snapshot !== null) {
        m.snapshot = op.snapshot;
        m.baseIndex = op.snapshot.index;
        m.baseTerm = op.snapshot.term;
        m.entries = [];
      }
      if (op.entries.length > 0) {
        const from = op.entries[0]!.index;
        m.entries = [...m.entries.filter((e) => e.index < from), ...op.entries];
      }
      if (op.hardState !== null) m.hardState = op.hardState;
      break;
    case "createSnapshot":
      m.snapshot = { index: op.index, term: termAt(op.index), conf: op.conf, data: op.data };
      break;
    case "compact":
      if (op.index > m.baseIndex) {
        m.baseTerm = termAt(op.index);
        m.baseIndex = op.index;
        m.entries = m.entries.filter((e) => e.index > op.index);
      }
      break;
  }
  return m;
}

/** The model as the test helpers view a storage. */
export function modelView(m: ModelState): StorageView {
  return {
    hardState: m.hardState,
    conf: m.snapshot.conf,
    snapshot: toSnapshot(m.snapshot),
    firstIndex: m.baseIndex + 1,
    lastIndex: m.baseIndex + m.entries.length,
    baseTerm: m.baseTerm,
    entries: m.entries.map(toEntry),
  };
}

/** A seeded source in [0, 1). */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state ^ (state >>> 15), 2246822519) + 0x9e3779b9) >>> 0;
    state ^= state >>> 13;
    return (state >>> 0) / 0x1_0000_0000;
  };
}

function wireEntries(
  from: number,
  count: number,
  term: number,
  tag: string,
  random: () => number,
): WireEntry[] {
  const out: WireEntry[] = [];
  for (let i = 0; i < count; i++) {
    // Mostly small; now and then large enough to span several pages.
    const filler = random() < 0.05 ? 20_000 : Math.floor(random() * 300);
    out.push({
      index: from + i,
      term,
      type: random() < 0.1 ? "conf" : "normal",
      data: `${tag}.${i}|${"x".repeat(filler)}`,
    });
  }
  return out;
}

function randomConf(random: () => number): ConfState {
  const voters = NODES.filter(() => random() < 0.6);
  const learners = NODES.filter((node) => !voters.includes(node) && random() < 0.3);
  return { voters, learners };
}

function toEntry(entry: WireEntry): Entry {
  return {
    index: entry.index,
    term: entry.term,
    type: entry.type,
    data: encoder.encode(entry.data),
  };
}

function toSnapshot(snapshot: WireSnapshot): Snapshot {
  return {
    index: snapshot.index,
    term: snapshot.term,
    conf: snapshot.conf,
    data: encoder.encode(snapshot.data),
  };
}
