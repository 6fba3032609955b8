import assert from "node:assert/strict";
import { RequestDecoder } from "../resp/request_decoder.ts";
import { dumpPayload, functionRestoreCommand, restoreCommand } from "./restore.ts";

const text = (s: string) => new TextEncoder().encode(s);
/** Bytes from redis-cli's escaped form. */
function bytes(escaped: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < escaped.length; i++) {
    if (escaped[i] === "\\" && escaped[i + 1] === "x") {
      out.push(parseInt(escaped.slice(i + 2, i + 4), 16));
      i += 3;
    } else if (escaped[i] === "\\" && escaped[i + 1] === "n") {
      out.push(10);
      i++;
    } else out.push(escaped.charCodeAt(i));
  }
  return new Uint8Array(out);
}

function argv(command: Uint8Array): Uint8Array[] {
  const decoder = new RequestDecoder();
  decoder.push(command);
  const args = decoder.next();
  assert.ok(args !== undefined);
  assert.equal(decoder.bufferedBytes, 0, "one whole command");
  return args;
}

// `SET k value` then `DUMP k` on Redis 7.0.15 (RDB version 10).
const DUMPED = bytes("\\x00\\x05value\\n\\x00\\x81\\xf6\\xc18\\xc1\\xaa\\x9bn");

Deno.test("dumpPayload() equals what Redis's DUMP answers for the same value", () => {
  assert.deepEqual(dumpPayload(0, bytes("\\x05value"), 10), DUMPED);
});

Deno.test("restoreCommand() is RESTORE with the payload, the stored expiry as ABSTTL, and REPLACE", () => {
  const withExpiry = argv(
    restoreCommand(text("k"), 10_001_700_000_000, 0, bytes("\\x05value"), 10),
  );
  assert.deepEqual(withExpiry.map((a, i) => (i === 3 ? a : new TextDecoder().decode(a))), [
    "RESTORE",
    "k",
    "10001700000000",
    DUMPED,
    "ABSTTL",
    "REPLACE",
  ]);
  const forever = argv(restoreCommand(text("k"), undefined, 0, bytes("\\x05value"), 10));
  assert.deepEqual(forever.map((a) => new TextDecoder().decode(a)).filter((_, i) => i !== 3), [
    "RESTORE",
    "k",
    "0",
    "REPLACE",
  ]);
});

Deno.test("functionRestoreCommand() is FUNCTION RESTORE with the payload FUNCTION DUMP gives", () => {
  const code = "#!lua name=mylib\nredis.register_function('f', function() return 1 end)";
  const serialized = new Uint8Array([0xf5, 0x40, code.length, ...text(code)]);
  const args = argv(functionRestoreCommand(serialized, 10));
  assert.equal(args.length, 4);
  // `FUNCTION DUMP` on Redis 7.0.15 with that library alone.
  assert.deepEqual(
    args[2],
    bytes(
      "\\xf5@F#!lua name=mylib\\nredis.register_function('f', function() return 1 end)\\n\\x00" +
        "\\xc51\\xde\\xfcO\\xf4E\\x99",
    ),
  );
});
