import assert from "node:assert/strict";
import { lastOpKey, positionKey, replyKey } from "./meta_keys.ts";

Deno.test("metadata keys keep the names racks already store (a rename would lose every position)", () => {
  assert.equal(positionKey(0), "pylon:applied:0");
  assert.equal(positionKey(12), "pylon:applied:12");
  assert.equal(lastOpKey(3), "pylon:applied-op:3");
  assert.equal(replyKey("01J0ABC"), "pylon:reply:01J0ABC");
});
