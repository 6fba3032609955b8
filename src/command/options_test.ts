import assert from "node:assert/strict";
import {
  addClock,
  expireTime,
  expiryValue,
  parseExpireFlags,
  parseRestoreOptions,
  parseStringOptions,
  quoteArgument,
  restoreTtl,
} from "./options.ts";

const encoder = new TextEncoder();
const words = (...args: string[]) => args.map((arg) => encoder.encode(arg));
const b = (text: string) => encoder.encode(text);

Deno.test("parseStringOptions() reads SET's options as Redis does, the last expiry counting", () => {
  const options = parseStringOptions(
    words("SET", "k", "v", "nx", "EX", "x", "GET", "ex", "10"),
    "set",
  );
  assert.deepEqual(options, {
    nx: true,
    xx: false,
    get: true,
    keepttl: false,
    persist: false,
    expiry: "ex",
    expiryAt: 8,
    expiryTokens: [4, 7],
  });
  assert.equal(parseStringOptions(words("SET", "k", "v"), "set")?.expiry, undefined);
  assert.equal(parseStringOptions(words("SET", "k", "v", "KEEPTTL", "XX"), "set")?.keepttl, true);
});

Deno.test("parseStringOptions() refuses what Redis refuses as a syntax error", () => {
  for (
    const options of [
      ["NX", "XX"],
      ["XX", "NX"],
      ["EX", "1", "PX", "1"],
      ["EX", "1", "KEEPTTL"],
      ["KEEPTTL", "PXAT", "1"],
      ["EX"],
      ["PERSIST"],
      ["FOO"],
    ]
  ) {
    assert.equal(
      parseStringOptions(words("SET", "k", "v", ...options), "set"),
      undefined,
      options.join(" "),
    );
  }
  assert.equal(parseStringOptions(words("GETEX", "k", "NX"), "getex"), undefined);
  assert.equal(parseStringOptions(words("GETEX", "k", "EX", "1", "PERSIST"), "getex"), undefined);
  assert.equal(
    parseStringOptions(words("GETEX", "k", "PERSIST", "PERSIST"), "getex")?.persist,
    true,
  );
});

Deno.test("expiryValue() checks what Redis checks before it reads the clock", () => {
  assert.deepEqual(expiryValue(b("10"), "s"), { ms: 10_000n });
  assert.deepEqual(expiryValue(b("10"), "ms"), { ms: 10n });
  assert.deepEqual(expiryValue(b("0"), "s"), { error: "invalid" });
  assert.deepEqual(expiryValue(b("-1"), "ms"), { error: "invalid" });
  assert.deepEqual(expiryValue(b("9223372036854775"), "s"), { ms: 9223372036854775000n });
  assert.deepEqual(expiryValue(b("9223372036854776"), "s"), { error: "invalid" });
  assert.deepEqual(expiryValue(b("1.5"), "s"), { error: "integer" });
});

Deno.test("addClock() refuses sums beyond 64 bits, where Redis's own sum overflows", () => {
  assert.equal(addClock(1000n, 1_700_000_000_000), 1_700_000_001_000n);
  assert.equal(addClock(2n ** 63n - 1n - 5n, 5), 2n ** 63n - 1n);
  assert.equal(addClock(2n ** 63n - 1n - 5n, 6), undefined);
});

Deno.test("parseExpireFlags() takes NX, XX, GT, LT in any order and refuses the incompatible", () => {
  assert.deepEqual(parseExpireFlags(words("EXPIRE", "k", "1", "xx", "GT", "gt")), {
    nx: false,
    xx: true,
    gt: true,
    lt: false,
  });
  assert.deepEqual(parseExpireFlags(words("EXPIRE", "k", "1", "NX", "LT")), {
    error: "ERR NX and XX, GT or LT options at the same time are not compatible",
  });
  assert.deepEqual(parseExpireFlags(words("EXPIRE", "k", "1", "GT", "LT")), {
    error: "ERR GT and LT options at the same time are not compatible",
  });
  assert.deepEqual(parseExpireFlags(words("EXPIRE", "k", "1", "a\r\nb\0c")), {
    error: "ERR Unsupported option a  b",
  });
});

Deno.test("expireTime() allows any sign and refuses seconds that overflow in ms", () => {
  assert.deepEqual(expireTime(b("-5"), "s"), { ms: -5000n });
  assert.deepEqual(expireTime(b("-9223372036854775"), "s"), { ms: -9223372036854775000n });
  assert.deepEqual(expireTime(b("-9223372036854776"), "s"), { error: "invalid" });
  assert.deepEqual(expireTime(b("9223372036854775807"), "ms"), { ms: 9223372036854775807n });
  assert.deepEqual(expireTime(b("x"), "ms"), { error: "integer" });
});

Deno.test("parseRestoreOptions() and restoreTtl() check RESTORE as Redis does", () => {
  assert.deepEqual(
    parseRestoreOptions(words("RESTORE", "k", "0", "p", "REPLACE", "IDLETIME", "5")),
    {
      replace: true,
      absttl: false,
      idleTime: 5n,
      frequency: undefined,
    },
  );
  assert.deepEqual(
    parseRestoreOptions(words("RESTORE", "k", "0", "p", "IDLETIME", "1", "FREQ", "1")),
    {
      error: "ERR syntax error",
    },
  );
  assert.deepEqual(parseRestoreOptions(words("RESTORE", "k", "0", "p", "IDLETIME")), {
    error: "ERR syntax error",
  });
  assert.deepEqual(parseRestoreOptions(words("RESTORE", "k", "0", "p", "IDLETIME", "-1")), {
    error: "ERR Invalid IDLETIME value, must be >= 0",
  });
  assert.equal(restoreTtl(b("0")), 0n);
  assert.deepEqual(restoreTtl(b("-1")), { error: "ERR Invalid TTL value, must be >= 0" });
});

Deno.test("quoteArgument() quotes as Redis's %s does", () => {
  assert.equal(quoteArgument(b("abc")), "abc");
  assert.equal(quoteArgument(b("a\nb\0c")), "a b");
});
