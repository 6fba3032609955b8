import assert from "node:assert/strict";
import {
  decodeDataHint,
  decodeDigestAnswer,
  decodeDigestAsk,
  decodeRecords,
  decodeRecordsAsk,
  decodeSummary,
  decodeSummaryAsk,
  type DigestAnswer,
  encodeDataHint,
  encodeDigestAnswer,
  encodeDigestAsk,
  encodeRecords,
  encodeRecordsAsk,
  encodeSummary,
  encodeSummaryAsk,
  type OutcomeSummary,
} from "./wire.ts";

Deno.test("every divergence payload decodes to what was encoded", () => {
  const asks = [{ fromWindow: 3, count: 10, at: 77 }, { fromWindow: 0, count: 0, at: undefined }];
  assert.deepEqual(decodeSummaryAsk(encodeSummaryAsk(asks)), asks);
  const summary: OutcomeSummary = {
    leads: true,
    diverged: undefined,
    partitions: [
      {
        position: 1234,
        points: [{ offset: 1233, chain: 2 ** 52 - 3 }, { offset: 1200, chain: 5 }],
        fromWindow: 2,
        windows: [17, undefined, 2 ** 51],
      },
      { position: undefined, points: [], fromWindow: 0, windows: [] },
    ],
  };
  assert.deepEqual(decodeSummary(encodeSummary(summary)), summary);
  const halted = { ...summary, diverged: "op 1 differs" };
  assert.deepEqual(decodeSummary(encodeSummary(halted)), halted);
  const recordsAsk = { partition: 2, from: 256, to: 300 };
  assert.deepEqual(decodeRecordsAsk(encodeRecordsAsk(recordsAsk)), recordsAsk);
  const records = [
    {
      offset: 5,
      opId: "01J",
      rack: "east",
      digest: 99,
      reply: Uint8Array.of(58, 49, 13, 10),
      replyLength: 4,
    },
    { offset: 6, opId: "", rack: "", digest: 0, reply: new Uint8Array(), replyLength: 0 },
  ];
  assert.deepEqual(decodeRecords(encodeRecords(records)), records);
  const ask = {
    partition: 1,
    position: 77,
    db: 3,
    limits: { elementsMax: 10, budget: 20, stringBytesMax: 30 },
    keys: [Uint8Array.of(0, 255), new TextEncoder().encode("k")],
  };
  assert.deepEqual(decodeDigestAsk(encodeDigestAsk(ask)), ask);
  const answers: DigestAnswer[] = [
    { kind: "done", digests: ["none", "string 1 -1 ab"] },
    { kind: "passed", position: 90 },
    { kind: "timeout" },
    { kind: "failed", error: "NOSCRIPT" },
    { kind: "absent" },
  ];
  for (const a of answers) assert.deepEqual(decodeDigestAnswer(encodeDigestAnswer(a)), a);
  const hint = { db: 2, key: Uint8Array.of(1, 2, 3) };
  assert.deepEqual(decodeDataHint(encodeDataHint(hint)), hint);
  assert.throws(() => decodeSummary(encodeSummary(summary).subarray(0, 20)));
});
