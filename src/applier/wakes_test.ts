import assert from "node:assert/strict";
import type { Op } from "../log/op.ts";
import { readiedKeys } from "./wakes.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

function op(commands: string[][], transaction = false): Op {
  return {
    id: "01J00000000000000000000000",
    origin: "n",
    rack: "r",
    db: 2,
    protocol: 2,
    transaction,
    acceptedAtMs: 1,
    commands: commands.map((argv) => argv.map(bytes)),
  };
}

function readied(o: Op, reply = "+OK\r\n"): string[] | "all" {
  const keys = readiedKeys(o, bytes(reply));
  return keys === "all"
    ? keys
    : keys.map(({ db, key }) => `${db}:${new TextDecoder().decode(key)}`);
}

Deno.test("pushes and adds ready their keys; pops, reads and deletes ready none", () => {
  assert.deepEqual(readied(op([["LPUSH", "q", "a", "b"]])), ["2:q"]);
  assert.deepEqual(readied(op([["ZADD", "z", "1", "m"]])), ["2:z"]);
  assert.deepEqual(readied(op([["XADD", "s", "*", "f", "v"]])), ["2:s"]);
  assert.deepEqual(readied(op([["RENAME", "a", "b"]])), ["2:a", "2:b"]);
  for (const pop of [["BRPOP", "q", "0"], ["LPOP", "q"], ["BZPOPMIN", "z", "1"], ["DEL", "q"]]) {
    assert.deepEqual(readied(op([pop]), "*-1\r\n"), [], pop.join(" "));
  }
  assert.deepEqual(readied(op([["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"]])), []);
  assert.deepEqual(readied(op([["GET", "k"]])), [], "a read in a transaction");
});

Deno.test("a move readies its destination only when it moved something", () => {
  assert.deepEqual(readied(op([["BLMOVE", "s", "d", "LEFT", "LEFT", "0"]]), "$-1\r\n"), []);
  assert.deepEqual(readied(op([["BLMOVE", "s", "d", "LEFT", "LEFT", "0"]]), "$1\r\nx\r\n"), [
    "2:d",
  ]);
  assert.deepEqual(readied(op([["RPOPLPUSH", "s", "d"]], true), "*1\r\n$-1\r\n"), ["2:d"]);
});

Deno.test("a transaction readies its commands' keys in the db each runs in; scripts their declared keys", () => {
  assert.deepEqual(
    readied(op([["RPUSH", "a", "1"], ["SELECT", "5"], ["ZADD", "z", "1", "m"]], true)),
    ["2:a", "5:z"],
  );
  assert.deepEqual(readied(op([["EVAL", "return 1", "2", "k1", "k2", "arg"]])), ["2:k1", "2:k2"]);
  assert.deepEqual(readied(op([["MOVE", "k", "7"]])), ["2:k", "7:k"]);
  assert.equal(readied(op([["SWAPDB", "0", "1"]])), "all");
});
