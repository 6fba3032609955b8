import assert from "node:assert/strict";
import { rewriteForLog } from "./rewrite.ts";
import { findCommand } from "./table.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const NOW_MS = 1_700_000_000_000;

/** rewriteForLog() of a request written as words, back as words (or "unchanged"). */
function logged(...args: string[]): string {
  const command = findCommand(args[0]!);
  assert.ok(command !== undefined, args[0]);
  const argv = args.map((arg) => encoder.encode(arg));
  const result = rewriteForLog(command, argv, NOW_MS);
  return result === argv ? "unchanged" : result.map((arg) => decoder.decode(arg)).join(" ");
}

Deno.test("rewriteForLog() turns EXPIRE and PEXPIRE into PEXPIREAT, keeping the conditions", () => {
  assert.equal(logged("EXPIRE", "k", "10"), "PEXPIREAT k 1700000010000");
  assert.equal(logged("expire", "k", "10", "nx"), "PEXPIREAT k 1700000010000 nx");
  assert.equal(logged("PEXPIRE", "k", "250", "XX", "GT"), "PEXPIREAT k 1700000000250 XX GT");
  assert.equal(logged("EXPIRE", "k", "-5"), "PEXPIREAT k 1699999995000");
  assert.equal(logged("EXPIRE", "k", "0"), "PEXPIREAT k 1700000000000");
});

Deno.test("rewriteForLog() turns SETEX and PSETEX into SET .. PXAT", () => {
  assert.equal(logged("SETEX", "k", "10", "v"), "SET k v PXAT 1700000010000");
  assert.equal(logged("psetex", "k", "1", "v"), "SET k v PXAT 1700000000001");
});

Deno.test("rewriteForLog() turns SET's EX/PX into PXAT, keeping the other options", () => {
  assert.equal(logged("SET", "k", "v", "EX", "10"), "SET k v PXAT 1700000010000");
  assert.equal(
    logged("SET", "k", "v", "NX", "px", "5", "GET"),
    "SET k v NX GET PXAT 1700000000005",
  );
  assert.equal(logged("SET", "k", "v", "EX", "x", "EX", "2"), "SET k v PXAT 1700000002000");
  assert.equal(logged("GETEX", "k", "EX", "10"), "GETEX k PXAT 1700000010000");
  assert.equal(logged("GETEX", "k", "PX", "1", "PX", "7"), "GETEX k PXAT 1700000000007");
});

Deno.test("rewriteForLog() gives RESTORE an absolute TTL and ABSTTL", () => {
  assert.equal(logged("RESTORE", "k", "1000", "p"), "RESTORE k 1700000001000 p ABSTTL");
  assert.equal(
    logged("RESTORE", "k", "1000", "p", "REPLACE", "FREQ", "3"),
    "RESTORE k 1700000001000 p REPLACE FREQ 3 ABSTTL",
  );
});

Deno.test("rewriteForLog() leaves invalid requests for Redis to refuse in its own words", () => {
  for (
    const request of [
      ["EXPIRE", "k", "abc"],
      ["EXPIRE", "k", "10", "NX", "XX"],
      ["EXPIRE", "k", "10", "FOO"],
      ["EXPIRE", "k", "9223372036854775"],
      ["PEXPIRE", "k", "9223372036854775807"],
      ["SETEX", "k", "0", "v"],
      ["SETEX", "k", "-1", "v"],
      ["PSETEX", "k", "9223372036854775807", "v"],
      ["SET", "k", "v", "EX", "0"],
      ["SET", "k", "v", "EX", "10", "PX", "10"],
      ["SET", "k", "v", "EX", "10", "KEEPTTL"],
      ["SET", "k", "v", "EX", "abc"],
      ["GETEX", "k", "EX", "abc"],
      ["GETEX", "k", "EX", "10", "PERSIST"],
      ["RESTORE", "k", "-1", "p"],
      ["RESTORE", "k", "10", "p", "IDLETIME"],
      ["RESTORE", "k", "10", "p", "FREQ", "256"],
      ["RESTORE", "k", "9223372036854775807", "p"],
    ]
  ) {
    assert.equal(logged(...request), "unchanged", request.join(" "));
  }
});

Deno.test("rewriteForLog() leaves absolute and absent expiries, and other commands, alone", () => {
  for (
    const request of [
      ["SET", "k", "v"],
      ["SET", "k", "v", "PXAT", "1"],
      ["SET", "k", "v", "EXAT", "1", "GET"],
      ["SET", "k", "v", "KEEPTTL"],
      ["GETEX", "k"],
      ["GETEX", "k", "PERSIST"],
      ["PEXPIREAT", "k", "1"],
      ["EXPIREAT", "k", "1"],
      ["RESTORE", "k", "0", "p"],
      ["RESTORE", "k", "5", "p", "ABSTTL"],
      ["INCR", "k"],
    ]
  ) {
    assert.equal(logged(...request), "unchanged", request.join(" "));
  }
});

Deno.test("rewriteForLog() needs a clock in ms since the epoch", () => {
  const incr = findCommand("incr")!;
  assert.throws(() => rewriteForLog(incr, [encoder.encode("INCR")], 1.5), RangeError);
  assert.throws(() => rewriteForLog(incr, [encoder.encode("INCR")], -1), RangeError);
});
