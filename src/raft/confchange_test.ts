import assert from "node:assert/strict";
import {
  applyConfChange,
  bootstrapEntries,
  decodeConfChange,
  encodeConfChange,
  refuseConfChange,
} from "./confchange.ts";
import type { ConfChange } from "./types.ts";

Deno.test("conf changes round-trip through their encoding", () => {
  const changes: ConfChange[] = [
    { type: "addVoter", node: "east-1" },
    { type: "addLearner", node: "wést-2" },
    { type: "removeNode", node: "n" },
  ];
  for (const change of changes) {
    assert.deepEqual(decodeConfChange(encodeConfChange(change)), change);
  }
});

Deno.test("decodeConfChange() refuses data it does not know", () => {
  assert.throws(() => decodeConfChange(new Uint8Array([9, 65])), /does not decode/);
  assert.throws(() => decodeConfChange(new Uint8Array([1])), /does not decode/);
  assert.throws(() => decodeConfChange(new Uint8Array(0)), /does not decode/);
  assert.throws(() => encodeConfChange({ type: "addVoter", node: "" }), /must be 1 to/);
});

Deno.test("applyConfChange() sets one node's role and leaves the input alone", () => {
  const conf = { voters: ["a", "b"], learners: ["c"] };
  assert.deepEqual(applyConfChange(conf, { type: "addVoter", node: "c" }), {
    voters: ["a", "b", "c"],
    learners: [],
  });
  assert.deepEqual(applyConfChange(conf, { type: "addLearner", node: "a" }), {
    voters: ["b"],
    learners: ["c", "a"],
  });
  assert.deepEqual(applyConfChange(conf, { type: "removeNode", node: "b" }), {
    voters: ["a"],
    learners: ["c"],
  });
  assert.deepEqual(conf, { voters: ["a", "b"], learners: ["c"] });
});

Deno.test("applying conf changes again over a later membership changes nothing", () => {
  const changes: ConfChange[] = [
    { type: "addLearner", node: "d" },
    { type: "addVoter", node: "d" },
    { type: "removeNode", node: "a" },
  ];
  const start = { voters: ["a", "b", "c"], learners: [] };
  const end = changes.reduce(applyConfChange, start);
  const middle = changes.slice(0, 2).reduce(applyConfChange, start);
  assert.deepEqual(changes.reduce(applyConfChange, middle), end);
});

Deno.test("refuseConfChange() refuses no-ops and changes that leave no voter", () => {
  const conf = { voters: ["a"], learners: ["b"] };
  assert.match(refuseConfChange(conf, { type: "addVoter", node: "a" })!, /already a voter/);
  assert.match(refuseConfChange(conf, { type: "addLearner", node: "b" })!, /already a learner/);
  assert.match(refuseConfChange(conf, { type: "removeNode", node: "z" })!, /not a member/);
  assert.match(refuseConfChange(conf, { type: "removeNode", node: "a" })!, /no voter/);
  assert.match(refuseConfChange(conf, { type: "addLearner", node: "a" })!, /no voter/);
  assert.equal(refuseConfChange(conf, { type: "addVoter", node: "b" }), undefined);
  assert.equal(refuseConfChange(conf, { type: "removeNode", node: "b" }), undefined);
});

Deno.test("bootstrapEntries() builds the membership with committed conf entries of term 1", () => {
  const entries = bootstrapEntries({ voters: ["a", "b"], learners: ["c"] });
  assert.deepEqual(entries.map((e) => [e.index, e.term, e.type]), [
    [1, 1, "conf"],
    [2, 1, "conf"],
    [3, 1, "conf"],
  ]);
  assert.deepEqual(entries.map((e) => decodeConfChange(e.data)), [
    { type: "addVoter", node: "a" },
    { type: "addVoter", node: "b" },
    { type: "addLearner", node: "c" },
  ]);
  assert.throws(() => bootstrapEntries({ voters: [], learners: ["c"] }), /at least one voter/);
});
