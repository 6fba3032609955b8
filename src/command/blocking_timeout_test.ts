import assert from "node:assert/strict";
import { blockingSources, blockingTimeoutError, blockingTypeError } from "./blocking_timeout.ts";

const argv = (...words: string[]) => words.map((w) => new TextEncoder().encode(w));

Deno.test("blocking timeouts are judged as Redis 7.0 judges them", () => {
  const cases: [string[], string | undefined][] = [
    [["BLPOP", "k", "-1"], "ERR timeout is negative"],
    [["BLPOP", "k", "abc"], "ERR timeout is not a float or out of range"],
    [["BLPOP", "k", "nan"], "ERR timeout is not a float or out of range"],
    [["BLPOP", "k", "1e400"], "ERR timeout is negative"],
    [["BLPOP", "k", "1e18"], "ERR timeout is negative"],
    [["BLPOP", "k", "inf"], "ERR timeout is negative"],
    [["BLPOP", "k", "-0.0001"], undefined],
    [["BLPOP", "k", "0.5"], undefined],
    [["BRPOPLPUSH", "a", "b", "-2"], "ERR timeout is negative"],
    [["BLMOVE", "a", "b", "LEFT", "RIGHT", "-1"], "ERR timeout is negative"],
    [["BLMPOP", "-1", "1", "k", "LEFT"], "ERR timeout is negative"],
    [["BZMPOP", "abc", "1", "z", "MIN"], "ERR timeout is not a float or out of range"],
    [["XREAD", "BLOCK", "-1", "STREAMS", "s", "0"], "ERR timeout is negative"],
    [
      ["XREAD", "BLOCK", "1.5", "STREAMS", "s", "0"],
      "ERR timeout is not an integer or out of range",
    ],
    [["XREAD", "STREAMS", "s", "0"], undefined],
  ];
  for (const [words, expected] of cases) {
    assert.equal(
      blockingTimeoutError(words[0]!.toLowerCase(), argv(...words)),
      expected,
      words.join(" "),
    );
  }
});

Deno.test("a blocking command's sources: WRONGTYPE when a key of another type comes first", () => {
  const wrong = "WRONGTYPE Operation against a key holding the wrong kind of value";
  assert.equal(blockingTypeError("list", ["none", "string"]), wrong);
  assert.equal(blockingTypeError("list", ["none", "list", "string"]), undefined, "it would serve");
  assert.equal(blockingTypeError("list", ["none", "none"]), undefined, "it would block");
  assert.equal(blockingTypeError("zset", ["list"]), wrong);
  assert.deepEqual(blockingSources("blmove", argv("a", "b"))?.keys, argv("a"));
  assert.deepEqual(blockingSources("blpop", argv("a", "b"))?.keys, argv("a", "b"));
  assert.equal(blockingSources("xread", argv("s")), undefined);
});
