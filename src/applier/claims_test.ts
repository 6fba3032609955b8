import assert from "node:assert/strict";
import type { Op } from "../log/op.ts";
import { claimedTry, decodeClaim, popReply } from "./claims.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

function op(argv: string[], overrides: Partial<Op> = {}): Op {
  return {
    id: "01J00000000000000000000000",
    origin: "node-a",
    rack: "east",
    db: 3,
    protocol: 2,
    transaction: false,
    acceptedAtMs: 1,
    commands: [argv.map(bytes)],
    ...overrides,
  };
}

const claimArgs = (o: Op) => claimedTry(o, { rack: "east", metaDb: 15 })?.args.map(text).join(" ");

Deno.test("a pop's try from this rack runs as its non-blocking form with a claim under its node", () => {
  assert.equal(
    claimArgs(op(["BLPOP", "a", "b", "0"])),
    "0 15 pylon:claims:node-a 01J00000000000000000000000 3 LPUSH LMPOP 2 a b LEFT",
  );
  assert.equal(
    claimArgs(op(["BRPOP", "q", "1.5"])),
    "0 15 pylon:claims:node-a 01J00000000000000000000000 3 RPUSH LMPOP 1 q RIGHT",
  );
  assert.equal(
    claimArgs(op(["BZPOPMAX", "z", "0"])),
    "0 15 pylon:claims:node-a 01J00000000000000000000000 3 ZADD ZMPOP 1 z MAX",
  );
  assert.equal(
    claimArgs(op(["BLMPOP", "0", "1", "q", "right", "COUNT", "2"])),
    "0 15 pylon:claims:node-a 01J00000000000000000000000 3 RPUSH LMPOP 1 q right COUNT 2",
  );
  assert.equal(
    claimArgs(op(["BZMPOP", "0", "1", "z", "MIN"])),
    "0 15 pylon:claims:node-a 01J00000000000000000000000 3 ZADD ZMPOP 1 z MIN",
  );
});

Deno.test("no claim for another rack's try, a transaction, a move, or a malformed request (Redis's error)", () => {
  assert.equal(claimArgs(op(["BLPOP", "a", "0"], { rack: "west" })), undefined);
  assert.equal(claimArgs(op(["BLPOP", "a", "0"], { transaction: true })), undefined);
  assert.equal(claimArgs(op(["BLMOVE", "a", "b", "LEFT", "LEFT", "0"])), undefined);
  assert.equal(claimArgs(op(["BLMPOP", "0", "0", "q", "LEFT"])), undefined);
  assert.equal(claimArgs(op(["BLMPOP", "0", "1", "q", "UP"])), undefined);
  assert.equal(claimArgs(op(["BZMPOP", "0", "1", "z", "MIN", "COUNT", "0"])), undefined);
  assert.equal(claimArgs(op(["BLMPOP", "0", "2", "q"])), undefined);
});

Deno.test("the script's reply becomes the pop's own, byte for byte", () => {
  const lmpop = "*2\r\n$1\r\nq\r\n*1\r\n$2\r\ne1\r\n";
  assert.equal(text(popReply("brpop", 2, bytes(lmpop))), "*2\r\n$1\r\nq\r\n$2\r\ne1\r\n");
  assert.equal(text(popReply("blmpop", 3, bytes(lmpop))), lmpop);
  const zmpop = "*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\nm\r\n$3\r\n1.5\r\n";
  assert.equal(
    text(popReply("bzpopmin", 2, bytes(zmpop))),
    "*3\r\n$1\r\nz\r\n$1\r\nm\r\n$3\r\n1.5\r\n",
  );
  assert.equal(text(popReply("bzpopmin", 3, bytes(zmpop))), "*3\r\n$1\r\nz\r\n$1\r\nm\r\n,1.5\r\n");
  assert.equal(
    text(popReply("bzmpop", 3, bytes(zmpop))),
    "*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\nm\r\n,1.5\r\n",
  );
  assert.equal(text(popReply("bzmpop", 2, bytes(zmpop))), zmpop);
  // Lua's nil bulk is the pop's nil array again: the reply the bare pop gets on other racks.
  assert.equal(text(popReply("brpop", 2, bytes("$-1\r\n"))), "*-1\r\n");
  assert.equal(text(popReply("bzmpop", 2, bytes("$-1\r\n"))), "*-1\r\n");
  for (
    const nothing of [
      "_\r\n",
      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    ]
  ) {
    assert.equal(text(popReply("blpop", 3, bytes(nothing))), nothing);
  }
});

Deno.test("a kept claim reads back as its db and put-back command, binary-safe", () => {
  const claim = decodeClaim(bytes("1:35:LPUSH1:q2:b\n2:a:"));
  assert.deepEqual(claim && { db: claim.db, argv: claim.argv.map(text) }, {
    db: 3,
    argv: ["LPUSH", "q", "b\n", "a:"],
  });
  assert.equal(decodeClaim(bytes("1:35:LPUSH9:q")), undefined, "cut short");
});
