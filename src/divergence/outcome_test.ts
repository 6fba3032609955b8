import assert from "node:assert/strict";
import type { Op } from "../log/op.ts";
import { comparedReply, outcomeDigest, rackLocalReply, showReply } from "./outcome.ts";

const encoder = new TextEncoder();
const utf8 = new TextDecoder();
const none = () => undefined;

function op(commands: string[][], transaction = false): Op {
  return {
    id: "01JOP",
    origin: "n1",
    rack: "east",
    db: 0,
    protocol: 2,
    transaction,
    acceptedAtMs: 0,
    commands: commands.map((argv) => argv.map((a) => encoder.encode(a))),
  };
}

const compared = (o: Op | undefined, reply: string | undefined, bodies = none) =>
  utf8.decode(comparedReply(o, reply === undefined ? undefined : encoder.encode(reply), bodies));

Deno.test("a reply is compared byte for byte, errors by their code", () => {
  assert.equal(compared(op([["INCR", "k"]]), ":6\r\n"), ":6\r\n");
  assert.equal(compared(op([["GET", "k"]]), "$3\r\nabc\r\n"), "$3\r\nabc\r\n");
  assert.equal(
    compared(op([["INCR", "k"]]), "-ERR value is not an integer or out of range\r\n"),
    "-ERR\r\n",
  );
  assert.equal(
    compared(op([["LPUSH", "k", "v"]]), "!20\r\nWRONGTYPE Operation\r\n"),
    "-WRONGTYPE\r\n",
  );
  assert.equal(compared(undefined, undefined), "", "a record that is not an op");
  assert.equal(compared(op([]), undefined), "", "a tick");
});

Deno.test("receiver counts are rack-local, alone or inside a transaction", () => {
  assert.equal(compared(op([["PUBLISH", "ch", "m"]]), ":3\r\n"), "(rack-local)");
  assert.equal(compared(op([["spublish", "ch", "m"]]), ":0\r\n"), "(rack-local)");
  assert.equal(
    compared(
      op([["INCR", "k"], ["PUBLISH", "ch", "m"], ["GET", "x"]], true),
      "*3\r\n:1\r\n:7\r\n$-1\r\n",
    ),
    "*3\r\n:1\r\n(rack-local)$-1\r\n",
  );
  assert.equal(compared(op([["INCR", "k"]], true), "*-1\r\n"), "*-1\r\n", "an aborted transaction");
  assert.equal(
    compared(op([["INCR", "k"]], true), "-EXECABORT Transaction discarded\r\n"),
    "-EXECABORT\r\n",
  );
});

Deno.test("scripts that may publish are rack-local; others are compared", () => {
  const argv = (...a: string[]) => a.map((x) => encoder.encode(x));
  assert.equal(
    rackLocalReply(argv("EVAL", "return redis.call('INCR', KEYS[1])", "1", "k"), none),
    false,
  );
  assert.equal(
    rackLocalReply(argv("eval", "return redis.call('Publish', 'c', 'm')", "0"), none),
    true,
  );
  assert.equal(rackLocalReply(argv("EVALSHA", "abc", "0"), none), true, "a body not known here");
  const bodies = (sha: string) => sha === "abc" ? encoder.encode("return 1") : undefined;
  assert.equal(rackLocalReply(argv("EVALSHA", "ABC", "0"), bodies), false);
  assert.equal(rackLocalReply(argv("FCALL", "f", "0"), none), true);
  assert.equal(rackLocalReply(argv("SET", "k", "publish"), none), false);
});

Deno.test("an outcome's digest depends on the op id and the compared reply", () => {
  const r = encoder.encode(":1\r\n");
  assert.equal(outcomeDigest("a", r), outcomeDigest("a", r.slice()));
  assert.notEqual(outcomeDigest("a", r), outcomeDigest("b", r));
  assert.notEqual(outcomeDigest("a", r), outcomeDigest("a", encoder.encode(":2\r\n")));
});

Deno.test("showReply quotes a reply with CR LF visible and says when it is cut", () => {
  assert.equal(showReply(encoder.encode(":11\r\n")), '":11\\r\\n"');
  assert.equal(showReply(encoder.encode("xxxx"), 10), '"xxxx" (10 bytes, cut)');
});
