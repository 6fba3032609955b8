/**
 * Raft paper §7 (log compaction): one test per rule. The application
 * compacts through its storage (`createSnapshot()` then `compact()`); the
 * leader sends the storage's snapshot to a follower that needs compacted
 * entries; the driver reports how that went (`reportSnapshot()`).
 */

import assert from "node:assert/strict";
import { MemoryStorage } from "../../src/raft/memory_storage.ts";
import type { Snapshot } from "../../src/raft/types.ts";
import { entries, Harness } from "./harness.ts";

const conf = { voters: ["n1", "n2", "n3"], learners: [] };

function snapshot(index: number, term: number, voters = ["n1", "n2", "n3"]): Snapshot {
  return {
    index,
    term,
    conf: { voters, learners: [] },
    data: new TextEncoder().encode(`state@${index}`),
  };
}

/** A leader of term 2 whose log [1, 1, 1, 1, 1] is compacted up to 4, with a no-op at 6. */
function compactedLeader(): Harness {
  const storage = new MemoryStorage(conf);
  storage.append(entries(1, [1, 1, 1, 1, 1]));
  storage.setHardState({ term: 1, vote: "", commit: 5 });
  storage.createSnapshot(4, conf, new Uint8Array([4]));
  storage.compact(4);
  const leader = new Harness({}, storage);
  leader.raft.campaign();
  leader.step({ type: "voteResponse", from: "n2", term: 2 });
  leader.drain();
  return leader;
}

Deno.test("a leader sends a snapshot to a follower that needs entries it has compacted", () => {
  const leader = compactedLeader();
  leader.step({
    type: "appendResponse",
    from: "n2",
    term: 2,
    index: 5,
    reject: true,
    rejectHint: 0,
  });
  assert.deepEqual(leader.sent(), ["n1->n2 snapshot term=2 snapshot=1/4"]);
  leader.step({ type: "heartbeatResponse", from: "n2", term: 2 });
  assert.deepEqual(leader.sent(), [], "nothing more while the snapshot is on its way");
});

Deno.test("a leader sends appends from just after a snapshot the follower installed", () => {
  const leader = compactedLeader();
  leader.step({
    type: "appendResponse",
    from: "n2",
    term: 2,
    index: 5,
    reject: true,
    rejectHint: 0,
  });
  leader.drain();
  leader.raft.reportSnapshot("n2", true);
  leader.step({ type: "appendResponse", from: "n2", term: 2, index: 4 });
  assert.deepEqual(leader.sent(), [
    "n1->n2 append term=2 prev=1/4 commit=5 entries=[1/5, 2/6 noop]",
  ]);
});

Deno.test("after a failed snapshot the leader waits for a heartbeat response, then tries again", () => {
  const leader = compactedLeader();
  leader.step({
    type: "appendResponse",
    from: "n2",
    term: 2,
    index: 5,
    reject: true,
    rejectHint: 0,
  });
  leader.drain();
  leader.raft.reportSnapshot("n2", false);
  assert.deepEqual(leader.sent(), []);
  leader.step({ type: "heartbeatResponse", from: "n2", term: 2 });
  assert.deepEqual(leader.sent(), ["n1->n2 snapshot term=2 snapshot=1/4"]);
});

Deno.test("a leader does not send a snapshot to a follower it has not heard from", () => {
  const leader = compactedLeader();
  leader.raft.reportUnreachable("n3");
  leader.tick();
  assert.deepEqual(
    leader.sent().filter((line) => line.includes("snapshot")),
    [],
    "the first probes go out as appends; n3 never answered",
  );
});

Deno.test("a follower whose log lacks the snapshot's last entry replaces its log with the snapshot", () => {
  const node = new Harness({ term: 1, log: [1, 1] });
  node.step({
    type: "snapshot",
    from: "n2",
    term: 2,
    snapshot: snapshot(5, 2, ["n1", "n2", "n3", "n4"]),
  });
  const ready = node.raft.ready();
  assert.equal(ready.snapshot?.index, 5);
  assert.deepEqual(ready.committed, [], "no entry is applied before the snapshot");
  assert.deepEqual(ready.messages.map((m) => [m.type, m.index]), [["appendResponse", 5]]);
  node.raft.advance(ready);
  node.storage.applySnapshot(ready.snapshot!);
  const status = node.raft.status();
  assert.deepEqual([status.commit, status.applied, status.lastIndex], [5, 5, 5]);
  assert.deepEqual(
    status.conf.voters,
    ["n1", "n2", "n3", "n4"],
    "the snapshot carries the membership",
  );
  assert.equal(node.storage.firstIndex(), 6);
});

Deno.test("a follower keeps the entries after a snapshot that matches its log", () => {
  const node = new Harness({ term: 1, log: [1, 1, 1, 1] });
  node.step({ type: "snapshot", from: "n2", term: 1, snapshot: snapshot(2, 1) });
  const ready = node.raft.ready();
  assert.equal(ready.snapshot, undefined);
  assert.deepEqual(ready.messages.map((m) => [m.type, m.index]), [["appendResponse", 2]]);
  assert.deepEqual(
    ready.committed.map((e) => e.index),
    [1, 2],
    "the covered entries are committed",
  );
  node.raft.advance(ready);
  assert.equal(node.raft.status().lastIndex, 4);
});

Deno.test("a follower ignores a snapshot at or below its commit index", () => {
  const node = new Harness({ term: 1, log: [1, 1, 1], commit: 3 });
  node.step({ type: "snapshot", from: "n2", term: 1, snapshot: snapshot(2, 1) });
  const ready = node.raft.ready();
  assert.equal(ready.snapshot, undefined);
  assert.deepEqual(ready.messages.map((m) => [m.type, m.index]), [["appendResponse", 3]]);
});

Deno.test("a follower ignores a snapshot from a stale term", () => {
  const node = new Harness({ term: 3, log: [1] });
  node.step({ type: "snapshot", from: "n2", term: 2, snapshot: snapshot(5, 2) });
  assert.deepEqual(node.sent(), []);
  assert.equal(node.raft.status().lastIndex, 1);
});

Deno.test("a node restarts from its snapshot and the log after it", () => {
  const storage = new MemoryStorage(conf);
  storage.applySnapshot(snapshot(5, 2, ["n1", "n2"]));
  storage.append(entries(6, [2, 3]));
  storage.setHardState({ term: 3, vote: "n2", commit: 6 });
  const node = new Harness({}, storage);
  const status = node.raft.status();
  assert.deepEqual(
    [status.term, status.vote, status.commit, status.applied, status.lastIndex],
    [3, "n2", 6, 5, 7],
  );
  assert.deepEqual(status.conf.voters, ["n1", "n2"]);
  node.drain();
  assert.deepEqual(
    node.applied.map((e) => e.index),
    [6],
    "only what follows the snapshot is applied",
  );
});

Deno.test("a node keeps working after its application compacts its log", () => {
  const leader = Harness.leader({ voters: ["n1"] });
  const text = new TextEncoder();
  for (let i = 0; i < 5; i++) leader.raft.propose(text.encode(`x${i}`));
  leader.drain();
  leader.storage.createSnapshot(4, { voters: ["n1"], learners: [] }, new Uint8Array(0));
  leader.storage.compact(4);
  leader.raft.propose(text.encode("y"));
  leader.drain();
  assert.deepEqual(leader.applied.map((e) => e.index), [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(leader.storage.firstIndex(), 5);
});
