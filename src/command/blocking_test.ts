import assert from "node:assert/strict";
import {
  blockingRequest,
  blockingTimeoutError,
  isNothing,
  putBackCommand,
  timeoutReply,
  withoutBlock,
} from "./blocking.ts";

const argv = (...words: string[]) => words.map((w) => new TextEncoder().encode(w));
const text = (args: Uint8Array[] | undefined) =>
  args?.map((a) => new TextDecoder().decode(a)).join(" ");
const bytes = (s: string) => new TextEncoder().encode(s);

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

Deno.test("a blocking request waits on its sources for its timeout in whole milliseconds", () => {
  assert.deepEqual(blockingRequest("blpop", argv("BLPOP", "a", "b", "0.0015")), {
    kind: "pop",
    timeoutMs: 1,
    keys: [1, 2],
  });
  assert.deepEqual(blockingRequest("blmove", argv("BLMOVE", "s", "d", "LEFT", "RIGHT", "2")), {
    kind: "pop",
    timeoutMs: 2000,
    keys: [1],
  }, "a move waits on its source only");
  assert.deepEqual(blockingRequest("bzmpop", argv("BZMPOP", "0", "2", "z1", "z2", "MIN")), {
    kind: "pop",
    timeoutMs: 0,
    keys: [3, 4],
  });
  assert.deepEqual(
    blockingRequest(
      "xreadgroup",
      argv("XREADGROUP", "GROUP", "g", "c", "BLOCK", "50", "STREAMS", "s", ">"),
    ),
    { kind: "stream-group", timeoutMs: 50, keys: [7] },
  );
  assert.deepEqual(
    blockingRequest(
      "xread",
      argv("XREAD", "COUNT", "2", "BLOCK", "0", "STREAMS", "a", "b", "$", "0"),
    ),
    { kind: "stream-read", timeoutMs: 0, keys: [6, 7] },
  );
  assert.deepEqual(blockingRequest("blpop", argv("BLPOP", "a", "-1")), {
    error: "ERR timeout is negative",
  });
  // 0.0001 s truncates to 0 ms: Redis blocks for ever.
  assert.equal(
    (blockingRequest("blpop", argv("BLPOP", "a", "0.0001")) as { timeoutMs: number }).timeoutMs,
    0,
  );
});

Deno.test("a try found nothing when Redis answers nil inside MULTI; the timeout answers the null array", () => {
  assert.ok(isNothing(bytes("*-1\r\n")));
  assert.ok(isNothing(bytes("$-1\r\n")), "BLMOVE's nil inside MULTI");
  assert.ok(isNothing(bytes("_\r\n")));
  assert.ok(!isNothing(bytes("*0\r\n")));
  assert.ok(!isNothing(bytes("$1\r\nx\r\n")));
  assert.ok(!isNothing(bytes("-ERR timeout is negative\r\n")));
  assert.equal(new TextDecoder().decode(timeoutReply(2)), "*-1\r\n");
  assert.equal(new TextDecoder().decode(timeoutReply(3)), "_\r\n");
});

Deno.test("XREADGROUP is logged without a valid BLOCK; an invalid one stays for Redis to refuse", () => {
  assert.equal(
    text(withoutBlock(argv("XREADGROUP", "GROUP", "g", "c", "BLOCK", "10", "STREAMS", "s", ">"))),
    "XREADGROUP GROUP g c STREAMS s >",
  );
  assert.equal(
    text(withoutBlock(argv("XREADGROUP", "GROUP", "g", "c", "BLOCK", "-1", "STREAMS", "s", ">"))),
    "XREADGROUP GROUP g c BLOCK -1 STREAMS s >",
  );
  assert.equal(
    text(withoutBlock(argv("XREADGROUP", "GROUP", "g", "c", "STREAMS", "block", ">"))),
    "XREADGROUP GROUP g c STREAMS block >",
    "a stream named block is a key",
  );
});

Deno.test("what a try took for a client that is gone goes back where it was taken from", () => {
  const put = (name: string, request: string[], reply: string) =>
    text(putBackCommand(name, argv(...request), bytes(reply)));
  assert.equal(put("brpop", ["BRPOP", "q", "0"], "*2\r\n$1\r\nq\r\n$2\r\ne1\r\n"), "RPUSH q e1");
  assert.equal(
    put("blpop", ["BLPOP", "a", "q", "0"], "*2\r\n$1\r\nq\r\n$2\r\ne1\r\n"),
    "LPUSH q e1",
  );
  assert.equal(
    put(
      "blmpop",
      ["BLMPOP", "0", "1", "q", "LEFT", "COUNT", "2"],
      "*2\r\n$1\r\nq\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n",
    ),
    "LPUSH q b a",
    "a was the head: pushed last, it is the head again",
  );
  assert.equal(
    put("bzpopmin", ["BZPOPMIN", "z", "0"], "*3\r\n$1\r\nz\r\n$1\r\nm\r\n$3\r\n1.5\r\n"),
    "ZADD z NX 1.5 m",
  );
  assert.equal(
    put("bzpopmax", ["BZPOPMAX", "z", "0"], "*3\r\n$1\r\nz\r\n$1\r\nm\r\n,inf\r\n"),
    "ZADD z NX inf m",
    "a RESP3 double",
  );
  assert.equal(
    put(
      "bzmpop",
      ["BZMPOP", "0", "1", "z", "MIN", "COUNT", "2"],
      "*2\r\n$1\r\nz\r\n*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n",
    ),
    "ZADD z NX 1 a 2 b",
  );
  assert.equal(
    put("blmove", ["BLMOVE", "s", "d", "LEFT", "LEFT", "0"], "$1\r\nx\r\n"),
    undefined,
    "a move stays in its destination",
  );
  assert.equal(put("brpop", ["BRPOP", "q", "0"], "*-1\r\n"), undefined, "nothing taken");
  assert.equal(put("brpop", ["BRPOP", "q", "0"], "-WRONGTYPE x\r\n"), undefined);
});
