import assert from "node:assert/strict";
import { touchesWatched } from "./applier.ts";
import type { Op } from "../log/op.ts";

const op = (db: number, ...commands: string[][]): Op => ({
  id: "01HZX3Y5V8Q2W4E6R8T0Y2U4I6",
  origin: "n",
  rack: "r",
  db,
  protocol: 2,
  transaction: commands.length > 1,
  acceptedAtMs: 0,
  commands: commands.map((argv) => argv.map((a) => new TextEncoder().encode(a))),
});
const keys = new Set(["k"]);

Deno.test("which logged ops touch a watched key", () => {
  assert.ok(touchesWatched(op(0, ["SET", "k", "1"]), 0, keys));
  assert.ok(!touchesWatched(op(0, ["SET", "other", "1"]), 0, keys));
  assert.ok(!touchesWatched(op(1, ["SET", "k", "1"]), 0, keys), "another db");
  assert.ok(touchesWatched(op(0, ["MSET", "a", "1", "k", "2"]), 0, keys));
  assert.ok(touchesWatched(op(1, ["SELECT", "0"], ["DEL", "k"]), 0, keys), "SELECT inside MULTI");
  assert.ok(touchesWatched(op(5, ["FLUSHALL"]), 0, keys));
  assert.ok(touchesWatched(op(0, ["FLUSHDB"]), 0, keys));
  assert.ok(!touchesWatched(op(1, ["FLUSHDB"]), 0, keys));
  assert.ok(touchesWatched(op(3, ["SWAPDB", "0", "3"]), 0, keys));
  assert.ok(touchesWatched(op(1, ["MOVE", "k", "0"]), 0, keys), "moved into the watched db");
});
