import assert from "node:assert/strict";
import { arityAccepts, route, unknownCommandMessage } from "./route.ts";
import type { Route } from "./types.ts";

const encoder = new TextEncoder();

function routeOf(...args: string[]): Route {
  return route(args.map((arg) => encoder.encode(arg)));
}

/** `kind`, plus the reply kind of writes, or the message of refusals and errors. */
function summary(routed: Route): string {
  switch (routed.kind) {
    case "write":
      return `write/${routed.reply}`;
    case "refused":
    case "error":
      return `${routed.kind}: ${routed.message}`;
    default:
      return routed.kind;
  }
}

function expectRoutes(cases: [string[], string][]): void {
  for (const [args, expected] of cases) {
    assert.equal(summary(routeOf(...args)), expected, args.join(" "));
  }
}

Deno.test("route() routes by class, whatever the case of the name", () => {
  expectRoutes([
    [["GET", "k"], "read"],
    [["gEt", "k"], "read"],
    [["incr", "k"], "write/data"],
    [["PING"], "local"],
    [["SUBSCRIBE", "ch"], "pubsub"],
    [["client", "SETNAME", "x"], "local"],
    [["OBJECT", "encoding", "k"], "read"],
    [["COMMAND"], "local"],
  ]);
});

Deno.test("route() names refused commands and subcommands, with the reason", () => {
  expectRoutes([
    [
      ["CLIENT", "KILL", "1.2.3.4:5"],
      "refused: ERR command 'client|kill' is refused by Pylon: it would act on the underlying Redis's connections; run it on that Redis directly",
    ],
  ]);
});

Deno.test("route() gives Redis's errors for unknown commands, subcommands and wrong arity", () => {
  expectRoutes([
    [["foo", "a", "b"], "error: ERR unknown command 'foo', with args beginning with: 'a' 'b' "],
    [["FOO"], "error: ERR unknown command 'FOO', with args beginning with: "],
    [["client", "foo"], "error: ERR unknown subcommand 'foo'. Try CLIENT HELP."],
    [["Config", "x"], "error: ERR unknown subcommand 'x'. Try CONFIG HELP."],
    [["get"], "error: ERR wrong number of arguments for 'get' command"],
    [["client", "setname"], "error: ERR wrong number of arguments for 'client|setname' command"],
    [["client"], "error: ERR wrong number of arguments for 'client' command"],
    [["foo", "a\r\nb"], "error: ERR unknown command 'foo', with args beginning with: 'a  b' "],
  ]);
  assert.deepEqual(route([]), { kind: "error", message: "ERR empty command" });
});

Deno.test("unknownCommandMessage() cuts the name and arguments where Redis does", () => {
  const message = unknownCommandMessage(
    ["x".repeat(200), "a".repeat(100), "b".repeat(100), "c"].map((arg) => encoder.encode(arg)),
  );
  assert.equal(
    message,
    `ERR unknown command '${"x".repeat(128)}', with args beginning with: '${"a".repeat(100)}' '${
      "b".repeat(25)
    }' `,
  );
});

Deno.test("arityAccepts() reads positive arity as exact and negative as a minimum", () => {
  assert.ok(arityAccepts(2, 2));
  assert.ok(!arityAccepts(2, 3));
  assert.ok(arityAccepts(-2, 2));
  assert.ok(arityAccepts(-2, 5));
  assert.ok(!arityAccepts(-2, 1));
});

Deno.test("SORT and GEORADIUS are reads, and writes with STORE", () => {
  expectRoutes([
    [["SORT", "k"], "read"],
    [["SORT", "k", "BY", "w*", "GET", "#", "ALPHA"], "read"],
    [["SORT", "k", "GET", "store"], "read"],
    [["SORT", "k", "STORE", "d"], "write/data"],
    [["sort", "k", "limit", "0", "1", "store", "d"], "write/data"],
    [["SORT_RO", "k"], "read"],
    [["GEORADIUS", "g", "1", "2", "3", "km"], "read"],
    [["GEORADIUS", "g", "1", "2", "3", "km", "STORE", "d"], "write/data"],
    [["GEORADIUS", "g", "1", "2", "3", "km", "STOREDIST", "d"], "write/data"],
    [["GEORADIUSBYMEMBER", "g", "m", "3", "km", "WITHDIST"], "read"],
    [["GEORADIUSBYMEMBER", "g", "m", "3", "km", "store", "d"], "write/data"],
  ]);
});

Deno.test("SET replies OK (constant) unless NX, XX, GET or invalid options make it data", () => {
  expectRoutes([
    [["SET", "k", "v"], "write/constant"],
    [["SET", "k", "v", "EX", "10"], "write/constant"],
    [["set", "k", "v", "px", "1500"], "write/constant"],
    [["SET", "k", "v", "KEEPTTL"], "write/constant"],
    [["SET", "k", "v", "EXAT", "1700000000"], "write/constant"],
    [["SET", "k", "v", "NX"], "write/data"],
    [["SET", "k", "v", "xx", "EX", "10"], "write/data"],
    [["SET", "k", "v", "GET"], "write/data"],
    [["SET", "k", "v", "EX", "0"], "write/data"],
    [["SET", "k", "v", "EX", "ten"], "write/data"],
    [["SET", "k", "v", "EX"], "write/data"],
    [["SET", "k", "v", "EX", "10", "PX", "5"], "write/data"],
    [["SET", "k", "v", "EX", "10", "KEEPTTL"], "write/data"],
    [["SET", "k", "v", "BOGUS"], "write/data"],
  ]);
});

Deno.test("the other constant writes turn data when Redis would reject their arguments", () => {
  expectRoutes([
    [["MSET", "a", "1", "b", "2"], "write/constant"],
    [["MSET", "a", "1", "b"], "write/data"],
    [["FLUSHALL"], "write/constant"],
    [["FLUSHALL", "ASYNC"], "write/constant"],
    [["flushdb", "sync"], "write/constant"],
    [["FLUSHDB", "LATER"], "write/data"],
    [["SETEX", "k", "10", "v"], "write/constant"],
    [["SETEX", "k", "-1", "v"], "write/data"],
    [["PSETEX", "k", "100", "v"], "write/constant"],
  ]);
});

Deno.test("XREAD and XREADGROUP are blocking only with BLOCK", () => {
  const blocking = "blocking";
  expectRoutes([
    [["BLPOP", "l", "0"], blocking],
    [["XREAD", "STREAMS", "s", "0"], "read"],
    [["XREAD", "COUNT", "5", "STREAMS", "s", "0"], "read"],
    [["XREAD", "BLOCK", "0", "STREAMS", "s", "0"], blocking],
    [["xread", "count", "1", "block", "100", "streams", "s", "$"], blocking],
    [["XREAD", "STREAMS", "block", "0"], "read"],
    [["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"], "write/data"],
    [
      ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"],
      blocking,
    ],
  ]);
});

Deno.test("XADD is a write with an auto-generated id (from the op's log time) or an explicit one", () => {
  expectRoutes([
    [["XADD", "s", "*", "f", "v"], "write/data"],
    [["XADD", "s", "MAXLEN", "~", "10", "*", "f", "v"], "write/data"],
    [["XADD", "s", "NOMKSTREAM", "MINID", "=", "5", "LIMIT", "10", "*", "f", "v"], "write/data"],
    [["XADD", "s", "1-1", "f", "v"], "write/data"],
    [["XADD", "s", "1-*", "f", "v"], "write/data"],
    [["XADD", "s", "MAXLEN", "10", "5-0", "f", "*"], "write/data"],
  ]);
});

Deno.test("PFCOUNT of one key is a write (it caches the cardinality), of several a read", () => {
  expectRoutes([
    [["PFCOUNT", "h"], "write/data"],
    [["PFCOUNT", "h1", "h2"], "read"],
  ]);
});

Deno.test("route() returns the same prebuilt route for every request of a plain command", () => {
  const first = routeOf("GET", "a");
  const second = routeOf("get", "b");
  assert.equal(first, second);
  assert.ok(Object.isFrozen(first));
});

Deno.test("code naming a name reserved for the script budget is refused before it is logged", () => {
  const refused = (name: string) =>
    `refused: ERR command '${name}' is refused by Pylon: the code names a name reserved for Pylon's script budget (names beginning with '__pylon'); rename it`;
  const library = "#!lua name=l\nlocal __pylon_steps = 1e18";
  expectRoutes([
    [["EVAL", "local __pylon_steps = 1e18 while true do end", "0"], refused("eval")],
    [["EVAL", "return '__pylon_steps'", "0"], "write/data"],
    [["SCRIPT", "LOAD", "__pylon_stop = nil"], refused("script|load")],
    [["SCRIPT", "LOAD", "return 1"], "write/data"],
    [["FUNCTION", "LOAD", library], refused("function|load")],
    [["FUNCTION", "LOAD", "REPLACE", library], refused("function|load")],
    [["FUNCTION", "LOAD", "#!lua name=l\nreturn 1"], "write/data"],
  ]);
});

Deno.test("SCRIPT KILL and FUNCTION KILL are refused, saying scripts stop by themselves", () => {
  for (const args of [["SCRIPT", "KILL"], ["FUNCTION", "KILL"]]) {
    const routed = summary(routeOf(...args));
    assert.match(
      routed,
      /stop by themselves once they run past their budget \(--script-time-max-ms\)/,
    );
    assert.match(routed, /run SCRIPT KILL on that Redis directly/);
  }
});
