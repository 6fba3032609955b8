import assert from "node:assert/strict";
import { route } from "../command/mod.ts";
import { inSubscribeMode, subscribedStep } from "./subscribe_mode.ts";

const step = (...words: string[]) =>
  subscribedStep(route(words.map((w) => new TextEncoder().encode(w))));

Deno.test("only RESP2 connections subscribed to something are in subscribe mode", () => {
  assert.equal(inSubscribeMode(2, 1), true);
  assert.equal(inSubscribeMode(2, 0), false);
  assert.equal(inSubscribeMode(3, 5), false, "RESP3 serves every command while subscribed");
});

Deno.test("in subscribe mode the subscribe commands and PING go to the subscriber, QUIT and RESET to Pylon", () => {
  for (const words of [["SUBSCRIBE", "c"], ["PUNSUBSCRIBE"], ["SSUBSCRIBE", "s"], ["PING"]]) {
    assert.equal(step(...words), "subscriber", words.join(" "));
  }
  assert.equal(step("QUIT"), "local");
  assert.equal(step("RESET"), "local");
});

Deno.test("in subscribe mode every other command gets Redis's refusal", () => {
  assert.deepEqual(step("GET", "k"), {
    error:
      "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
  });
  assert.match((step("PUBLISH", "c", "m") as { error: string }).error, /Can't execute 'publish'/);
  assert.match((step("NOSUCH") as { error: string }).error, /unknown command/);
});
