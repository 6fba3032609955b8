import assert from "node:assert/strict";
import type { Op } from "../log/op.ts";
import { RequestDecoder } from "../resp/request_decoder.ts";
import { EXPIRE_DUE } from "../determinism/expiry.ts";
import { absoluteExpiry, expireDueCommand, opKeys, reachedKeys } from "./expiry_steps.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

function op(commands: string[][], db = 0): Op {
  return {
    id: "01HZX3Y5V8Q2W4E6R8T0Y2U000",
    origin: "n",
    rack: "r",
    db,
    protocol: 2,
    transaction: commands.length > 1,
    acceptedAtMs: 0,
    commands: commands.map((argv) => argv.map(bytes)),
  };
}

const keys = (o: Op) => opKeys(o).map(({ db, key }) => `${db}:${text(key)}`);

Deno.test("opKeys: the keys an op touches, in the db it touches each in", () => {
  assert.deepEqual(keys(op([["INCR", "a"]], 3)), ["3:a"]);
  assert.deepEqual(keys(op([["MSET", "a", "1", "b", "2"]])), ["0:a", "0:b"]);
  assert.deepEqual(
    keys(op([["INCR", "a"], ["SELECT", "2"], ["INCR", "a"], ["INCR", "b"]])),
    ["0:a", "2:a", "2:b"],
    "a SELECT inside the transaction moves the rest",
  );
  assert.deepEqual(keys(op([["MOVE", "k", "5"]])), ["0:k", "5:k"], "MOVE: the key in both dbs");
  assert.deepEqual(keys(op([["COPY", "s", "d", "DB", "4"]])), ["0:s", "0:d", "4:d"]);
  assert.deepEqual(keys(op([["EVAL", "return 1", "2", "k1", "k2", "arg"]])), ["0:k1", "0:k2"]);
  assert.deepEqual(keys(op([["PUBLISH", "ch", "m"]])), [], "a channel is not a key");
  assert.deepEqual(keys(op([])), [], "a tick op touches nothing");
});

Deno.test("absoluteExpiry: the expiry a command as logged sets, in ms", () => {
  const of = (...argv: string[]) => absoluteExpiry(argv.map(bytes));
  assert.equal(of("PEXPIREAT", "k", "1500"), 1500);
  assert.equal(of("EXPIREAT", "k", "2", "GT"), 2000);
  assert.equal(of("SET", "k", "v", "NX", "PXAT", "900"), 900);
  assert.equal(of("SET", "k", "v", "EXAT", "9"), 9000);
  assert.equal(of("GETEX", "k", "PXAT", "77"), 77);
  assert.equal(of("RESTORE", "k", "55", "payload", "ABSTTL"), 55);
  assert.equal(of("RESTORE", "k", "0", "payload", "ABSTTL"), undefined, "0: no expiry");
  assert.equal(of("RESTORE", "k", "0", "payload"), undefined);
  assert.equal(of("SET", "k", "v"), undefined);
  assert.equal(of("INCR", "k"), undefined);
  assert.equal(of("PEXPIREAT", "k", "soon"), "unknown", "Redis will refuse it; checked anyway");
});

Deno.test("reachedKeys: keys given an expiry the op's log time has already reached", () => {
  const reached = (o: Op, t: number) =>
    reachedKeys(o, t).map(({ db, key }) => `${db}:${text(key)}`);
  assert.deepEqual(reached(op([["PEXPIREAT", "k", "100"]]), 100), ["0:k"]);
  assert.deepEqual(reached(op([["PEXPIREAT", "k", "101"]]), 100), []);
  assert.deepEqual(
    reached(op([["SET", "a", "1", "PXAT", "5"], ["SELECT", "3"], ["GETEX", "b", "PXAT", "6"]]), 10),
    ["0:a", "3:b"],
  );
});

Deno.test("expireDueCommand: one EVAL of the expiry step with the log time and each key's db", () => {
  const decoder = new RequestDecoder();
  decoder.push(expireDueCommand([{ db: 0, key: bytes("a") }, { db: 2, key: bytes("b") }], 1234));
  assert.deepEqual(decoder.next()!.map(text), [
    "EVAL",
    EXPIRE_DUE,
    "0",
    "1234",
    "0",
    "a",
    "2",
    "b",
  ]);
});
