/**
 * Readable scenarios on a small in-test network (tests/raft/network.ts):
 * each one sets up a group, drives it (campaign, isolate, heal, propose,
 * transfer, change membership, compact), and checks the transcript of
 * delivered messages or the state everyone ends in.
 */

import assert from "node:assert/strict";
import { Network } from "./network.ts";

const SAFE = { preVote: true, checkQuorum: true };

/** A group of `ids` in which n1 has been elected (term 2) and everything delivered. */
function elected(ids = ["n1", "n2", "n3"], options = SAFE): Network {
  const net = new Network(ids, options);
  net.campaign("n1");
  net.stabilize();
  return net;
}

function terms(net: Network): Record<string, number> {
  return Object.fromEntries([...net.nodes.values()].map((node) => [node.id, node.raft.term]));
}

function logsOf(net: Network, ids: string[]): string[][] {
  return ids.map((id) => net.node(id).applied);
}

Deno.test("campaign: pre-vote, vote, then the leader's no-op commits everywhere", () => {
  const net = new Network(["n1", "n2", "n3"], SAFE);
  net.campaign("n1");
  assert.deepEqual(net.stabilize(), [
    "n1->n2 preVote term=2 last=1/3",
    "n1->n3 preVote term=2 last=1/3",
    "n2->n1 preVoteResponse term=2 granted",
    "n3->n1 preVoteResponse term=2 granted",
    "n1->n2 vote term=2 last=1/3",
    "n1->n3 vote term=2 last=1/3",
    "n2->n1 voteResponse term=2 granted",
    "n3->n1 voteResponse term=2 granted",
    "n1->n2 append term=2 prev=1/3 commit=3 entries=[2/4 noop]",
    "n1->n3 append term=2 prev=1/3 commit=3 entries=[2/4 noop]",
    "n2->n1 appendResponse term=2 index=4",
    "n3->n1 appendResponse term=2 index=4",
    "n1->n2 append term=2 prev=2/4 commit=4 entries=[]",
    "n1->n3 append term=2 prev=2/4 commit=4 entries=[]",
    "n2->n1 appendResponse term=2 index=4",
    "n3->n1 appendResponse term=2 index=4",
  ]);
  const bootstrapped = ["conf addVoter n1", "conf addVoter n2", "conf addVoter n3", ""];
  assert.deepEqual(logsOf(net, ["n1", "n2", "n3"]), [bootstrapped, bootstrapped, bootstrapped]);
});

Deno.test("replication: a proposal reaches every node and is applied in the same place", () => {
  const net = elected();
  assert.equal(net.propose("n1", "set x 1"), true);
  assert.equal(net.propose("n2", "set x 2"), false, "a follower does not take proposals");
  net.stabilize();
  for (const id of ["n1", "n2", "n3"]) {
    assert.deepEqual(net.node(id).applied.slice(3), ["", "set x 1"]);
  }
});

Deno.test("pre-vote: a partitioned node that rejoins does not disrupt the group", () => {
  const net = elected();
  net.isolate("n3");
  net.tick("n3", 50);
  assert.deepEqual(net.stabilize().filter((line) => line.startsWith("n3")).slice(0, 2), [
    "n3->n1 preVote term=3 last=2/4 (dropped)",
    "n3->n2 preVote term=3 last=2/4 (dropped)",
  ]);
  assert.deepEqual(terms(net), { n1: 2, n2: 2, n3: 2 }, "pre-votes never raise a term");
  net.heal();
  net.tick("n1");
  net.stabilize();
  assert.deepEqual(terms(net), { n1: 2, n2: 2, n3: 2 });
  assert.equal(net.raft("n3").leader, "n1");
});

Deno.test("without pre-vote, the same rejoining node forces a new election", () => {
  const net = elected(["n1", "n2", "n3"], { preVote: false, checkQuorum: false });
  net.isolate("n3");
  net.tick("n3", 50);
  net.stabilize();
  assert.ok(net.raft("n3").term > 2);
  net.heal();
  net.tick("n3", 50);
  net.stabilize();
  assert.ok(net.raft("n1").term > 2, "the leader was deposed by a higher term");
});

Deno.test("check-quorum: a leader cut off from its followers steps down", () => {
  const net = elected();
  net.isolate("n1");
  net.run(10, ["n1"]);
  assert.equal(net.raft("n1").role, "leader", "its followers answered during the first round");
  net.run(10, ["n1"]);
  assert.equal(net.raft("n1").role, "follower", "nobody answered during the second");
  net.run(40, ["n2", "n3"]);
  const leaders = net.leaders();
  assert.equal(leaders.length, 1);
  assert.notEqual(leaders[0], "n1");
  net.heal();
  net.tickAll(2);
  net.stabilize();
  assert.equal(net.raft("n1").leader, leaders[0]);
});

Deno.test("leader lease: a node that hears from the leader ignores a campaign", () => {
  const net = elected();
  net.campaign("n3");
  assert.deepEqual(net.stabilize(), [
    "n3->n1 preVote term=3 last=2/4",
    "n3->n2 preVote term=3 last=2/4",
  ], "neither answers: both heard from n1 within an election timeout");
  assert.equal(net.raft("n3").role, "pre-candidate");
  net.tick("n1");
  net.stabilize();
  assert.deepEqual([net.raft("n3").role, net.raft("n3").leader], ["follower", "n1"]);
  assert.deepEqual(terms(net), { n1: 2, n2: 2, n3: 2 });
});

Deno.test("leadership transfer to an up-to-date node", () => {
  const net = elected();
  assert.equal(net.act("n1", (raft) => raft.transferLeadership("n2")), true);
  assert.deepEqual(net.stabilize().slice(0, 5), [
    "n1->n2 timeoutNow term=2",
    "n2->n1 vote term=3 last=2/4 transfer",
    "n2->n3 vote term=3 last=2/4 transfer",
    "n1->n2 voteResponse term=3 granted",
    "n3->n2 voteResponse term=3 granted",
  ]);
  assert.deepEqual(net.leaders(), ["n2"]);
});

Deno.test("leadership transfer to a lagging node: the leader catches it up first", () => {
  const net = elected();
  net.isolate("n3");
  for (const value of ["a", "b", "c"]) net.propose("n1", value);
  net.stabilize();
  net.heal();
  assert.equal(net.act("n1", (raft) => raft.transferLeadership("n3")), true);
  assert.equal(net.propose("n1", "d"), false, "proposals wait for the transfer");
  const transcript = net.stabilize();
  const caughtUp = transcript.indexOf("n3->n1 appendResponse term=2 index=7");
  const told = transcript.indexOf("n1->n3 timeoutNow term=2");
  assert.ok(caughtUp >= 0 && told > caughtUp, transcript.join("\n"));
  assert.deepEqual(net.leaders(), ["n3"]);
  assert.deepEqual(net.node("n3").applied.slice(4), ["a", "b", "c", ""], "then its own no-op");
});

Deno.test("a learner catches up, is promoted, and then counts for elections", () => {
  const net = elected();
  for (const value of ["a", "b"]) net.propose("n1", value);
  net.stabilize();
  net.addNode("n4");
  assert.equal(
    net.act("n1", (raft) => raft.proposeConfChange({ type: "addLearner", node: "n4" })),
    true,
  );
  net.stabilize();
  assert.deepEqual(net.node("n4").applied, [
    "conf addVoter n1",
    "conf addVoter n2",
    "conf addVoter n3",
    "",
    "a",
    "b",
    "conf addLearner n4",
  ]);
  assert.equal(net.raft("n4").status().conf.learners.includes("n4"), true);
  net.run(30, ["n1", "n4"]);
  assert.deepEqual(net.leaders(), ["n1"], "a learner never campaigns");
  assert.equal(
    net.act("n1", (raft) => raft.proposeConfChange({ type: "addVoter", node: "n4" })),
    true,
  );
  net.stabilize();
  for (const id of ["n1", "n2", "n3", "n4"]) {
    assert.deepEqual(net.raft(id).status().conf, {
      voters: ["n1", "n2", "n3", "n4"],
      learners: [],
    });
  }
  net.crash("n1");
  net.crash("n2");
  net.run(50);
  assert.deepEqual(net.leaders(), [], "n3 and n4 are no majority of four");
  net.restart("n2");
  net.run(50);
  assert.equal(net.leaders().length, 1);
});

Deno.test("removing the leader: it commits its removal, hands off and steps down", () => {
  const net = elected();
  assert.equal(
    net.act("n1", (raft) => raft.proposeConfChange({ type: "removeNode", node: "n1" })),
    true,
  );
  const transcript = net.stabilize();
  assert.ok(transcript.includes("n1->n2 timeoutNow term=2"), transcript.join("\n"));
  assert.deepEqual(net.leaders(), ["n2"]);
  assert.equal(net.raft("n1").role, "follower");
  for (const id of ["n2", "n3"]) {
    assert.deepEqual(net.raft(id).status().conf, { voters: ["n2", "n3"], learners: [] });
  }
  assert.equal(net.propose("n2", "after"), true);
  net.stabilize();
  assert.deepEqual(net.node("n3").applied.slice(-1), ["after"]);
});

Deno.test("snapshot install: a follower behind the leader's compaction point gets a snapshot", () => {
  const net = elected();
  net.crash("n3");
  for (let i = 1; i <= 10; i++) net.propose("n1", `v${i}`);
  net.stabilize();
  net.compact("n1", "state after v10");
  net.restart("n3");
  net.tick("n1");
  const transcript = net.stabilize();
  assert.ok(transcript.includes("n1->n3 snapshot term=2 snapshot=2/14"), transcript.join("\n"));
  net.propose("n1", "v11");
  net.stabilize();
  assert.deepEqual(net.node("n3").applied.slice(-2), ["snapshot state after v10", "v11"]);
  assert.equal(net.node("n3").storage.firstIndex(), 15);
});

Deno.test("a deposed leader's uncommitted entries are replaced by the new leader's", () => {
  const net = elected(["n1", "n2", "n3"], { preVote: true, checkQuorum: false });
  net.isolate("n1");
  net.propose("n1", "lost 1");
  net.propose("n1", "lost 2");
  net.stabilize();
  net.run(40, ["n2", "n3"]);
  const [old, fresh] = [
    net.leaders().filter((id) => id === "n1"),
    net.leaders().filter((id) => id !== "n1"),
  ];
  assert.deepEqual(old, ["n1"], "n1 does not know yet (it does not check its quorum here)");
  assert.equal(fresh.length, 1);
  const leader = fresh[0]!;
  net.propose(leader, "kept");
  net.stabilize();
  net.heal();
  net.run(3);
  for (const id of ["n1", "n2", "n3"]) {
    assert.deepEqual(net.node(id).applied.slice(3), ["", "", "kept"], `${id} applied`);
  }
  assert.deepEqual(net.leaders(), [leader]);
});

Deno.test("a restarted node keeps its term, vote and log", () => {
  const net = elected();
  net.propose("n1", "x");
  net.stabilize();
  net.crash("n2");
  net.restart("n2");
  const status = net.raft("n2").status();
  assert.deepEqual([status.term, status.vote, status.lastIndex], [2, "n1", 5]);
  net.tick("n1");
  net.stabilize();
  assert.deepEqual(
    net.node("n2").applied.slice(3),
    ["", "x"],
    "it applies the log again from the start",
  );
});
