import assert from "node:assert/strict";
import { encodeConfChange } from "./confchange.ts";
import { Membership } from "./membership.ts";
import type { ConfChange, Entry } from "./types.ts";

function conf(index: number, change: ConfChange): Entry {
  return { index, term: 1, type: "conf", data: encodeConfChange(change) };
}

Deno.test("Membership takes a conf entry into effect when it is appended", () => {
  const membership = new Membership({ voters: ["a", "b", "c"], learners: [] }, 0);
  const normal: Entry = { index: 1, term: 1, type: "normal", data: new Uint8Array(0) };
  assert.equal(membership.observe([normal]), false);
  assert.equal(membership.observe([conf(2, { type: "addLearner", node: "d" })]), true);
  assert.deepEqual(membership.conf, { voters: ["a", "b", "c"], learners: ["d"] });
  assert.equal(membership.index, 2);
  assert.equal(membership.pending, true);
});

Deno.test("Membership reverts conf entries that are truncated", () => {
  const membership = new Membership({ voters: ["a", "b", "c"], learners: [] }, 0);
  membership.observe([conf(2, { type: "removeNode", node: "c" })]);
  membership.observe([conf(4, { type: "addLearner", node: "d" })]);
  assert.equal(membership.truncateFrom(3), true);
  assert.deepEqual(membership.conf, { voters: ["a", "b"], learners: [] });
  assert.equal(membership.truncateFrom(3), false);
});

Deno.test("Membership.settle() makes committed conf entries permanent", () => {
  const membership = new Membership({ voters: ["a", "b", "c"], learners: [] }, 0);
  membership.observe([conf(2, { type: "removeNode", node: "c" })]);
  membership.settle(2);
  assert.equal(membership.pending, false);
  assert.deepEqual(membership.settled, { voters: ["a", "b"], learners: [] });
  assert.throws(() => membership.truncateFrom(2), /settled membership/);
});

Deno.test("Membership.restore() replaces everything with a snapshot's membership", () => {
  const membership = new Membership({ voters: ["a"], learners: [] }, 0);
  membership.observe([conf(3, { type: "addVoter", node: "b" })]);
  membership.restore({ voters: ["x", "y"], learners: ["z"] }, 10);
  assert.deepEqual(membership.conf, { voters: ["x", "y"], learners: ["z"] });
  assert.equal(membership.index, 10);
  assert.equal(membership.isVoter("y"), true);
  assert.equal(membership.isLearner("z"), true);
});
