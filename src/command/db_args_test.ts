import assert from "node:assert/strict";
import { dbArguments } from "./db_args.ts";
import { findCommand } from "./table.ts";

const encoder = new TextEncoder();

function dbs(...args: string[]): number[] {
  const command = findCommand(args[0]!);
  assert.ok(command !== undefined, args[0]);
  return dbArguments(command, args.map((arg) => encoder.encode(arg)));
}

Deno.test("dbArguments() reads MOVE's and SWAPDB's db indices", () => {
  assert.deepEqual(dbs("MOVE", "k", "15"), [15]);
  assert.deepEqual(dbs("SWAPDB", "0", "15"), [0, 15]);
  assert.deepEqual(dbs("MOVE", "k", "-1"), [-1]);
});

Deno.test("dbArguments() reads every DB option of COPY, as Redis walks them", () => {
  assert.deepEqual(dbs("COPY", "a", "b"), []);
  assert.deepEqual(dbs("COPY", "a", "b", "DB", "3"), [3]);
  assert.deepEqual(dbs("COPY", "a", "b", "replace", "db", "3", "DB", "15"), [3, 15]);
  assert.deepEqual(dbs("COPY", "a", "b", "DB", "x", "DB", "15"), []);
  assert.deepEqual(dbs("COPY", "a", "b", "FOO", "DB", "15"), []);
});

Deno.test("dbArguments() leaves out what Redis would refuse as a db index", () => {
  assert.deepEqual(dbs("MOVE", "k", "015"), []);
  assert.deepEqual(dbs("MOVE", "k", "+15"), []);
  assert.deepEqual(dbs("MOVE", "k", "2147483648"), []);
  assert.deepEqual(dbs("SWAPDB", "x", "15"), [15]);
});

Deno.test("dbArguments() is empty for writes that name no db", () => {
  assert.deepEqual(dbs("SET", "k", "15"), []);
  assert.deepEqual(dbs("FLUSHDB"), []);
});
