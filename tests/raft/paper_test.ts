/**
 * One test per rule of the Raft paper (Ongaro & Ousterhout, "In Search of an
 * Understandable Consensus Algorithm", extended version) §5.1–5.4, and of the
 * dissertation where it refines them (pre-vote §9.6, leader lease §4.2.3,
 * leadership transfer §3.10). Membership (§6) and snapshots (§7) are in
 * paper_membership_test.ts and paper_snapshot_test.ts.
 *
 * Each test drives one node by hand (tests/raft/harness.ts) and reads what it
 * sent as one line per message.
 */

import assert from "node:assert/strict";
import { entries, entry, Harness } from "./harness.ts";

const text = new TextEncoder();

// ---- §5.1 Raft basics ----

Deno.test("step() adopts a higher term from any message, and follows its sender if it leads", () => {
  const follower = new Harness({ term: 1 });
  const candidate = new Harness({ term: 1 });
  candidate.raft.campaign();
  const leader = Harness.leader({ term: 1 });
  for (const node of [follower, candidate, leader]) {
    node.step({ type: "heartbeat", from: "n3", term: 5 });
    assert.equal(node.raft.term, 5);
    assert.equal(node.raft.role, "follower");
    assert.equal(node.raft.leader, "n3");
  }
});

Deno.test("step() turns a leader that learns of a higher term from a response into a follower", () => {
  const leader = Harness.leader({ term: 1 });
  leader.step({ type: "appendResponse", from: "n3", term: 4 });
  assert.equal(leader.raft.role, "follower");
  assert.equal(leader.raft.term, 4);
  assert.equal(leader.raft.leader, "", "a response names no leader");
});

Deno.test("step() rejects AppendEntries from a stale term", () => {
  const node = new Harness({ term: 3, log: [1, 2] });
  node.step({ type: "append", from: "n2", term: 2, index: 2, logTerm: 2, entries: [entry(3, 2)] });
  assert.deepEqual(node.sent(), [], "without pre-vote or check-quorum it is ignored");
  assert.equal(node.raft.status().lastIndex, 2);
  assert.equal(node.raft.leader, "");

  const answering = new Harness({ term: 3, log: [1, 2], preVote: true });
  answering.step({
    type: "append",
    from: "n2",
    term: 2,
    index: 2,
    logTerm: 2,
    entries: [entry(3, 2)],
  });
  assert.deepEqual(
    answering.sent(),
    ["n1->n2 appendResponse term=3 index=0"],
    "tells the stale leader the term",
  );
  assert.equal(answering.raft.status().lastIndex, 2);
});

Deno.test("step() rejects RequestVote from a stale term", () => {
  const node = new Harness({ term: 3 });
  node.step({ type: "vote", from: "n2", term: 2, index: 9, logTerm: 2 });
  assert.deepEqual(node.sent(), []);
  assert.equal(node.raft.status().vote, "");
  assert.equal(node.raft.term, 3);
});

// ---- §5.2 Leader election ----

Deno.test("a node starts as a follower in its stored term, with its stored vote", () => {
  const node = new Harness({ term: 4, vote: "n3", log: [1, 4] });
  const status = node.raft.status();
  assert.deepEqual([status.role, status.term, status.vote, status.leader], [
    "follower",
    4,
    "n3",
    "",
  ]);
});

Deno.test("a follower that hears from a leader within the election timeout does not campaign", () => {
  const node = new Harness({ term: 1 });
  for (let round = 0; round < 10; round++) {
    node.tick(9);
    node.step({ type: "heartbeat", from: "n2", term: 1 });
    assert.deepEqual(node.sent(), ["n1->n2 heartbeatResponse term=1"]);
  }
  assert.equal(node.raft.role, "follower");
});

Deno.test("a follower campaigns after an election timeout: new term, own vote, votes asked of all", () => {
  const node = new Harness({ term: 1, log: [1] });
  assert.deepEqual(node.tick(9), []);
  assert.deepEqual(node.tick(), ["n1->n2 vote term=2 last=1/1", "n1->n3 vote term=2 last=1/1"]);
  assert.equal(node.raft.role, "candidate");
  assert.deepEqual(node.storage.hardState(), { term: 2, vote: "n1", commit: 0 });
});

Deno.test("election timeouts are randomized in [electionTicks, 2 x electionTicks) from config.random", () => {
  for (const [random, expected] of [[0, 10], [0.5, 15], [0.99, 19]] as const) {
    const node = new Harness({ random: () => random });
    let ticks = 0;
    while (node.raft.role === "follower") {
      node.raft.tick();
      ticks++;
    }
    assert.equal(ticks, expected, `random ${random}`);
  }
});

Deno.test("a candidate becomes leader with the votes of a majority of the group", () => {
  const node = new Harness({ voters: ["n1", "n2", "n3", "n4", "n5"] });
  node.raft.campaign();
  node.step({ type: "voteResponse", from: "n2", term: 1 });
  node.step({ type: "voteResponse", from: "n2", term: 1 });
  assert.equal(node.raft.role, "candidate", "a vote counts once");
  node.step({ type: "voteResponse", from: "n4", term: 1 });
  assert.equal(node.raft.role, "leader");
});

Deno.test("a candidate returns to follower when a majority rejects it", () => {
  const node = new Harness({ term: 1 });
  node.raft.campaign();
  node.step({ type: "voteResponse", from: "n2", term: 2, reject: true });
  assert.equal(node.raft.role, "candidate");
  node.step({ type: "voteResponse", from: "n3", term: 2, reject: true });
  assert.equal(node.raft.role, "follower");
  assert.equal(node.raft.term, 2);
});

Deno.test("a node votes for at most one candidate per term, first come first served", () => {
  const node = new Harness({ term: 1, log: [1] });
  node.step({ type: "vote", from: "n2", term: 2, index: 1, logTerm: 1 });
  node.step({ type: "vote", from: "n3", term: 2, index: 1, logTerm: 1 });
  node.step({ type: "vote", from: "n2", term: 2, index: 1, logTerm: 1 });
  assert.deepEqual(node.sent(), [
    "n1->n2 voteResponse term=2 granted",
    "n1->n3 voteResponse term=2 rejected",
    "n1->n2 voteResponse term=2 granted",
  ]);
});

Deno.test("a node persists its vote in the same Ready that carries the vote, before sending", () => {
  const node = new Harness({ term: 1, log: [1] });
  node.step({ type: "vote", from: "n2", term: 2, index: 1, logTerm: 1 });
  const ready = node.raft.ready();
  assert.deepEqual(ready.hardState, { term: 2, vote: "n2", commit: 0 });
  assert.equal(ready.messages[0]?.type, "voteResponse");
});

Deno.test("a new leader appends a no-op of its term and sends it to every follower at once", () => {
  const leader = Harness.leader({ term: 1, log: [1, 1] });
  const sent = leader.readies.flatMap((ready) => ready.messages).filter((m) => m.type === "append");
  assert.deepEqual(
    sent.map((
      m,
    ) => [m.to, m.index, m.logTerm, m.entries.map((e) => [e.index, e.term, e.data.length])]),
    [
      ["n2", 2, 1, [[3, 2, 0]]],
      ["n3", 2, 1, [[3, 2, 0]]],
    ],
  );
});

Deno.test("a candidate that hears from a leader of its term becomes its follower", () => {
  const node = new Harness({ term: 1 });
  node.raft.campaign();
  node.step({ type: "append", from: "n3", term: 2, index: 0, logTerm: 0 });
  assert.deepEqual([node.raft.role, node.raft.term, node.raft.leader], ["follower", 2, "n3"]);
});

Deno.test("a candidate rejects an append of a stale term and keeps campaigning", () => {
  const node = new Harness({ term: 1 });
  node.raft.campaign();
  node.step({ type: "append", from: "n3", term: 1, index: 0, logTerm: 0 });
  assert.deepEqual([node.raft.role, node.raft.term], ["candidate", 2]);
});

Deno.test("a candidate that neither wins nor loses campaigns again at a higher term after a timeout", () => {
  const node = new Harness({ term: 1 });
  node.raft.campaign();
  node.drain();
  assert.deepEqual(node.tick(10), ["n1->n2 vote term=3 last=0/0", "n1->n3 vote term=3 last=0/0"]);
});

Deno.test("a leader sends heartbeats every heartbeatTicks", () => {
  const leader = Harness.leader({ heartbeatTicks: 2 });
  assert.deepEqual(leader.tick(), []);
  assert.deepEqual(leader.tick(), [
    "n1->n2 heartbeat term=1 commit=0",
    "n1->n3 heartbeat term=1 commit=0",
  ]);
});

// ---- §5.3 Log replication ----

/** A leader of term 1 whose followers both stored its no-op (index 1). */
function settledLeader(): Harness {
  const leader = Harness.leader();
  leader.step({ type: "appendResponse", from: "n2", term: 1, index: 1 });
  leader.step({ type: "appendResponse", from: "n3", term: 1, index: 1 });
  leader.drain();
  return leader;
}

Deno.test("a leader appends a proposal to its log and sends it to every follower", () => {
  const leader = settledLeader();
  assert.equal(leader.raft.propose(text.encode("x")), true);
  assert.deepEqual(leader.sent(), [
    "n1->n2 append term=1 prev=1/1 commit=1 entries=[1/2]",
    "n1->n3 append term=1 prev=1/1 commit=1 entries=[1/2]",
  ]);
  assert.deepEqual(leader.storedTerms(), [1, 1]);
});

Deno.test("a leader commits an entry once a majority stores it and tells followers in later appends", () => {
  const leader = settledLeader();
  leader.raft.propose(text.encode("x"));
  leader.drain();
  leader.step({ type: "appendResponse", from: "n2", term: 1, index: 2 });
  assert.equal(leader.raft.status().commit, 2);
  assert.deepEqual(leader.sent(), [
    "n1->n2 append term=1 prev=1/2 commit=2 entries=[]",
    "n1->n3 append term=1 prev=1/2 commit=2 entries=[]",
  ]);
  assert.deepEqual(leader.applied.map((e) => e.index), [1, 2]);
});

Deno.test("a follower commits up to the leader's commit, but no further than the last new entry", () => {
  const node = new Harness({ term: 1, log: [1, 1, 1] });
  node.step({ type: "append", from: "n2", term: 1, index: 1, logTerm: 1, commit: 3 });
  assert.equal(node.raft.status().commit, 1, "entries after the append may not match the leader's");
  node.step({
    type: "append",
    from: "n2",
    term: 1,
    index: 2,
    logTerm: 1,
    entries: [entry(3, 1)],
    commit: 9,
  });
  assert.equal(node.raft.status().commit, 3);
});

Deno.test("a follower applies entries in log order once it learns they are committed", () => {
  const node = new Harness({ term: 1 });
  node.step({
    type: "append",
    from: "n2",
    term: 1,
    index: 0,
    logTerm: 0,
    entries: entries(1, [1, 1, 1]),
    commit: 2,
  });
  node.drain();
  assert.deepEqual(node.applied.map((e) => e.index), [1, 2]);
  node.step({ type: "heartbeat", from: "n2", term: 1, commit: 3 });
  node.drain();
  assert.deepEqual(node.applied.map((e) => e.index), [1, 2, 3]);
});

Deno.test("a follower refuses entries when its log lacks the index and term before them", () => {
  const node = new Harness({ term: 2, log: [1, 1] });
  node.step({ type: "append", from: "n2", term: 2, index: 3, logTerm: 2, entries: [entry(4, 2)] });
  node.step({ type: "append", from: "n2", term: 2, index: 2, logTerm: 2, entries: [entry(3, 2)] });
  assert.deepEqual(node.sent(), [
    "n1->n2 appendResponse term=2 rejected index=3 hint=1/2",
    "n1->n2 appendResponse term=2 rejected index=2 hint=1/2",
  ]);
  assert.deepEqual(node.storedTerms(), [1, 1]);
});

Deno.test("a follower deletes a conflicting entry and all that follow it, then appends the new ones", () => {
  const node = new Harness({ term: 2, log: [1, 1, 1, 1] });
  node.step({ type: "append", from: "n2", term: 2, index: 2, logTerm: 1, entries: [entry(3, 2)] });
  assert.deepEqual(node.sent(), ["n1->n2 appendResponse term=2 index=3"]);
  assert.deepEqual(node.storedTerms(), [1, 1, 2]);
});

Deno.test("a follower appends only entries not already in its log (a repeated append changes nothing)", () => {
  const node = new Harness({ term: 2, log: [1, 1, 2, 2] });
  const append = {
    type: "append",
    from: "n2",
    term: 2,
    index: 1,
    logTerm: 1,
    entries: entries(2, [1, 2]),
  } as const;
  node.step(append);
  node.step(append);
  assert.deepEqual(node.sent(), [
    "n1->n2 appendResponse term=2 index=3",
    "n1->n2 appendResponse term=2 index=3",
  ]);
  assert.deepEqual(node.storedTerms(), [1, 1, 2, 2], "the entry after them stays");
  assert.deepEqual(node.readies.flatMap((ready) => ready.entries), []);
});

Deno.test("a new leader sets each follower's next index just past its last entry", () => {
  const leader = Harness.leader({ term: 2, log: [1, 2, 2] });
  assert.deepEqual(
    leader.readies.flatMap((ready) => ready.messages).filter((m) => m.type === "append")
      .map((m) => `${m.to} prev=${m.logTerm}/${m.index}`),
    ["n2 prev=2/3", "n3 prev=2/3"],
  );
});

Deno.test("after a rejection the leader moves next back and retries, skipping a term at a time", () => {
  const leader = Harness.leader({ term: 2, log: [1, 1, 2, 2, 2] });
  leader.step({
    type: "appendResponse",
    from: "n2",
    term: 3,
    index: 5,
    reject: true,
    rejectHint: 4,
    logTerm: 1,
  });
  assert.deepEqual(leader.sent(), [
    "n1->n2 append term=3 prev=1/2 commit=0 entries=[2/3, 2/4, 2/5, 3/6 noop]",
  ]);
  leader.step({ type: "appendResponse", from: "n2", term: 3, index: 6 });
  assert.equal(leader.raft.status().match["n2"], 6);
});

Deno.test("a leader never overwrites or deletes entries in its own log", () => {
  const leader = Harness.leader({ term: 2, log: [1, 1, 2] });
  leader.step({
    type: "appendResponse",
    from: "n2",
    term: 3,
    index: 3,
    reject: true,
    rejectHint: 1,
    logTerm: 1,
  });
  leader.step({
    type: "append",
    from: "n3",
    term: 3,
    index: 0,
    logTerm: 0,
    entries: [entry(1, 3)],
  });
  leader.raft.propose(text.encode("x"));
  leader.drain();
  assert.deepEqual(leader.storedTerms(), [1, 1, 2, 3, 3]);
  for (const ready of leader.readies) {
    for (const e of ready.entries) {
      assert.ok(e.index >= 4, `the leader only appends, got entry ${e.index}`);
    }
  }
});

Deno.test("a leader keeps retrying a follower that does not answer", () => {
  const leader = Harness.leader();
  leader.step({ type: "appendResponse", from: "n2", term: 1, index: 1 });
  leader.raft.propose(text.encode("x"));
  leader.drain();
  leader.tick();
  leader.step({ type: "heartbeatResponse", from: "n3", term: 1 });
  assert.deepEqual(leader.sent(), [
    "n1->n3 append term=1 prev=0/0 commit=1 entries=[1/1 noop, 1/2]",
  ]);
});

// ---- §5.4.1 Election restriction ----

Deno.test("a voter denies its vote to a candidate whose last entry has an older term", () => {
  const node = new Harness({ term: 2, log: [1, 2] });
  node.step({ type: "vote", from: "n2", term: 3, index: 9, logTerm: 1 });
  assert.deepEqual(node.sent(), ["n1->n2 voteResponse term=3 rejected"]);
});

Deno.test("a voter denies its vote to a candidate with the same last term and a shorter log", () => {
  const node = new Harness({ term: 2, log: [1, 2, 2] });
  node.step({ type: "vote", from: "n2", term: 3, index: 2, logTerm: 2 });
  assert.deepEqual(node.sent(), ["n1->n2 voteResponse term=3 rejected"]);
});

Deno.test("a voter grants its vote to a candidate whose log is at least as up to date", () => {
  const sameLength = new Harness({ term: 2, log: [1, 2, 2] });
  sameLength.step({ type: "vote", from: "n2", term: 3, index: 3, logTerm: 2 });
  assert.deepEqual(sameLength.sent(), ["n1->n2 voteResponse term=3 granted"]);
  const laterTerm = new Harness({ term: 2, log: [1, 2, 2] });
  laterTerm.step({ type: "vote", from: "n2", term: 4, index: 2, logTerm: 3 });
  assert.deepEqual(laterTerm.sent(), ["n1->n2 voteResponse term=4 granted"]);
});

// ---- §5.4.2 Committing entries from previous terms ----

Deno.test("a leader does not commit an entry of an earlier term by counting replicas (Figure 8)", () => {
  const leader = Harness.leader({ term: 2, log: [1, 2] });
  leader.step({ type: "appendResponse", from: "n2", term: 3, index: 2 });
  assert.equal(
    leader.raft.status().commit,
    0,
    "entry 2 (term 2) is on a majority but not committed",
  );
  leader.step({ type: "appendResponse", from: "n2", term: 3, index: 3 });
  assert.equal(leader.raft.status().commit, 3, "the no-op of term 3 commits, and 1-2 with it");
  leader.drain();
  assert.deepEqual(leader.applied.map((e) => [e.index, e.term]), [[1, 1], [2, 2], [3, 3]]);
});

// ---- Dissertation §9.6: pre-vote ----

Deno.test("a pre-candidate asks for votes at the next term without raising its own", () => {
  const node = new Harness({ term: 1, log: [1], preVote: true });
  assert.deepEqual(node.tick(10), [
    "n1->n2 preVote term=2 last=1/1",
    "n1->n3 preVote term=2 last=1/1",
  ]);
  assert.deepEqual([node.raft.role, node.raft.term, node.storage.hardState().vote], [
    "pre-candidate",
    1,
    "",
  ]);
});

Deno.test("a node grants a pre-vote without changing its term or vote", () => {
  const node = new Harness({ term: 1, vote: "n3", log: [1] });
  node.step({ type: "preVote", from: "n2", term: 2, index: 1, logTerm: 1 });
  assert.deepEqual(node.sent(), ["n1->n2 preVoteResponse term=2 granted"]);
  assert.deepEqual([node.raft.term, node.raft.status().vote], [1, "n3"]);
});

Deno.test("a pre-candidate that wins the pre-vote campaigns for real", () => {
  const node = new Harness({ term: 1, log: [1], preVote: true });
  node.tick(10);
  node.step({ type: "preVoteResponse", from: "n3", term: 2 });
  assert.deepEqual(node.sent(), ["n1->n2 vote term=2 last=1/1", "n1->n3 vote term=2 last=1/1"]);
  assert.deepEqual([node.raft.role, node.raft.term], ["candidate", 2]);
});

Deno.test("a pre-candidate that loses the pre-vote goes back to follower at its old term", () => {
  const node = new Harness({ term: 1, log: [1], preVote: true });
  node.tick(10);
  node.step({ type: "preVoteResponse", from: "n2", term: 1, reject: true });
  node.step({ type: "preVoteResponse", from: "n3", term: 1, reject: true });
  assert.deepEqual([node.raft.role, node.raft.term], ["follower", 1]);
});

// ---- Dissertation §6.2 / §4.2.3: check-quorum and the leader lease ----

Deno.test("a leader steps down when it has not heard from a quorum for an election timeout", () => {
  const leader = Harness.leader({ checkQuorum: true });
  leader.tick(9);
  assert.equal(leader.raft.role, "leader");
  leader.tick();
  assert.equal(leader.raft.role, "follower");

  const heard = Harness.leader({ checkQuorum: true });
  heard.tick(5);
  heard.step({ type: "heartbeatResponse", from: "n3", term: 1 });
  heard.tick(5);
  assert.equal(heard.raft.role, "leader", "n3 answered within the timeout");
});

Deno.test("a node ignores vote requests while it hears from a leader (leader lease)", () => {
  // Its own election timeout is 15 ticks; the lease lasts electionTicks (10).
  const node = new Harness({ term: 2, checkQuorum: true, random: () => 0.5 });
  node.step({ type: "heartbeat", from: "n2", term: 2 });
  node.drain();
  node.step({ type: "vote", from: "n3", term: 3, index: 5, logTerm: 2 });
  node.step({ type: "preVote", from: "n3", term: 3, index: 5, logTerm: 2 });
  assert.deepEqual(node.sent(), []);
  assert.equal(node.raft.term, 2);
  node.tick(10);
  node.step({ type: "vote", from: "n3", term: 3, index: 5, logTerm: 2 });
  assert.deepEqual(node.sent(), ["n1->n3 voteResponse term=3 granted"], "the lease ran out");
});

Deno.test("a vote request for a leadership transfer bypasses the leader lease", () => {
  const node = new Harness({ term: 2, checkQuorum: true });
  node.step({ type: "heartbeat", from: "n2", term: 2 });
  node.drain();
  node.step({ type: "vote", from: "n3", term: 3, index: 5, logTerm: 2, transfer: true });
  assert.deepEqual(node.sent(), ["n1->n3 voteResponse term=3 granted"]);
});

// ---- Dissertation §3.10: leadership transfer ----

Deno.test("a leader refuses proposals while it transfers leadership", () => {
  const leader = settledLeader();
  assert.equal(leader.raft.transferLeadership("n2"), true);
  assert.equal(leader.raft.propose(text.encode("x")), false);
  assert.equal(leader.raft.proposeConfChange({ type: "removeNode", node: "n3" }), false);
});

Deno.test("a leader sends timeoutNow at once to a transfer target that has its whole log", () => {
  const leader = settledLeader();
  leader.raft.transferLeadership("n2");
  assert.deepEqual(leader.sent(), ["n1->n2 timeoutNow term=1"]);
});

Deno.test("a leader brings a lagging transfer target up to date before timeoutNow", () => {
  const leader = settledLeader();
  leader.raft.propose(text.encode("x"));
  leader.step({ type: "appendResponse", from: "n2", term: 1, index: 2 });
  leader.drain();
  leader.raft.transferLeadership("n3");
  assert.deepEqual(leader.sent(), ["n1->n3 append term=1 prev=1/2 commit=2 entries=[]"]);
  leader.step({ type: "appendResponse", from: "n3", term: 1, index: 2 });
  assert.deepEqual(leader.sent(), ["n1->n3 timeoutNow term=1"]);
});

Deno.test("a leader abandons a transfer after an election timeout", () => {
  const leader = settledLeader();
  leader.raft.transferLeadership("n2");
  leader.tick(9);
  assert.equal(leader.raft.propose(text.encode("x")), false);
  leader.tick();
  assert.equal(leader.raft.propose(text.encode("x")), true);
});

Deno.test("a leader refuses to transfer to itself, to a learner or to a stranger", () => {
  const leader = Harness.leader({ learners: ["n4"] });
  assert.equal(leader.raft.transferLeadership("n1"), false);
  assert.equal(leader.raft.transferLeadership("n4"), false);
  assert.equal(leader.raft.transferLeadership("n9"), false);
  assert.equal(new Harness().raft.transferLeadership("n2"), false, "a follower cannot transfer");
});

Deno.test("timeoutNow makes a follower campaign at once, skipping pre-vote and leases", () => {
  const node = new Harness({ term: 2, log: [2], preVote: true, checkQuorum: true });
  node.step({ type: "heartbeat", from: "n2", term: 2 });
  node.drain();
  node.step({ type: "timeoutNow", from: "n2", term: 2 });
  assert.deepEqual(node.sent(), [
    "n1->n2 vote term=3 last=2/1 transfer",
    "n1->n3 vote term=3 last=2/1 transfer",
  ]);
});
