import assert from "node:assert/strict";
import { commandKeys, commandKeysAndFlags, hasKeys, sortStoreIndex, xreadBlocks } from "./keys.ts";
import type { RawKeySpec } from "./raw.ts";
import { findCommand } from "./table.ts";
import type { CommandSpec } from "./types.ts";

const encoder = new TextEncoder();

function args(...words: string[]): Uint8Array[] {
  return words.map((word) => encoder.encode(word));
}

function keys(...words: string[]): string[] {
  const parts = words[0]!.split("|");
  const command = findCommand(parts.length === 2 ? words[0]! : words[0]!.toLowerCase());
  assert.ok(command !== undefined, words[0]);
  const argv = parts.length === 2 ? args(parts[0]!, parts[1]!, ...words.slice(1)) : args(...words);
  return commandKeys(command, argv).map((i) => new TextDecoder().decode(argv[i]));
}

function synthetic(keySpecs: RawKeySpec[], arity = -2): CommandSpec {
  return {
    name: "synthetic",
    arity,
    flags: [],
    class: "read",
    inTransaction: "queue",
    firstKey: 0,
    lastKey: 0,
    keyStep: 0,
    aclCategories: [],
    tips: [],
    keySpecs,
    subcommands: [],
    docs: { group: "generic" },
  };
}

Deno.test("commandKeys() follows index and range specs", () => {
  assert.deepEqual(keys("GET", "k"), ["k"]);
  assert.deepEqual(keys("MGET", "a", "b", "c"), ["a", "b", "c"]);
  assert.deepEqual(keys("MSET", "a", "1", "b", "2"), ["a", "b"]);
  assert.deepEqual(keys("BITOP", "AND", "d", "a", "b"), ["d", "a", "b"]);
  assert.deepEqual(keys("object|encoding", "k"), ["k"]);
  assert.deepEqual(keys("PING"), []);
});

Deno.test("commandKeys() follows keynum and keyword specs", () => {
  assert.deepEqual(keys("ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"), ["d", "a", "b"]);
  assert.deepEqual(keys("EVAL_RO", "s", "2", "a", "b", "x"), ["a", "b"]);
  assert.deepEqual(keys("XREAD", "COUNT", "1", "STREAMS", "a", "b", "0", "0"), ["a", "b"]);
  assert.deepEqual(keys("GEORADIUS", "g", "1", "2", "3", "km", "STORE", "d"), ["g", "d"]);
  assert.deepEqual(keys("LMPOP", "2", "a", "b", "LEFT"), ["a", "b"]);
});

Deno.test("commandKeys() falls back to Redis's procedures where specs cannot say", () => {
  assert.deepEqual(keys("SORT", "k", "BY", "x", "STORE", "d"), ["k", "d"]);
  assert.deepEqual(keys("SORT", "k", "GET", "store"), ["k"]);
  assert.deepEqual(keys("MIGRATE", "h", "1", "", "0", "5", "KEYS", "a", "b"), ["a", "b"]);
  assert.deepEqual(keys("MIGRATE", "h", "1", "k", "0", "5"), ["k"]);
  assert.deepEqual(keys("ZUNIONSTORE", "d", "2x", "a", "b"), ["a", "b", "d"]);
  assert.deepEqual(keys("ZUNIONSTORE", "d", "0", "a"), []);
  assert.deepEqual(keys("EVAL", "s", "0"), []);
});

Deno.test("commandKeysAndFlags() reports the spec's flags, or the procedure's", () => {
  const set = findCommand("set")!;
  assert.deepEqual(commandKeysAndFlags(set, args("SET", "k", "v")), [
    { position: 1, flags: ["OW", "update"] },
  ]);
  assert.deepEqual(commandKeysAndFlags(set, args("SET", "k", "v", "GET")), [
    { position: 1, flags: ["RW", "access", "update"] },
  ]);
  assert.deepEqual(commandKeysAndFlags(findCommand("get")!, args("GET", "k")), [
    { position: 1, flags: ["RO", "access"] },
  ]);
});

Deno.test("hasKeys() is false for commands without key specs or procedures", () => {
  assert.ok(hasKeys(findCommand("get")!));
  assert.ok(hasKeys(findCommand("sort")!));
  assert.ok(!hasKeys(findCommand("ping")!));
  assert.ok(!hasKeys(findCommand("spublish")!));
});

Deno.test("a keyword spec searching backwards finds the last keyword", () => {
  const command = synthetic([{
    flags: ["RO"],
    begin_search: { type: "keyword", keyword: "KEYS", startfrom: -1 },
    find_keys: { type: "range", lastkey: -1, keystep: 1, limit: 0 },
  }]);
  const argv = args("X", "KEYS", "a", "KEYS", "b", "c");
  assert.deepEqual(commandKeys(command, argv), [4, 5]);
});

Deno.test("an incomplete spec or an unknown one yields no keys without a procedure", () => {
  const incomplete = synthetic([{
    flags: ["RO", "incomplete"],
    begin_search: { type: "index", index: 1 },
    find_keys: { type: "range", lastkey: 0, keystep: 1, limit: 0 },
  }]);
  assert.deepEqual(commandKeys(incomplete, args("X", "k")), []);
  const unknown = synthetic([{
    flags: ["RO"],
    begin_search: { type: "unknown" },
    find_keys: { type: "unknown" },
  }]);
  assert.deepEqual(commandKeys(unknown, args("X", "k")), []);
});

Deno.test("a range with a limit takes that fraction of the remaining arguments", () => {
  const command = synthetic([{
    flags: ["RO"],
    begin_search: { type: "index", index: 1 },
    find_keys: { type: "range", lastkey: -1, keystep: 1, limit: 3 },
  }]);
  assert.deepEqual(commandKeys(command, args("X", "a", "b", "1", "2", "3", "4")), [1, 2]);
});

Deno.test("sortStoreIndex() and xreadBlocks() read options as Redis does", () => {
  assert.equal(sortStoreIndex(args("SORT", "k", "STORE", "a", "STORE", "b")), 5);
  assert.equal(sortStoreIndex(args("SORT", "k", "BY", "store")), -1);
  assert.equal(sortStoreIndex(args("SORT", "k", "STORE")), -1);
  assert.ok(xreadBlocks(args("XREAD", "BLOCK", "0", "STREAMS", "s", "0")));
  assert.ok(!xreadBlocks(args("XREAD", "STREAMS", "BLOCK", "0")));
  assert.ok(!xreadBlocks(args("XREADGROUP", "GROUP", "block", "c", "STREAMS", "s", ">")));
});
