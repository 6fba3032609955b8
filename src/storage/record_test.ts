import assert from "node:assert/strict";
import {
  checksumMatches,
  encodeRecords,
  RECORD_HEADER_BYTES,
  recordLength,
  recordProblem,
} from "./record.ts";

const text = (s: string) => new TextEncoder().encode(s);
const bounds = { lengthMin: 1, lengthMax: 1024 };

Deno.test("records frame their payloads back to back and check out whole", () => {
  const bytes = encodeRecords([text("one"), text("three"), text("")]);
  assert.equal(bytes.length, 3 * RECORD_HEADER_BYTES + 3 + 5);
  assert.equal(recordLength(bytes, 0), 3);
  assert.equal(recordLength(bytes, RECORD_HEADER_BYTES + 3), 5);
  assert.equal(recordProblem(bytes, 0, bounds), null);
  assert.equal(recordProblem(bytes, RECORD_HEADER_BYTES + 3, bounds), null);
  assert.ok(
    checksumMatches(bytes, 2 * RECORD_HEADER_BYTES + 8),
    "an empty payload has a checksum too",
  );
});

Deno.test("every way a record can be damaged is named", () => {
  const whole = encodeRecords([text("payload")]);
  assert.match(
    recordProblem(whole.subarray(0, 5), 0, bounds)!,
    /torn record header \(5 bytes left\)/,
  );
  assert.match(
    recordProblem(whole.subarray(0, 10), 0, bounds)!,
    /torn record \(length "7", 2 bytes left\)/,
  );
  const flipped = whole.slice();
  flipped[RECORD_HEADER_BYTES + 2]! ^= 1;
  assert.equal(recordProblem(flipped, 0, bounds), "checksum mismatch");
  const longer = whole.slice();
  longer[3] = 6; // the length is covered by the checksum
  assert.equal(recordProblem(longer, 0, bounds), "checksum mismatch");
  assert.match(
    recordProblem(new Uint8Array(16), 0, bounds)!,
    /record length "0" is outside \[1, 1024\]/,
  );
  assert.match(
    recordProblem(whole, 0, { lengthMin: 1, lengthMax: 4 })!,
    /record length "7" is outside \[1, 4\]/,
  );
});

Deno.test("a zero-filled tail never passes for an empty record", () => {
  assert.equal(checksumMatches(new Uint8Array(RECORD_HEADER_BYTES), 0), false);
});
