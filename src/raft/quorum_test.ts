import assert from "node:assert/strict";
import { committedIndex, hasQuorum, majority, voteResult } from "./quorum.ts";

Deno.test("majority() is more than half", () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(majority), [1, 2, 2, 3, 3, 4, 4]);
});

Deno.test("committedIndex() is the highest index a majority has", () => {
  const match: Record<string, number> = { a: 5, b: 3, c: 9, d: 1, e: 7 };
  assert.equal(committedIndex(["a", "b", "c", "d", "e"], (id) => match[id]!), 5);
  assert.equal(committedIndex(["a", "b", "c", "d"], (id) => match[id]!), 3);
  assert.equal(committedIndex(["c"], (id) => match[id]!), 9);
  assert.equal(committedIndex([], () => 4), 0);
});

Deno.test("voteResult() wins with a majority, loses when a majority is out of reach", () => {
  const voters = ["a", "b", "c"];
  assert.equal(voteResult(voters, new Map([["a", true]])), "pending");
  assert.equal(voteResult(voters, new Map([["a", true], ["b", true]])), "won");
  assert.equal(voteResult(voters, new Map([["a", true], ["b", false]])), "pending");
  assert.equal(voteResult(voters, new Map([["a", true], ["b", false], ["c", false]])), "lost");
});

Deno.test("voteResult() ignores votes of non-voters", () => {
  assert.equal(
    voteResult(["a", "b", "c"], new Map([["a", true], ["x", true], ["y", true]])),
    "pending",
  );
});

Deno.test("hasQuorum() needs a majority of voters active", () => {
  const active = new Set(["a", "b"]);
  assert.equal(hasQuorum(["a", "b", "c"], (id) => active.has(id)), true);
  assert.equal(hasQuorum(["a", "b", "c", "d"], (id) => active.has(id)), false);
});
