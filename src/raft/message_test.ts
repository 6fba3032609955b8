import assert from "node:assert/strict";
import { describeMessage, newMessage } from "./message.ts";

Deno.test("newMessage() fills the fields a type does not use", () => {
  const m = newMessage({ type: "heartbeat", from: "a", to: "b", term: 3, commit: 7 });
  assert.deepEqual(m, {
    type: "heartbeat",
    from: "a",
    to: "b",
    term: 3,
    index: 0,
    logTerm: 0,
    entries: [],
    commit: 7,
    reject: false,
    rejectHint: 0,
    snapshot: undefined,
    transfer: false,
  });
});

Deno.test("describeMessage() gives one readable line per message", () => {
  const data = new Uint8Array([1]);
  const lines = [
    newMessage({ type: "vote", from: "a", to: "b", term: 2, index: 5, logTerm: 1, transfer: true }),
    newMessage({ type: "voteResponse", from: "b", to: "a", term: 2, reject: true }),
    newMessage({
      type: "append",
      from: "a",
      to: "b",
      term: 2,
      index: 5,
      logTerm: 1,
      commit: 5,
      entries: [
        { index: 6, term: 2, type: "normal", data: new Uint8Array(0) },
        { index: 7, term: 2, type: "normal", data },
        { index: 8, term: 2, type: "conf", data },
      ],
    }),
    newMessage({
      type: "appendResponse",
      from: "b",
      to: "a",
      term: 2,
      index: 5,
      reject: true,
      rejectHint: 3,
      logTerm: 1,
    }),
    newMessage({ type: "heartbeat", from: "a", to: "b", term: 2, commit: 4 }),
    newMessage({ type: "timeoutNow", from: "a", to: "b", term: 2 }),
  ].map(describeMessage);
  assert.deepEqual(lines, [
    "a->b vote term=2 last=1/5 transfer",
    "b->a voteResponse term=2 rejected",
    "a->b append term=2 prev=1/5 commit=5 entries=[2/6 noop, 2/7, 2/8 conf]",
    "b->a appendResponse term=2 rejected index=5 hint=1/3",
    "a->b heartbeat term=2 commit=4",
    "a->b timeoutNow term=2",
  ]);
});
