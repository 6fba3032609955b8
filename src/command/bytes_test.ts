import assert from "node:assert/strict";
import { atoi, equalsIgnoreCase, isWord, lowerByte, parseStrictInteger } from "./bytes.ts";

const b = (text: string) => new TextEncoder().encode(text);

Deno.test("lowerByte() lowers ASCII capitals only", () => {
  assert.equal(lowerByte(0x41), 0x61);
  assert.equal(lowerByte(0x5a), 0x7a);
  assert.equal(lowerByte(0x61), 0x61);
  assert.equal(lowerByte(0x40), 0x40);
  assert.equal(lowerByte(0xc9), 0xc9);
});

Deno.test("isWord() compares ignoring case and stops at a NUL byte, like strcasecmp", () => {
  assert.ok(isWord(b("STORE"), "store"));
  assert.ok(isWord(b("StOrE"), "store"));
  assert.ok(isWord(b("store\0junk"), "store"));
  assert.ok(!isWord(b("stores"), "store"));
  assert.ok(!isWord(b("stor"), "store"));
  assert.ok(!isWord(b(""), "store"));
});

Deno.test("equalsIgnoreCase() compares every byte", () => {
  assert.ok(equalsIgnoreCase(b("NX"), "nx"));
  assert.ok(!equalsIgnoreCase(b("nx\0"), "nx"));
  assert.ok(!equalsIgnoreCase(b("n"), "nx"));
});

Deno.test("parseStrictInteger() accepts what Redis's string2ll accepts", () => {
  for (
    const [text, value] of [["0", 0], ["7", 7], ["-5", -5], ["1234567890", 1234567890]] as const
  ) {
    assert.equal(parseStrictInteger(b(text)), value, text);
  }
  for (
    const text of ["", "-", "-0", "01", "+1", " 1", "1 ", "1x", "0x10", "123456789012345678901"]
  ) {
    assert.equal(parseStrictInteger(b(text)), undefined, JSON.stringify(text));
  }
});

Deno.test("atoi() reads a leading integer as glibc's atoi does", () => {
  assert.equal(atoi(b("12abc")), 12);
  assert.equal(atoi(b("  -3")), -3);
  assert.equal(atoi(b("+4")), 4);
  assert.equal(atoi(b("abc")), 0);
  assert.equal(atoi(b("")), 0);
  assert.equal(atoi(b("4294967297")), 1);
  assert.equal(atoi(b("99999999999999999999")), -1);
  assert.equal(atoi(b("-99999999999999999999")), 0);
});
