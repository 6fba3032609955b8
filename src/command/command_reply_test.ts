import assert from "node:assert/strict";
import { array, bulk, error, integer, map, set, simple } from "../resp/value.ts";
import type { RespValue } from "../resp/value.ts";
import { commandDocs, commandInfo, commandReply } from "./command_reply.ts";
import { findCommand } from "./table.ts";

const encoder = new TextEncoder();

function reply(...args: string[]): RespValue {
  return commandReply(args.map((arg) => encoder.encode(arg)));
}

function elements(value: RespValue): RespValue[] {
  if (value.type === "array" && value.value !== null) return value.value;
  throw new Error(`not an array: ${value.type}`);
}

Deno.test("COMMAND COUNT counts top-level commands", () => {
  assert.deepEqual(reply("COMMAND", "COUNT"), integer(240));
});

Deno.test("COMMAND INFO get has Redis's ten fields, flags and categories as sets", () => {
  assert.deepEqual(
    reply("command", "info", "GET"),
    array([
      array([
        bulk("get"),
        integer(2),
        set([simple("readonly"), simple("fast")]),
        integer(1),
        integer(1),
        integer(1),
        set([simple("@read"), simple("@string"), simple("@fast")]),
        set([]),
        set([map([
          [bulk("flags"), set([simple("RO"), simple("access")])],
          [
            bulk("begin_search"),
            map([
              [bulk("type"), bulk("index")],
              [bulk("spec"), map([[bulk("index"), integer(1)]])],
            ]),
          ],
          [
            bulk("find_keys"),
            map([
              [bulk("type"), bulk("range")],
              [
                bulk("spec"),
                map([
                  [bulk("lastkey"), integer(0)],
                  [bulk("keystep"), integer(1)],
                  [bulk("limit"), integer(0)],
                ]),
              ],
            ]),
          ],
        ])]),
        set([]),
      ]),
    ]),
  );
});

Deno.test("COMMAND INFO nests subcommands and answers null for unknown names", () => {
  const [client, unknown] = elements(reply("COMMAND", "INFO", "client", "nosuch"));
  assert.equal(elements(elements(client!)[9]!).length, findCommand("client")!.subcommands.length);
  assert.deepEqual(unknown, { type: "null" });
  assert.equal(commandInfo(findCommand("get")!), commandInfo(findCommand("get")!));
});

Deno.test("COMMAND DOCS maps names to docs, with subcommands' docs nested", () => {
  const docs = reply("COMMAND", "DOCS", "xinfo", "nosuch");
  assert.equal(docs.type, "map");
  if (docs.type !== "map") return;
  assert.equal(docs.value.length, 1);
  assert.deepEqual(docs.value[0]![0], bulk("xinfo"));
  const fields = docs.value[0]![1];
  assert.equal(fields.type, "map");
  if (fields.type !== "map") return;
  const keys = fields.value.map(([key]) =>
    new TextDecoder().decode((key as { value: Uint8Array }).value)
  );
  assert.deepEqual(keys, ["summary", "since", "group", "complexity", "subcommands"]);
  assert.equal(commandDocs(findCommand("xinfo")!), fields);
});

Deno.test("COMMAND LIST lists commands and subcommands, filtered by pattern or ACL category", () => {
  assert.equal(elements(reply("COMMAND", "LIST")).length, 240 + 126);
  assert.deepEqual(
    reply("COMMAND", "LIST", "FILTERBY", "PATTERN", "getr*"),
    array([bulk("getrange")]),
  );
  assert.deepEqual(reply("COMMAND", "LIST", "FILTERBY", "MODULE", "x"), array([]));
  const pubsub = elements(reply("COMMAND", "LIST", "FILTERBY", "ACLCAT", "PubSub"));
  assert.ok(
    pubsub.some((name) =>
      name.type === "bulk" && new TextDecoder().decode(name.value!) === "publish"
    ),
  );
  assert.deepEqual(reply("COMMAND", "LIST", "FILTERBY", "X", "y"), error("ERR syntax error"));
});

Deno.test("COMMAND GETKEYS and GETKEYSANDFLAGS name the keys of a full command", () => {
  assert.deepEqual(
    reply("COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"),
    array([bulk("a"), bulk("b")]),
  );
  assert.deepEqual(
    reply("COMMAND", "GETKEYSANDFLAGS", "LMOVE", "s", "d", "LEFT", "RIGHT"),
    array([
      array([bulk("s"), set([simple("RW"), simple("access"), simple("delete")])]),
      array([bulk("d"), set([simple("RW"), simple("insert")])]),
    ]),
  );
  assert.deepEqual(reply("COMMAND", "GETKEYS", "EVAL", "s", "0"), array([]));
  assert.deepEqual(
    reply("COMMAND", "GETKEYS", "nosuch", "a"),
    error("ERR Invalid command specified"),
  );
});

Deno.test("COMMAND HELP, and Redis's errors for wrong requests", () => {
  assert.equal(elements(reply("COMMAND", "HELP"))[0]!.type, "simple");
  assert.deepEqual(
    reply("COMMAND", "NOSUCH"),
    error("ERR unknown subcommand 'NOSUCH'. Try COMMAND HELP."),
  );
  assert.deepEqual(
    reply("COMMAND", "COUNT", "x"),
    error("ERR wrong number of arguments for 'command|count' command"),
  );
  assert.throws(() => reply("GET", "k"), /COMMAND requests only/);
});
