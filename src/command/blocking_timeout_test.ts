import assert from "node:assert/strict";
import { blockingTimeoutError } from "./blocking_timeout.ts";

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
