/**
 * The RaftNode API and its Ready contract. The protocol rules themselves are
 * tested one by one in tests/raft/paper*_test.ts, and in scenarios and the
 * simulation under tests/raft/.
 */

import assert from "node:assert/strict";
import { MemoryStorage } from "./memory_storage.ts";
import { newMessage } from "./message.ts";
import { RaftNode, UNCOMMITTED_ENTRIES_MAX } from "./raft.ts";
import type { RaftConfig, Ready } from "./types.ts";

const text = new TextEncoder();

function config(overrides: Partial<RaftConfig> = {}): RaftConfig {
  return {
    id: "n1",
    storage: new MemoryStorage({ voters: ["n1", "n2", "n3"], learners: [] }),
    electionTicks: 10,
    heartbeatTicks: 1,
    random: () => 0,
    preVote: false,
    checkQuorum: false,
    ...overrides,
  };
}

/** Persists and advances `ready` the way a driver does. */
function done(raft: RaftNode, storage: MemoryStorage, ready: Ready): void {
  if (ready.snapshot) storage.applySnapshot(ready.snapshot);
  storage.append(ready.entries);
  if (ready.hardState) storage.setHardState(ready.hardState);
  raft.advance(ready);
}

Deno.test("RaftNode refuses a configuration it cannot run", () => {
  assert.throws(() => new RaftNode(config({ id: "" })), /non-empty id/);
  assert.throws(() => new RaftNode(config({ heartbeatTicks: 0 })), /heartbeatTicks/);
  assert.throws(() => new RaftNode(config({ electionTicks: 1 })), /above heartbeatTicks/);
});

Deno.test("a group of one voter elects itself and commits alone", () => {
  const storage = MemoryStorage.bootstrap({ voters: ["n1"], learners: [] });
  const raft = new RaftNode(config({ storage }));
  raft.campaign();
  assert.equal(raft.role, "leader");
  assert.equal(raft.propose(text.encode("x")), true);
  const ready = raft.ready();
  assert.deepEqual(ready.softState, { role: "leader", leader: "n1" });
  assert.deepEqual(ready.hardState, { term: 2, vote: "n1", commit: 3 });
  assert.deepEqual(ready.entries.map((e) => e.index), [2, 3]);
  assert.deepEqual(
    ready.committed.map((e) => e.index),
    [1, 2, 3],
    "bootstrap entries, no-op, proposal",
  );
  assert.deepEqual(ready.messages, []);
  done(raft, storage, ready);
  assert.equal(raft.hasReady(), false);
  assert.equal(raft.status().applied, 3);
});

Deno.test("ready() hands out each entry, message and committed entry once", () => {
  const storage = MemoryStorage.bootstrap({ voters: ["n1"], learners: [] });
  const raft = new RaftNode(config({ storage }));
  raft.campaign();
  done(raft, storage, raft.ready());
  raft.propose(text.encode("y"));
  const ready = raft.ready();
  assert.equal(ready.softState, undefined, "unchanged");
  assert.deepEqual(ready.entries.map((e) => e.index), [3]);
  assert.deepEqual(ready.committed.map((e) => e.index), [3]);
  done(raft, storage, ready);
  assert.equal(raft.hasReady(), false);
});

Deno.test("ready() refuses to be called again before advance(), and advance() a foreign Ready", () => {
  const raft = new RaftNode(config());
  raft.campaign();
  const ready = raft.ready();
  assert.equal(raft.hasReady(), false, "nothing new until the outstanding Ready is done");
  assert.throws(() => raft.ready(), /before the previous Ready/);
  assert.throws(() => raft.advance({ ...ready }), /not outstanding/);
  raft.advance(ready);
});

Deno.test("messages stepped between ready() and advance() go out in the next Ready", () => {
  const storage = new MemoryStorage({ voters: ["n1", "n2", "n3"], learners: [] });
  const raft = new RaftNode(config({ storage }));
  raft.campaign();
  const first = raft.ready();
  raft.step(newMessage({ type: "voteResponse", from: "n2", to: "n1", term: 1 }));
  done(raft, storage, first);
  const second = raft.ready();
  assert.deepEqual(second.softState, { role: "leader", leader: "n1" });
  assert.deepEqual(second.entries.map((e) => e.index), [1]);
});

Deno.test("propose() is refused by a follower and needs data", () => {
  const raft = new RaftNode(config());
  assert.equal(raft.propose(text.encode("x")), false);
  assert.throws(() => raft.propose(new Uint8Array(0)), /needs data/);
});

Deno.test("a leader refuses proposals once UNCOMMITTED_ENTRIES_MAX entries are uncommitted", () => {
  const raft = new RaftNode(config());
  raft.campaign();
  raft.step(newMessage({ type: "voteResponse", from: "n2", to: "n1", term: 1 }));
  let accepted = 0;
  while (raft.propose(text.encode("x"))) accepted++;
  assert.equal(accepted, UNCOMMITTED_ENTRIES_MAX - 1, "the no-op is uncommitted too");
});

Deno.test("step() refuses a message addressed to another node", () => {
  const raft = new RaftNode(config());
  assert.throws(
    () => raft.step(newMessage({ type: "heartbeat", from: "n2", to: "n3", term: 1 })),
    /to "n3" was stepped into "n1"/,
  );
});

Deno.test("status() reports each follower's match on the leader only", () => {
  const raft = new RaftNode(config());
  assert.deepEqual(raft.status().match, {});
  raft.campaign();
  raft.step(newMessage({ type: "voteResponse", from: "n2", to: "n1", term: 1 }));
  raft.step(newMessage({ type: "appendResponse", from: "n3", to: "n1", term: 1, index: 1 }));
  const status = raft.status();
  assert.deepEqual(status.match, { n2: 0, n3: 1 });
  assert.deepEqual(
    [status.id, status.term, status.vote, status.role, status.leader, status.lastIndex],
    ["n1", 1, "n1", "leader", "n1", 1],
  );
});

Deno.test("a restart with a stored commit index past the log is refused", () => {
  const storage = new MemoryStorage({ voters: ["n1"], learners: [] });
  storage.setHardState({ term: 1, vote: "", commit: 5 });
  assert.throws(() => new RaftNode(config({ storage })), /outside the log/);
});

Deno.test("a restart takes the application's applied index and hands out only what follows", () => {
  const storage = MemoryStorage.bootstrap({ voters: ["n1", "n2", "n3"], learners: [] });
  const raft = new RaftNode(config({ storage, applied: 2 }));
  assert.deepEqual(raft.ready().committed.map((e) => e.index), [3]);
});
