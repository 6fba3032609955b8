import assert from "node:assert/strict";
import {
  atoi,
  equalsIgnoreCase,
  isBitfieldType,
  isBitOffset,
  isFloat,
  isInt64,
  isLexBound,
  isScoreBound,
  isStreamId,
  isWord,
  lowerByte,
  parseInt64,
  parseStrictInteger,
} from "./bytes.ts";

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

Deno.test("parseInt64() reads 64-bit integers exactly, and refuses what string2ll refuses", () => {
  assert.equal(parseInt64(b("9223372036854775807")), 9223372036854775807n);
  assert.equal(parseInt64(b("-9223372036854775808")), -9223372036854775808n);
  assert.equal(parseInt64(b("9223372036854775808")), undefined);
  assert.equal(parseInt64(b("-9223372036854775809")), undefined);
  assert.equal(parseInt64(b("0")), 0n);
  for (const text of ["", "-0", "01", "+1", " 1", "1.0", "1e3"]) {
    assert.equal(parseInt64(b(text)), undefined, JSON.stringify(text));
  }
});

Deno.test("isInt64() agrees with parseInt64() at every length", () => {
  for (
    const text of [
      "7",
      "123456789012345678",
      "922337203685477580",
      "9223372036854775807",
      "9223372036854775808",
      "-9223372036854775808",
      "99999999999999999999",
      "x",
    ]
  ) {
    assert.equal(isInt64(b(text)), parseInt64(b(text)) !== undefined, text);
  }
});

Deno.test("isFloat() takes strtod's syntax for the whole argument, without NaN or white space", () => {
  for (
    const text of [
      "1",
      "-1.5",
      ".5",
      "1.",
      "1e3",
      "1E-3",
      "+2",
      "0x10",
      "0x1p3",
      "inf",
      "-INF",
      "Infinity",
      "1e999",
    ]
  ) {
    assert.ok(isFloat(b(text)), text);
  }
  for (
    const text of ["", " 1", "1 ", "abc", "1e", "nan", "-nan", "1.5f", "0x", "1\0", "--1", "(1"]
  ) {
    assert.ok(!isFloat(b(text)), JSON.stringify(text));
  }
});

Deno.test("isScoreBound() takes what zslParseRange takes: '(' and white space, even nothing", () => {
  for (const text of ["1", "(1", "-inf", "+inf", "(2.5", "", "(", " 5", "( 1", "0x10", "1\0junk"]) {
    assert.ok(isScoreBound(b(text)), JSON.stringify(text));
  }
  for (const text of ["abc", "nan", "((1", "1 ", "[1", "#1"]) {
    assert.ok(!isScoreBound(b(text)), JSON.stringify(text));
  }
});

Deno.test("isLexBound() takes '[' or '(' prefixes and a lone '+' or '-'", () => {
  for (const text of ["[a", "(a", "[", "+", "-", "+\0x"]) assert.ok(isLexBound(b(text)), text);
  for (const text of ["", "a", "+x", "-1", "{a"]) assert.ok(!isLexBound(b(text)), text);
});

Deno.test("isStreamId() takes what Redis's stream id parser takes, strtoull's leniency included", () => {
  for (
    const text of [
      "1-1",
      "1",
      "0-0",
      "+1-1",
      " 1-1",
      "01-1",
      "3- 1",
      "1-+1",
      "2-*",
      "1-1\0x",
      "18446744073709551615-1",
    ]
  ) {
    assert.ok(isStreamId(b(text)), JSON.stringify(text));
  }
  for (
    const text of [
      "",
      "-1",
      "1-",
      "1-1 ",
      "0x5-1",
      "7-1-1",
      "*",
      "9.5",
      "1e3",
      "10-abc",
      "8-*x",
      "1".repeat(128),
    ]
  ) {
    assert.ok(!isStreamId(b(text)), JSON.stringify(text));
  }
});

Deno.test("isBitfieldType() takes i1..i64 and u1..u63, lowercase", () => {
  for (const text of ["i1", "i64", "u1", "u63", "u8\0x"]) assert.ok(isBitfieldType(b(text)), text);
  for (const text of ["i0", "i65", "u64", "U8", "I8", "u08", "u+8", "u", "8", ""]) {
    assert.ok(!isBitfieldType(b(text)), text);
  }
});

Deno.test("isBitOffset() takes non-negative integers, with '#' only where asked", () => {
  assert.ok(isBitOffset(b("0"), false));
  assert.ok(isBitOffset(b("7"), false));
  assert.ok(isBitOffset(b("#3"), true));
  assert.ok(!isBitOffset(b("#3"), false));
  for (const text of ["-1", "#-1", "#", "##1", "# 1", "1.5", ""]) {
    assert.ok(!isBitOffset(b(text), true), text);
  }
});
