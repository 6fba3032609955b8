import assert from "node:assert/strict";
import { luaTokens } from "./lua_tokens.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/** Each token as `kind:bytes`. */
function read(source: string): string[] {
  const bytes = te.encode(source);
  return luaTokens(bytes).map((t) => `${t.kind}:${td.decode(bytes.subarray(t.start, t.end))}`);
}

Deno.test("luaTokens() reads names, keywords, numbers and operators as llex.c does", () => {
  assert.deepEqual(read("local x = a.b:c(1, ...) .. 'y' ~= #z"), [
    "keyword:local",
    "name:x",
    "op:=",
    "name:a",
    "op:.",
    "name:b",
    "op::",
    "name:c",
    "op:(",
    "number:1",
    "op:,",
    "op:...",
    "op:)",
    "op:..",
    "string:'y'",
    "op:~=",
    "op:#",
    "name:z",
  ]);
  assert.deepEqual(read("0x1F 1e-5 .5 3.0e+2x _do do_ done"), [
    "number:0x1F",
    "number:1e-5",
    "number:.5",
    "number:3.0e+2x",
    "name:_do",
    "name:do_",
    "name:done",
  ]);
});

Deno.test("luaTokens() takes a keyword inside a string or a comment for neither", () => {
  assert.deepEqual(read(`x = "while true do end" .. 'do \\' end'`), [
    "name:x",
    "op:=",
    'string:"while true do end"',
    "op:..",
    "string:'do \\' end'",
  ]);
  assert.deepEqual(read("a -- do end\nb --[[ do\nend ]] c --[==[ ]] do ]==] d"), [
    "name:a",
    "name:b",
    "name:c",
    "name:d",
  ]);
  assert.deepEqual(read("s = [[do]] .. [==[ ]] end ]=] ]==] t"), [
    "name:s",
    "op:=",
    "string:[[do]]",
    "op:..",
    "string:[==[ ]] end ]=] ]==]",
    "name:t",
  ]);
});

Deno.test("luaTokens() reads `[` without a long bracket, and `--[` as a line comment", () => {
  assert.deepEqual(read("t[i] --[ not long\nu[=x"), [
    "name:t",
    "op:[",
    "name:i",
    "op:]",
    "name:u",
    "op:[",
    "op:=",
    "name:x",
  ]);
});

Deno.test("luaTokens() reads an escaped line end inside a string, and stops at a raw one", () => {
  assert.deepEqual(read('"a\\\r\nb" c'), ['string:"a\\\r\nb"', "name:c"]);
  assert.deepEqual(read('"a\nb'), ['string:"a', "name:b"]);
});

Deno.test("luaTokens() does not take a byte above 127 for a letter", () => {
  const bytes = new Uint8Array([0x61, 0xe9, 0x62]);
  assert.deepEqual(luaTokens(bytes).map((t) => t.kind), ["name", "op", "name"]);
});
