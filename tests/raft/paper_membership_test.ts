/**
 * Raft paper §6 (cluster membership changes), as refined by the
 * dissertation's single-server changes (§4.1–4.3): one test per rule.
 * Pylon takes a conf entry into effect when it is appended (committed or
 * not) and adds learners (non-voting members, §4.2.1).
 */

import assert from "node:assert/strict";
import { encodeConfChange } from "../../src/raft/confchange.ts";
import type { ConfChange, Entry } from "../../src/raft/types.ts";
import { entry, Harness } from "./harness.ts";

const text = new TextEncoder();

function confEntry(index: number, term: number, change: ConfChange): Entry {
  return { index, term, type: "conf", data: encodeConfChange(change) };
}

/** A leader of term 1 (no-op at 1) whose followers and learners stored the no-op, all applied. */
function settledLeader(setup: ConstructorParameters<typeof Harness>[0] = {}): Harness {
  const leader = Harness.leader(setup);
  const conf = leader.raft.status().conf;
  for (const id of [...conf.voters, ...conf.learners]) {
    if (id !== "n1") leader.step({ type: "appendResponse", from: id, term: 1, index: 1 });
  }
  leader.drain();
  return leader;
}

Deno.test("a conf entry takes effect on a follower as soon as it is appended, before it commits", () => {
  const node = new Harness({ term: 1, log: [1] });
  node.step({
    type: "append",
    from: "n2",
    term: 1,
    index: 1,
    logTerm: 1,
    entries: [confEntry(2, 1, { type: "removeNode", node: "n3" })],
    commit: 1,
  });
  const status = node.raft.status();
  assert.equal(status.commit, 1);
  assert.deepEqual(status.conf, { voters: ["n1", "n2"], learners: [] });
});

Deno.test("a follower reverts a conf entry that a new leader's log replaces", () => {
  const node = new Harness({ term: 1, log: [1] });
  node.step({
    type: "append",
    from: "n2",
    term: 1,
    index: 1,
    logTerm: 1,
    entries: [confEntry(2, 1, { type: "addLearner", node: "n4" })],
  });
  node.step({ type: "append", from: "n3", term: 2, index: 1, logTerm: 1, entries: [entry(2, 2)] });
  assert.deepEqual(node.raft.status().conf, { voters: ["n1", "n2", "n3"], learners: [] });
});

Deno.test("a conf entry takes effect on the leader when it appends it: a new voter counts at once", () => {
  const leader = Harness.leader({ voters: ["n1"] });
  assert.equal(leader.raft.status().commit, 1, "alone, the leader commits its no-op");
  assert.equal(leader.raft.proposeConfChange({ type: "addVoter", node: "n2" }), true);
  assert.equal(leader.raft.status().commit, 1, "the conf entry now needs n2 too");
  assert.deepEqual(leader.sent(), ["n1->n2 append term=1 prev=1/2 commit=1 entries=[]"]);
  leader.step({
    type: "appendResponse",
    from: "n2",
    term: 1,
    index: 0,
    reject: true,
    rejectHint: 0,
  });
  leader.step({ type: "appendResponse", from: "n2", term: 1, index: 2 });
  assert.equal(leader.raft.status().commit, 2);
});

Deno.test("a leader refuses a conf change until an entry of its own term is committed", () => {
  const leader = Harness.leader();
  assert.equal(leader.raft.proposeConfChange({ type: "addLearner", node: "n4" }), false);
  leader.step({ type: "appendResponse", from: "n2", term: 1, index: 1 });
  leader.drain();
  assert.equal(leader.raft.proposeConfChange({ type: "addLearner", node: "n4" }), true);
});

Deno.test("a leader refuses a second conf change until the first is committed and applied", () => {
  const leader = settledLeader();
  assert.equal(leader.raft.proposeConfChange({ type: "addLearner", node: "n4" }), true);
  assert.equal(leader.raft.proposeConfChange({ type: "addLearner", node: "n5" }), false);
  leader.step({ type: "appendResponse", from: "n2", term: 1, index: 2 });
  assert.equal(leader.raft.status().commit, 2);
  assert.equal(
    leader.raft.proposeConfChange({ type: "addLearner", node: "n5" }),
    false,
    "not yet applied",
  );
  leader.drain();
  assert.equal(leader.raft.proposeConfChange({ type: "addLearner", node: "n5" }), true);
});

Deno.test("a leader refuses conf changes that change nothing or leave no voter", () => {
  const leader = settledLeader({ voters: ["n1"] });
  assert.equal(leader.raft.proposeConfChange({ type: "addVoter", node: "n1" }), false);
  assert.equal(leader.raft.proposeConfChange({ type: "removeNode", node: "n7" }), false);
  assert.equal(leader.raft.proposeConfChange({ type: "removeNode", node: "n1" }), false);
  assert.equal(leader.raft.proposeConfChange({ type: "addLearner", node: "n1" }), false);
  assert.equal(new Harness().raft.proposeConfChange({ type: "addLearner", node: "n4" }), false);
});

Deno.test("learners receive the log but do not count toward commitment", () => {
  const leader = settledLeader({ learners: ["n4"] });
  leader.raft.propose(text.encode("x"));
  const sent = leader.sent();
  assert.ok(sent.some((line) => line.startsWith("n1->n4 append")), "the learner gets entries");
  leader.step({ type: "appendResponse", from: "n4", term: 1, index: 2 });
  assert.equal(leader.raft.status().commit, 1);
  leader.step({ type: "appendResponse", from: "n3", term: 1, index: 2 });
  assert.equal(leader.raft.status().commit, 2);
});

Deno.test("a learner never campaigns", () => {
  const learner = new Harness({ id: "n4", learners: ["n4"] });
  assert.deepEqual(learner.tick(100), []);
  learner.raft.campaign();
  assert.equal(learner.raft.role, "follower");
});

Deno.test("a candidate asks and counts only the voters of the membership in its log", () => {
  const node = new Harness({ log: [1], learners: ["n4"] });
  node.step({
    type: "append",
    from: "n2",
    term: 1,
    index: 1,
    logTerm: 1,
    entries: [confEntry(2, 1, { type: "removeNode", node: "n3" })],
  });
  node.drain();
  node.raft.campaign();
  assert.deepEqual(node.sent(), ["n1->n2 vote term=2 last=1/2"]);
  node.step({ type: "voteResponse", from: "n4", term: 2 });
  node.step({ type: "voteResponse", from: "n3", term: 2 });
  assert.equal(node.raft.role, "candidate", "votes of a learner and a removed node do not count");
  node.step({ type: "voteResponse", from: "n2", term: 2 });
  assert.equal(node.raft.role, "leader");
});

Deno.test("a leader that removes itself replicates without counting itself, then steps down when it commits", () => {
  const leader = settledLeader();
  assert.equal(leader.raft.proposeConfChange({ type: "removeNode", node: "n1" }), true);
  leader.drain();
  leader.step({ type: "appendResponse", from: "n2", term: 1, index: 2 });
  assert.equal(leader.raft.status().commit, 1, "n2 alone is no majority of n2, n3");
  assert.equal(leader.raft.role, "leader");
  leader.step({ type: "appendResponse", from: "n3", term: 1, index: 2 });
  assert.equal(leader.raft.role, "follower");
  assert.deepEqual(leader.sent(), [
    "n1->n2 append term=1 prev=1/2 commit=2 entries=[]",
    "n1->n3 append term=1 prev=1/2 commit=2 entries=[]",
    "n1->n2 timeoutNow term=1",
  ]);
  leader.tick(100);
  assert.equal(leader.raft.role, "follower", "a removed node does not campaign");
});

Deno.test("a node whose removal is in its log but not committed may campaign to finish it", () => {
  const node = new Harness({ voters: ["n1", "n2"], term: 1, log: [1] });
  node.step({
    type: "append",
    from: "n2",
    term: 1,
    index: 1,
    logTerm: 1,
    entries: [confEntry(2, 1, { type: "addLearner", node: "n1" })],
    commit: 1,
  });
  node.drain();
  assert.deepEqual(node.tick(10), ["n1->n2 vote term=2 last=1/2"]);
  node.step({ type: "voteResponse", from: "n2", term: 2 });
  assert.equal(node.raft.role, "leader", "the votes of the new membership (n2) suffice");
  node.step({ type: "appendResponse", from: "n2", term: 2, index: 3 });
  assert.equal(node.raft.role, "follower", "it steps down once the change commits");
});

Deno.test("a leader replicates to a newly added learner and counts it as active for check-quorum", () => {
  const leader = settledLeader({ checkQuorum: true });
  leader.raft.proposeConfChange({ type: "addLearner", node: "n4" });
  const sent = leader.sent();
  assert.ok(sent.includes("n1->n4 append term=1 prev=1/2 commit=1 entries=[]"), sent.join("\n"));
  assert.deepEqual(leader.raft.status().conf, { voters: ["n1", "n2", "n3"], learners: ["n4"] });
});
