import assert from "node:assert/strict";
import type { Pattern } from "./grammar.ts";
import { checkSyntax, compile, hasParserMirror, match } from "./syntax.ts";
import { findCommand } from "./table.ts";

const encoder = new TextEncoder();

function words(...args: string[]): Uint8Array[] {
  return args.map((arg) => encoder.encode(arg));
}

/** Like words(), for lists too long to spread into a call. */
function wordList(args: string[]): Uint8Array[] {
  return args.map((arg) => encoder.encode(arg));
}

/** checkSyntax() of a request written as words (`xgroup|create` for subcommands). */
function check(...args: string[]): string | undefined {
  const [first, ...rest] = args;
  const parts = first!.split("|");
  const command = findCommand(first!);
  assert.ok(command !== undefined, first);
  return checkSyntax(command, words(...parts, ...rest));
}

const any: Pattern = { kind: "arg", check: { kind: "any" } };
const token = (word: string): Pattern => ({ kind: "arg", check: { kind: "token", word } });
const integer: Pattern = { kind: "arg", check: { kind: "integer" } };

Deno.test("match() follows every reading of optional and repeated arguments at once", () => {
  // any+ then an optional "limit <integer>": "limit" may be a value or the token.
  const program = compile({
    kind: "seq",
    items: [
      { kind: "repeat", item: any, min: 1 },
      { kind: "optional", item: { kind: "seq", items: [token("limit"), integer] } },
    ],
  });
  assert.equal(match(program, words("x", "a", "limit", "5"), 1), undefined);
  assert.equal(match(program, words("x", "a", "limit"), 1), undefined);
  assert.equal(match(program, words("x", "limit", "limit", "x"), 1), undefined);
  const tooFew = match(program, words("x"), 1);
  assert.equal(tooFew?.at, 1);
});

Deno.test("match() follows many empty paths into one instruction without losing any", () => {
  // Every option may match nothing, so all their ends reach "end" in one closure.
  const options: Pattern[] = Array.from(
    { length: 64 },
    (_, i) => ({ kind: "optional", item: token(`t${i}`) }),
  );
  const program = compile({ kind: "seq", items: [{ kind: "alt", options }, token("end")] });
  assert.equal(match(program, words("x", "end"), 1), undefined);
  assert.equal(match(program, words("x", "t63", "end"), 1), undefined);
});

Deno.test("match() reports where every reading failed and what could have come there", () => {
  const program = compile({ kind: "seq", items: [token("get"), integer] });
  const mismatch = match(program, words("x", "get", "abc"), 1);
  assert.deepEqual(mismatch, { at: 2, expected: [{ kind: "integer" }] });
  assert.deepEqual(match(program, words("x", "get", "1", "2"), 1), { at: 3, expected: [] });
});

Deno.test("match() is linear: long requests and nested repeats neither recurse nor blow up", () => {
  const mset = findCommand("mset")!;
  const pairs = Array.from({ length: 200_000 }, (_, i) => `k${i}`);
  const started = performance.now();
  assert.equal(checkSyntax(mset, wordList(["MSET", ...pairs])), undefined);
  assert.equal(checkSyntax(mset, wordList(["MSET", ...pairs, "odd"])), "ERR syntax error");
  // (a*)* over many arguments then a failure: exponential for naive backtracking.
  const nested = compile({
    kind: "seq",
    items: [
      { kind: "repeat", item: { kind: "repeat", item: any, min: 1 }, min: 0 },
      token("end"),
    ],
  });
  assert.notEqual(match(nested, wordList(["x", ...pairs.slice(0, 5_000)]), 1), undefined);
  assert.ok(performance.now() - started < 2_000, "checked within 2 s");
});

Deno.test("checkSyntax() accepts what the docs allow, options in any order and case", () => {
  assert.equal(check("set", "k", "v"), undefined);
  assert.equal(check("zadd", "z", "nx", "CH", "gt", "1", "a", "2.5", "b"), undefined);
  assert.equal(check("geoadd", "g", "XX", "13.3", "38.1", "m"), undefined);
  assert.equal(
    check("sort", "l", "STORE", "d", "ALPHA", "GET", "#", "GET", "x", "LIMIT", "0", "1"),
    undefined,
  );
  assert.equal(check("copy", "a", "b", "REPLACE", "DB", "2"), undefined);
  assert.equal(check("xgroup|create", "s", "g", "$", "MKSTREAM"), undefined);
  assert.equal(check("xadd", "s", "LIMIT", "10", "MAXLEN", "~", "5", "1-1", "f", "v"), undefined);
  assert.equal(check("bitfield", "k", "OVERFLOW", "SAT"), undefined);
  assert.equal(
    check("georadius", "g", "1", "2", "5", "km", "ANY", "COUNT", "1", "STORE", "d"),
    undefined,
  );
  assert.equal(check("zincrby", "z", "1.5", "m"), undefined);
  assert.equal(check("zremrangebyscore", "z", "(1", "+inf"), undefined);
});

Deno.test("checkSyntax() refuses wrong tokens, bad numbers, missing values and trailing garbage", () => {
  assert.equal(check("zadd", "z", "abc", "m"), "ERR value is not a valid float");
  assert.equal(check("incrby", "k", "1.5"), "ERR value is not an integer or out of range");
  assert.equal(check("linsert", "l", "AROUND", "p", "e"), "ERR syntax error");
  assert.equal(check("copy", "a", "b", "DB"), "ERR syntax error");
  assert.equal(check("lpop", "l", "1", "garbage"), "ERR syntax error");
  assert.equal(check("hset", "h", "f", "v", "g"), "ERR syntax error");
  assert.equal(
    check("xadd", "s", "abc", "f", "v"),
    "ERR Invalid stream ID specified as stream command argument",
  );
  assert.equal(
    check("zremrangebylex", "z", "a", "+"),
    "ERR min or max not valid string range item",
  );
  assert.equal(check("setbit", "k", "7", "2"), "ERR bit is not an integer or out of range");
  assert.equal(
    check("bitfield", "k", "GET", "U8", "0"),
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
  );
});

Deno.test("checkSyntax() counts numkeys' keys out before reading the options", () => {
  assert.equal(
    check("zunionstore", "d", "2", "weights", "aggregate", "WEIGHTS", "1", "2"),
    undefined,
  );
  assert.equal(check("zunionstore", "d", "2", "a", "b", "AGGREGATE", "SUM"), undefined);
  assert.equal(check("zunionstore", "d", "3", "a", "b"), "ERR syntax error");
  assert.equal(
    check("zunionstore", "d", "0", "a"),
    "ERR at least 1 input key is needed for 'zunionstore' command",
  );
  assert.equal(check("zunionstore", "d", "x", "a"), "ERR value is not an integer or out of range");
  assert.equal(check("lmpop", "2", "a", "LEFT"), "ERR syntax error");
  assert.equal(check("lmpop", "2", "a", "left", "LEFT", "COUNT", "3"), undefined);
  assert.equal(check("lmpop", "-1", "a", "LEFT"), "ERR numkeys should be greater than 0");
});

Deno.test("checkSyntax() checks expiry commands with mirrors of Redis's parsers and texts", () => {
  assert.ok(hasParserMirror(findCommand("set")!));
  assert.ok(!hasParserMirror(findCommand("zadd")!));
  // Redis reads only the last EX's value.
  assert.equal(check("set", "k", "v", "EX", "abc", "EX", "10"), undefined);
  assert.equal(check("set", "k", "v", "EX", "10", "PX", "10"), "ERR syntax error");
  assert.equal(check("set", "k", "v", "EX", "0"), "ERR invalid expire time in 'set' command");
  assert.equal(check("set", "k", "v", "EX", "x"), "ERR value is not an integer or out of range");
  assert.equal(check("setex", "k", "-1", "v"), "ERR invalid expire time in 'setex' command");
  assert.equal(check("expire", "k", "10", "XX", "GT"), undefined);
  assert.equal(check("expire", "k", "abc", "FOO"), "ERR Unsupported option FOO");
  assert.equal(
    check("expire", "k", "10", "NX", "LT"),
    "ERR NX and XX, GT or LT options at the same time are not compatible",
  );
  assert.equal(check("expire", "k", "-5"), undefined);
  // GETEX reads its expiry only once the key exists: a bad one is not a syntax error.
  assert.equal(check("getex", "k", "EX", "abc"), undefined);
  assert.equal(check("getex", "k", "EX", "1", "PERSIST"), "ERR syntax error");
  assert.equal(
    check("restore", "k", "0", "x", "FREQ", "256"),
    "ERR Invalid FREQ value, must be >= 0 and <= 255",
  );
  assert.equal(check("restore", "k", "-1", "x"), "ERR Invalid TTL value, must be >= 0");
});

Deno.test("checkSyntax() gives Redis's arity error when called with a wrong argument count", () => {
  assert.equal(check("incr"), "ERR wrong number of arguments for 'incr' command");
  assert.equal(check("setex", "k", "1"), "ERR wrong number of arguments for 'setex' command");
});
