import assert from "node:assert/strict";
import { SafetyChecker, SafetyViolation } from "./checker.ts";

Deno.test("SafetyChecker allows one leader per term and reports a second", () => {
  const checker = new SafetyChecker();
  checker.leader(2, "a");
  checker.leader(2, "a");
  checker.leader(3, "b");
  assert.throws(() => checker.leader(2, "b"), SafetyViolation);
  assert.throws(() => checker.leader(3, "a"), /election safety: "b" and "a" both led term 3/);
});

Deno.test("SafetyChecker reports an entry id with two contents or two predecessors", () => {
  const checker = new SafetyChecker();
  checker.persisted("a", 5, 2, "n:x", 1);
  checker.persisted("b", 5, 2, "n:x", 1);
  assert.throws(() => checker.persisted("c", 5, 2, "n:y", 1), /log matching: "c" wrote entry 2\/5/);
  assert.throws(
    () => checker.persisted("c", 5, 2, "n:x", 2),
    /after term 2, elsewhere after term 1/,
  );
});

Deno.test("SafetyChecker reports committed entries that differ between nodes", () => {
  const checker = new SafetyChecker();
  checker.committed("a", 4, 2, "n:x");
  checker.committed("b", 4, 2, "n:x");
  assert.equal(checker.committedMax, 4);
  assert.throws(() => checker.committed("c", 4, 3, "n:"), /committed entry 4/);
  assert.throws(() => checker.snapshotTerm("c", 4, 3), /snapshot of "c" ends at 3\/4/);
});

Deno.test("SafetyChecker reports a new leader that lacks a committed entry", () => {
  const checker = new SafetyChecker();
  checker.committed("a", 1, 1, "n:x");
  checker.committed("a", 2, 1, "n:y");
  checker.becameLeader("b", 1, (index) => (index <= 2 ? 1 : undefined));
  assert.throws(
    () => checker.becameLeader("c", 1, (index) => (index <= 1 ? 1 : undefined)),
    /leader completeness: new leader "c" has no entry at committed index 2/,
  );
  assert.throws(() => checker.becameLeader("d", 1, () => 2), /has term 2 at committed index 1/);
  checker.becameLeader("e", 3, (index) => (index === 2 ? 1 : undefined));
});

Deno.test("SafetyChecker reports two nodes applying different entries or reaching different states", () => {
  const checker = new SafetyChecker();
  checker.applied("a", 1, "1:n:x", 11);
  checker.applied("b", 1, "1:n:x", 11);
  assert.throws(() => checker.applied("c", 1, "2:n:z", 11), /state-machine safety: "c" applied/);
  assert.throws(() => checker.stateAt("c", 1, 12), /has state 12 at 1/);
});
