import assert from "node:assert/strict";
import { Contentious } from "./contentious.ts";
import { route } from "../command/mod.ts";

const request = (...words: string[]) => {
  const argv = words.map((w) => new TextEncoder().encode(w));
  const routed = route(argv);
  if (routed.kind === "error") throw new Error(routed.message);
  return { command: routed.command, argv };
};

Deno.test("a request is strong when one of its keys matches a contentious pattern", () => {
  const contentious = new Contentious(["lock:*", "balance:?", "user:[ab]"]);
  assert.ok(contentious.touches([request("SET", "lock:orders", "me", "NX")]));
  assert.ok(contentious.touches([request("GET", "balance:7")]));
  assert.ok(!contentious.touches([request("GET", "balance:77")]));
  assert.ok(contentious.touches([request("MGET", "x", "user:b")]), "any key of a multi-key read");
  assert.ok(contentious.touches([request("SET", "x", "1"), request("INCR", "lock:n")]), "MULTI");
  assert.ok(!contentious.touches([request("SET", "session:1", "v")]));
  assert.ok(!contentious.touches([request("PING")]), "keyless");
  contentious.set([]);
  assert.ok(!contentious.touches([request("SET", "lock:orders", "me")]), "after a reload");
});
