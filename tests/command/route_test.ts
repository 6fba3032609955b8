/**
 * route() against a real Redis: unknown commands, unknown subcommands and
 * wrong arity get Redis 7.0's exact error text, and every request Redis
 * accepts is routed (never mistaken for an error).
 */

import assert from "node:assert/strict";
import { startRedis } from "../harness/mod.ts";
import { allCommands, route } from "../../src/command/mod.ts";
import { argv, connect, text } from "./resp3.ts";

const long = (char: string, length: number) => char.repeat(length);

/** Requests Redis rejects before running them. */
const REJECTED: string[][] = [
  ["foo", "a", "b"],
  ["FOO"],
  ["Foo", "with space", "'quoted'"],
  [long("x", 200), "a"],
  ["foo", long("a", 100), long("b", 100), long("c", 100)],
  ["foo", long("a", 124), "b"],
  ["foo", long("a", 125), "b"],
  ["foo", long("a", 126), "b"],
  ["foo", ...Array.from({ length: 50 }, (_, i) => `arg${i}`)],
  ["foo", "line\r\nbreak", "tab\there"],
  ["foo", "nul\0byte", "after"],
  ["foo", "é".repeat(70), "ü"],
  ["", "a"],
  ["client|setname", "x"],
  ["CLIENT", "foo"],
  ["client", "FOO", "x"],
  ["config", "nosuch"],
  ["object", long("y", 200)],
  ["xinfo", "line\nbreak"],
  ["GET"],
  ["get", "a", "b"],
  ["CLIENT", "SETNAME"],
  ["client", "setname", "a", "b"],
  ["CLIENT"],
  ["OBJECT"],
  ["command", "count", "x"],
  ["command", "getkeys", "get"],
  ["ZADD", "z", "1"],
  ["SET", "k"],
];

Deno.test("route() gives Redis's exact errors for unknown commands, subcommands and wrong arity", async () => {
  await using redis = await startRedis();
  using client = await connect(redis.port, 3);
  for (const request of REJECTED) {
    const reply = await client.call(...request);
    assert.equal(reply.type, "error", `Redis accepted ${request.join(" ")}: ${text(reply)}`);
    const routed = route(argv(...request));
    assert.equal(routed.kind, "error", request.join(" "));
    assert.equal(routed.kind === "error" ? routed.message : "", text(reply));
  }
});

Deno.test("route() accepts every command and subcommand at its arity", async () => {
  await using redis = await startRedis();
  using client = await connect(redis.port, 3);
  for (const command of allCommands()) {
    for (const spec of command.subcommands.length > 0 ? command.subcommands : [command]) {
      const words = spec.name.split("|");
      const argc = Math.max(Math.abs(spec.arity), words.length);
      const request = [...words, ...Array.from({ length: argc - words.length }, () => "0")];
      const routed = route(argv(...request));
      assert.notEqual(
        routed.kind,
        "error",
        `${request.join(" ")}: ${routed.kind === "error" ? routed.message : ""}`,
      );
      if (routed.kind !== "error") assert.equal(routed.command, spec);
      // Redis agrees the request passes its name and arity checks: COMMAND GETKEYS
      // complains about keys or arguments, never about the command or its arity.
      const keys = await client.call("COMMAND", "GETKEYS", ...request);
      if (keys.type === "error") {
        assert.doesNotMatch(keys.value, /Invalid command|Invalid number of arguments/, spec.name);
      }
    }
  }
});
