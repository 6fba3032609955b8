import assert from "node:assert/strict";
import { decodeMessages, encodeMessages, MessageFormatError } from "./message_codec.ts";
import type { Message } from "./types.ts";

function message(overrides: Partial<Message>): Message {
  return {
    type: "append",
    from: "a",
    to: "b",
    term: 3,
    index: 10,
    logTerm: 2,
    entries: [],
    commit: 9,
    reject: false,
    rejectHint: 0,
    snapshot: undefined,
    transfer: false,
    ...overrides,
  };
}

Deno.test("encodeMessages/decodeMessages round-trip every field", () => {
  const batch: Message[] = [
    message({
      entries: [
        { index: 11, term: 3, type: "normal", data: Uint8Array.of(1, 2, 3) },
        { index: 12, term: 3, type: "conf", data: new TextEncoder().encode("conf") },
      ],
    }),
    message({ type: "voteResponse", reject: true, rejectHint: 7, transfer: true }),
    message({
      type: "snapshot",
      snapshot: {
        index: 100,
        term: 4,
        conf: { voters: ["a", "b"], learners: ["c"] },
        data: Uint8Array.of(9),
      },
    }),
  ];
  const decoded = decodeMessages(encodeMessages("rack:east", batch));
  assert.equal(decoded.group, "rack:east");
  assert.deepEqual(decoded.messages, batch);
});

Deno.test("decodeMessages refuses truncated, padded and foreign batches", () => {
  const bytes = encodeMessages("g", [message({})]);
  assert.throws(() => decodeMessages(bytes.subarray(0, bytes.length - 1)), MessageFormatError);
  const padded = new Uint8Array(bytes.length + 1);
  padded.set(bytes);
  assert.throws(() => decodeMessages(padded), /trailing/);
  const foreign = bytes.slice();
  foreign[0] = 7;
  assert.throws(() => decodeMessages(foreign), /version 7/);
});
