import assert from "node:assert/strict";
import { decide } from "./verdict.ts";

Deno.test("the majority of the racks that answered is the reference", () => {
  const v = decide([
    { rack: "a", value: 1 },
    { rack: "b", value: 2 },
    { rack: "c", value: 1 },
  ], { origin: "b" });
  assert.deepEqual(v.diverged, ["b"], "even the op's accepting rack is outvoted");
  assert.equal(v.basis, "majority");
  assert.equal(v.reference, 1);
  assert.equal(v.referenceRack, "a");
  assert.equal(v.agreeing, 2);
  assert.equal(v.answered, 3);
});

Deno.test("with no majority the accepting rack is the reference", () => {
  const v = decide([{ rack: "a", value: 1 }, { rack: "b", value: 2 }], { origin: "a" });
  assert.deepEqual(v.diverged, ["b"]);
  assert.equal(v.basis, "origin");
  assert.equal(v.referenceRack, "a");
});

Deno.test("with no majority and no origin every rack involved diverged", () => {
  const v = decide([{ rack: "a", value: "x" }, { rack: "b", value: "y" }]);
  assert.deepEqual(v.diverged, ["a", "b"]);
  assert.equal(v.basis, "undecided");
  assert.equal(v.reference, undefined);
  const split = decide([
    { rack: "a", value: 1 },
    { rack: "b", value: 2 },
    { rack: "c", value: 2 },
    { rack: "d", value: 1 },
  ], { origin: "e" });
  assert.deepEqual(
    split.diverged,
    ["a", "b", "c", "d"],
    "an origin that did not answer is no help",
  );
});

Deno.test("racks that did not answer do not count; agreement finds no one diverged", () => {
  const v = decide([
    { rack: "a", value: 1 },
    { rack: "b", value: undefined },
    { rack: "c", value: 1 },
  ]);
  assert.deepEqual(v.diverged, []);
  assert.equal(v.answered, 2);
  const lone = decide([{ rack: "a", value: 1 }, { rack: "b", value: undefined }]);
  assert.deepEqual(lone.diverged, []);
  const two = decide([
    { rack: "a", value: 1 },
    { rack: "b", value: undefined },
    { rack: "c", value: 2 },
  ], { origin: "c" });
  assert.deepEqual(two.diverged, ["a"], "a tie among those that answered goes to the origin");
});
