import assert from "node:assert/strict";
import {
  EXPIRE_DUE,
  EXPIRY_SHIFT_MS,
  isLogicallyExpired,
  shiftExpiry,
  ttlCommand,
  ttlFromPexpiretime,
  ttlRequest,
  unshiftTtlReply,
} from "./expiry.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const argv = (...words: string[]) => words.map((w) => te.encode(w));
const words = (args: Uint8Array[]) => args.map((a) => td.decode(a));
const H = EXPIRY_SHIFT_MS;
const INT64_MAX = 9223372036854775807n;

Deno.test("EXPIRY_SHIFT_MS is a multiple of 1000, far beyond any clock and exact in a double", () => {
  assert.equal(H % 1000, 0);
  assert.ok(H > Date.UTC(2200, 0, 1));
  assert.ok(Number.isSafeInteger(H + Date.UTC(2200, 0, 1)));
});

Deno.test("shiftExpiry() shifts PEXPIREAT by H and EXPIREAT by H/1000, keeping the conditions", () => {
  assert.deepEqual(
    words(shiftExpiry("pexpireat", argv("PEXPIREAT", "k", "1700000000123"))),
    ["PEXPIREAT", "k", String(1700000000123 + H)],
  );
  assert.deepEqual(
    words(shiftExpiry("PEXPIREAT", argv("pexpireat", "k", "5", "GT", "xx"))),
    ["pexpireat", "k", String(5 + H), "GT", "xx"],
  );
  assert.deepEqual(
    words(shiftExpiry("expireat", argv("EXPIREAT", "k", "1700000000", "NX"))),
    ["EXPIREAT", "k", String(1700000000 + H / 1000), "NX"],
  );
  // A time in the past (or negative) is shifted too: it is logically expired at once.
  assert.deepEqual(
    words(shiftExpiry("pexpireat", argv("PEXPIREAT", "k", "-5"))),
    ["PEXPIREAT", "k", String(H - 5)],
  );
});

Deno.test("shiftExpiry() leaves invalid expire requests as they are, for Redis's own error", () => {
  for (
    const request of [
      argv("PEXPIREAT", "k", "x"),
      argv("PEXPIREAT", "k", "1.5"),
      argv("PEXPIREAT", "k", "5", "NX", "XX"),
      argv("PEXPIREAT", "k", "5", "GT", "LT"),
      argv("PEXPIREAT", "k", "5", "BOGUS"),
      argv("PEXPIREAT", "k"),
      argv("EXPIREAT", "k", "9223372036854776"),
    ]
  ) {
    assert.equal(shiftExpiry(td.decode(request[0]), request), request);
  }
});

Deno.test("shiftExpiry() leaves a time whose shift would leave Redis's range untouched", () => {
  const near = String(INT64_MAX - BigInt(H) + 1n);
  const request = argv("PEXPIREAT", "k", near);
  assert.equal(shiftExpiry("pexpireat", request), request);
  const fits = String(INT64_MAX - BigInt(H));
  assert.deepEqual(words(shiftExpiry("pexpireat", argv("PEXPIREAT", "k", fits))), [
    "PEXPIREAT",
    "k",
    String(INT64_MAX),
  ]);
  const seconds = argv("EXPIREAT", "k", String(INT64_MAX / 1000n - BigInt(H / 1000) + 1n));
  assert.equal(shiftExpiry("expireat", seconds), seconds);
});

Deno.test("shiftExpiry() shifts SET and GETEX PXAT/EXAT: the value Redis reads, nothing else", () => {
  assert.deepEqual(
    words(shiftExpiry("set", argv("SET", "k", "v", "NX", "PXAT", "1000", "GET"))),
    ["SET", "k", "v", "NX", "PXAT", String(1000 + H), "GET"],
  );
  assert.deepEqual(
    words(shiftExpiry("set", argv("SET", "k", "v", "EXAT", "1", "EXAT", "2"))),
    ["SET", "k", "v", "EXAT", "1", "EXAT", String(2 + H / 1000)],
  );
  assert.deepEqual(
    words(shiftExpiry("getex", argv("GETEX", "k", "pxat", "7"))),
    ["GETEX", "k", "pxat", String(7 + H)],
  );
  // Relative forms, KEEPTTL, PERSIST and no expiry are not the log's absolute forms.
  for (
    const request of [
      argv("SET", "k", "v"),
      argv("SET", "k", "v", "PX", "5"),
      argv("SET", "k", "v", "KEEPTTL"),
      argv("GETEX", "k", "PERSIST"),
      argv("GETEX", "k"),
      // Invalid: Redis's own error.
      argv("SET", "k", "v", "PXAT", "0"),
      argv("SET", "k", "v", "PXAT", "-3"),
      argv("SET", "k", "v", "PXAT", "x"),
      argv("SET", "k", "v", "PXAT", "5", "EX", "3"),
      argv("SET", "k", "v", "PXAT"),
      argv("GETEX", "k", "EXAT", "9223372036854776"),
    ]
  ) {
    assert.equal(shiftExpiry(td.decode(request[0]).toLowerCase(), request), request);
  }
});

Deno.test("shiftExpiry() shifts RESTORE's ttl with ABSTTL, never a ttl of 0 or a relative one", () => {
  assert.deepEqual(
    words(shiftExpiry("restore", argv("RESTORE", "k", "99", "payload", "ABSTTL", "REPLACE"))),
    ["RESTORE", "k", String(99 + H), "payload", "ABSTTL", "REPLACE"],
  );
  for (
    const request of [
      argv("RESTORE", "k", "0", "payload", "ABSTTL"),
      argv("RESTORE", "k", "99", "payload"),
      argv("RESTORE", "k", "-1", "payload", "ABSTTL"),
      argv("RESTORE", "k", "99", "payload", "ABSTTL", "IDLETIME", "-1"),
      argv("RESTORE", "k", "99"),
    ]
  ) {
    assert.equal(shiftExpiry("restore", request), request);
  }
});

Deno.test("shiftExpiry() leaves every other command alone", () => {
  const request = argv("INCR", "k");
  assert.equal(shiftExpiry("incr", request), request);
});

Deno.test("isLogicallyExpired() follows the stored-time table", () => {
  const t = 1_700_000_000_000;
  assert.equal(isLogicallyExpired(-1, t), false);
  assert.equal(isLogicallyExpired(-2, t), false);
  assert.equal(isLogicallyExpired(0, t), true);
  assert.equal(isLogicallyExpired(H - 1, t), true);
  assert.equal(isLogicallyExpired(H + t, t), true);
  assert.equal(isLogicallyExpired(H + t + 1, t), false);
  assert.equal(isLogicallyExpired(INT64_MAX, t), false);
});

Deno.test("EXPIRE_DUE is a script that selects each pair's db and deletes what is due", () => {
  assert.match(EXPIRE_DUE, /SELECT/);
  assert.match(EXPIRE_DUE, new RegExp(String(H)));
});

const int = (n: number | bigint) => te.encode(`:${n}\r\n`);
const shown = (bytes: Uint8Array) => td.decode(bytes);

Deno.test("unshiftTtlReply() answers PEXPIRETIME and EXPIRETIME in logical time", () => {
  const now = 1_700_000_000_000;
  const e = now + 5_500;
  assert.equal(shown(unshiftTtlReply("PEXPIRETIME", int(e + H), 2, now)), `:${e}\r\n`);
  assert.equal(shown(unshiftTtlReply("pexpiretime", int(now + H), 3, now)), ":-2\r\n");
  assert.equal(shown(unshiftTtlReply("pexpiretime", int(7), 2, now)), ":-2\r\n");
  assert.equal(
    shown(unshiftTtlReply("expiretime", int(Math.floor((e + H + 500) / 1000)), 2, now)),
    `:${Math.floor((e + 500) / 1000)}\r\n`,
  );
  assert.equal(
    shown(unshiftTtlReply("expiretime", int((now - 1000 + H) / 1000), 2, now)),
    ":-2\r\n",
  );
  for (const name of ["ttl", "pttl", "expiretime", "pexpiretime"]) {
    assert.equal(shown(unshiftTtlReply(name, int(-1), 2, now)), ":-1\r\n");
    assert.equal(shown(unshiftTtlReply(name, int(-2), 2, now)), ":-2\r\n");
  }
});

Deno.test("unshiftTtlReply() takes TTL and PTTL as measured from the read's clock", () => {
  const now = 1_700_000_000_000;
  assert.equal(shown(unshiftTtlReply("PTTL", int(H + 2_500), 2, now)), ":2500\r\n");
  assert.equal(shown(unshiftTtlReply("PTTL", int(H - 10), 2, now)), ":-2\r\n");
  assert.equal(shown(unshiftTtlReply("TTL", int(H / 1000 + 3), 2, now)), ":3\r\n");
  assert.equal(shown(unshiftTtlReply("TTL", int(H / 1000 - 1), 2, now)), ":-2\r\n");
});

Deno.test("unshiftTtlReply() passes errors and other commands through unchanged", () => {
  const error = te.encode("-ERR wrong number of arguments for 'ttl' command\r\n");
  assert.equal(unshiftTtlReply("ttl", error, 2, 0), error);
  const reply = int(H + 5);
  assert.equal(unshiftTtlReply("get", reply, 2, 0), reply);
});

Deno.test("ttlRequest() asks PEXPIRETIME only for a well-formed TTL reader", () => {
  assert.deepEqual(words(ttlRequest(argv("ttl", "k"))), ["PEXPIRETIME", "k"]);
  assert.deepEqual(words(ttlRequest(argv("ExpireTime", "k"))), ["PEXPIRETIME", "k"]);
  const wrong = argv("TTL", "k", "extra");
  assert.equal(ttlRequest(wrong), wrong);
  const other = argv("GET", "k");
  assert.equal(ttlRequest(other), other);
});

Deno.test("ttlFromPexpiretime() computes each reader exactly as Redis would at nowMs", () => {
  const now = 1_700_000_000_000;
  const e = now + 1_499;
  const stored = int(e + H);
  assert.equal(shown(ttlFromPexpiretime("PTTL", stored, 2, now)), ":1499\r\n");
  assert.equal(shown(ttlFromPexpiretime("TTL", stored, 2, now)), ":1\r\n");
  assert.equal(shown(ttlFromPexpiretime("TTL", int(now + 1_500 + H), 2, now)), ":2\r\n");
  assert.equal(
    shown(ttlFromPexpiretime("EXPIRETIME", stored, 2, now)),
    `:${Math.floor((e + 500) / 1000)}\r\n`,
  );
  assert.equal(shown(ttlFromPexpiretime("PEXPIRETIME", stored, 2, now)), `:${e}\r\n`);
  assert.equal(shown(ttlFromPexpiretime("PTTL", int(now + H), 2, now)), ":-2\r\n");
  assert.equal(shown(ttlFromPexpiretime("TTL", int(-1), 2, now)), ":-1\r\n");
});

Deno.test("ttlCommand() names the four readers in any case, and nothing else", () => {
  assert.equal(ttlCommand("TtL"), "ttl");
  assert.equal(ttlCommand(te.encode("PEXPIRETIME")), "pexpiretime");
  assert.equal(ttlCommand("expire"), undefined);
});
