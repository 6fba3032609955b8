/**
 * Functions through the wrapper, on real Redis: libraries loaded wrapped
 * answer FUNCTION LOAD, FCALL and their errors (lines included) as a plain
 * twin does where no time or chance is involved, FUNCTION LIST WITHCODE shows
 * the client's own code byte for byte, FUNCTION DUMP gives a payload that
 * restores the client's code, and FUNCTION RESTORE of a client's payload
 * loads it wrapped. Two racks calling functions that read TIME, pop random
 * members, draw math.random and add stream entries agree, and differ without
 * the wrapper.
 */

import assert from "node:assert/strict";
import { startRedis } from "../harness/mod.ts";
import {
  clientLibraryCode,
  restoreFunctionReply,
  wrapFcall,
  wrapFunctionLoad,
  wrapFunctionRestore,
} from "../../src/determinism/functions.ts";
import { decode, FrameClient, rackState, text } from "./racks.ts";
import type { RespValue } from "../../src/resp/value.ts";
import { bulkPayload } from "../../src/resp/frames.ts";

const encoder = new TextEncoder();
const bytes = (...argv: string[]) => argv.map((arg) => encoder.encode(arg));

const LIBRARY = [
  "#!lua name=lib",
  "local function bump(keys, args) return redis.call('INCRBY', keys[1], args[1]) end",
  "redis.register_function('bump', bump)",
  "redis.register_function{function_name='peek', callback=function(keys) return redis.call('GET', keys[1]) end, flags={'no-writes'}, description='reads'}",
  "redis.register_function('argn', function(keys, args) return {#keys, #args, args[1], args[2]} end)",
  "redis.register_function('fail', function(keys, args)",
  "  local a = 1",
  "  return redis.call('LPUSH', keys[1], 'x')",
  "end)",
  "redis.register_function('pop', function(keys) return redis.call('SPOP', keys[1]) end)",
  "redis.register_function('ver', function() return {redis.REDIS_VERSION_NUM > 0, redis.LOG_WARNING, type(redis.setresp)} end)",
].join("\n");

/** Loads, calls and lists on a rack (wrapped) and on a twin (plain); every reply must be the same bytes. */
async function twinCall(rack: FrameClient, twin: FrameClient, argv: string[], what: string) {
  const request = bytes(...argv);
  const name = argv[0]!.toUpperCase();
  const sub = (argv[1] ?? "").toUpperCase();
  const context = { logTimeMs: Date.now() - 1_000, seed: "5" };
  const wrapped = name === "FCALL" || name === "FCALL_RO"
    ? wrapFcall(request, context)
    : name === "FUNCTION" && sub === "LOAD"
    ? wrapFunctionLoad(request)
    : request;
  const mine = restoreFunctionReply(request, 2, await rack.call(...wrapped));
  const theirs = await twin.call(...request);
  if (name === "FUNCTION" && sub === "LIST") {
    // Each Redis lists a library's functions in its own dict's order (seeded per process).
    assert.equal(canonicalList(mine), canonicalList(theirs), what);
  } else {
    assert.equal(text(mine), text(theirs), what);
  }
}

/** A FUNCTION LIST reply with libraries and their functions sorted by name; values as text. */
function canonicalList(reply: Uint8Array): string {
  const plain = (value: RespValue): unknown => {
    switch (value.type) {
      case "array":
      case "set":
        return (value.value ?? []).map(plain);
      case "map":
        return value.value.flatMap(([k, v]) => [plain(k), plain(v)]);
      case "bulk":
        return value.value === null ? null : new TextDecoder().decode(value.value);
      case "null":
        return null;
      default:
        return "value" in value ? String(value.value) : "?";
    }
  };
  const libraries = plain(decode(reply)) as unknown[][];
  for (const library of libraries) {
    const at = library.indexOf("functions");
    const functions = library[at + 1] as unknown[][];
    functions.sort((a, b) => String(a[1]).localeCompare(String(b[1])));
  }
  libraries.sort((a, b) => String(a[1]).localeCompare(String(b[1])));
  return JSON.stringify(libraries);
}

for (const protocol of [2, 3]) {
  Deno.test(`functions loaded wrapped answer as on a plain twin, their code shown as the client's (RESP${protocol})`, async () => {
    await using rackServer = await startRedis();
    await using twinServer = await startRedis();
    await using rack = await FrameClient.connect(rackServer.port);
    await using twin = await FrameClient.connect(twinServer.port);
    for (const client of [rack, twin]) await client.call("HELLO", String(protocol));
    const cases: [string, string[]][] = [
      ["load", ["FUNCTION", "LOAD", LIBRARY]],
      ["load again", ["FUNCTION", "LOAD", LIBRARY]],
      ["load replace", ["FUNCTION", "LOAD", "REPLACE", LIBRARY]],
      ["compile error keeps its line", [
        "FUNCTION",
        "LOAD",
        "#!lua name=bad\nlocal a = 1\nreturn ((",
      ]],
      ["load-time error keeps its line", [
        "FUNCTION",
        "LOAD",
        "#!lua name=bad\n\nlocal x = nosuch.field",
      ]],
      ["no library name", [
        "FUNCTION",
        "LOAD",
        "#!lua\nredis.register_function('f', function() end)",
      ]],
      ["no shebang", ["FUNCTION", "LOAD", "redis.register_function('f', function() end)"]],
      ["a duplicate function", [
        "FUNCTION",
        "LOAD",
        "#!lua name=dup\nredis.register_function('bump', function() return 1 end)",
      ]],
      ["a bad flag", [
        "FUNCTION",
        "LOAD",
        "#!lua name=flags\nredis.register_function{function_name='f', callback=function() end, flags={'nope'}}",
      ]],
      ["register_function with no arguments", [
        "FUNCTION",
        "LOAD",
        "#!lua name=none\nredis.register_function()",
      ]],
      ["register_function with three arguments", [
        "FUNCTION",
        "LOAD",
        "#!lua name=three\nredis.register_function('a', function() end, 3)",
      ]],
      ["FCALL", ["FCALL", "bump", "1", "n", "5"]],
      ["FCALL again", ["FCALL", "bump", "1", "n", "-2"]],
      ["FCALL_RO", ["FCALL_RO", "peek", "1", "n"]],
      ["FCALL_RO of a writing function", ["FCALL_RO", "bump", "1", "n", "1"]],
      ["the client's keys and args", ["FCALL", "argn", "2", "a", "b", "x", "y"]],
      ["no args", ["FCALL", "argn", "0"]],
      ["an error keeps its line", ["FCALL", "fail", "1", "n"]],
      ["an unknown function", ["FCALL", "nosuch", "0"]],
      ["too many keys", ["FCALL", "bump", "3", "n"]],
      ["negative keys", ["FCALL", "bump", "-1"]],
      ["a bad increment", ["FCALL", "bump", "1", "n", "x"]],
      ["SPOP of one member", ["FCALL", "pop", "1", "missing"]],
      ["the redis table at run time", ["FCALL", "ver", "0"]],
      ["FUNCTION LIST", ["FUNCTION", "LIST"]],
      ["FUNCTION LIST WITHCODE", ["FUNCTION", "LIST", "WITHCODE"]],
      ["FUNCTION LIST LIBRARYNAME WITHCODE", [
        "FUNCTION",
        "LIST",
        "LIBRARYNAME",
        "li*",
        "WITHCODE",
      ]],
    ];
    for (const [what, argv] of cases) await twinCall(rack, twin, argv, `${what} (RESP${protocol})`);
  });
}

Deno.test("FUNCTION DUMP shows the client's code; FUNCTION RESTORE of a client's payload loads it wrapped", async () => {
  await using rackServer = await startRedis();
  await using twinServer = await startRedis();
  await using rack = await FrameClient.connect(rackServer.port);
  await using twin = await FrameClient.connect(twinServer.port);
  await rack.call(...wrapFunctionLoad(bytes("FUNCTION", "LOAD", LIBRARY)));
  // The rack's dump, as the client gets it, restores the client's own code on a plain Redis.
  const dumped = bulkPayload(
    restoreFunctionReply(bytes("FUNCTION", "DUMP"), 2, await rack.call("FUNCTION", "DUMP")),
  )!;
  assert.equal(text(await twin.call("FUNCTION", "RESTORE", dumped)), "+OK␍␊");
  const code = canonicalList(await twin.call("FUNCTION", "LIST", "WITHCODE"));
  assert.ok(code.includes("redis.register_function('bump', bump)"));
  assert.ok(!code.includes("local redis, math"), "no prologue on the plain Redis");
  assert.ok(code.includes(JSON.stringify(LIBRARY)), "the client's code, byte for byte");
  // A plain Redis's payload (its code LZF-compressed) restores wrapped on the rack.
  await twin.call(
    "FUNCTION",
    "LOAD",
    "#!lua name=more\nredis.register_function('when', function() return redis.call('TIME') end)",
  );
  const payload = bulkPayload(await twin.call("FUNCTION", "DUMP"))!;
  const restore = wrapFunctionRestore(
    bytes("FUNCTION", "RESTORE", "-", "REPLACE").map((arg, i) => i === 2 ? payload : arg),
  );
  assert.ok(restore !== undefined);
  assert.equal(text(await rack.call(...restore)), "+OK␍␊");
  const t = 1_700_000_000_250;
  assert.equal(
    text(await rack.call(...wrapFcall(bytes("FCALL", "when", "0"), { logTimeMs: t, seed: "1" }))),
    "*2␍␊$10␍␊1700000000␍␊$6␍␊250000␍␊",
  );
  assert.equal(
    canonicalList(
      restoreFunctionReply(
        bytes("FUNCTION", "LIST", "WITHCODE"),
        2,
        await rack.call("FUNCTION", "LIST", "WITHCODE"),
      ),
    ),
    canonicalList(await twin.call("FUNCTION", "LIST", "WITHCODE")),
  );
  // A payload Redis refuses goes as it is, for Redis's own error.
  const broken = payload.slice();
  broken[broken.length - 1]! ^= 1;
  const refused = wrapFunctionRestore(
    bytes("FUNCTION", "RESTORE", "-").map((arg, i) => i === 2 ? broken : arg),
  )!;
  assert.equal(refused[2], broken);
  assert.equal(
    text(await rack.call(...refused)),
    text(await twin.call("FUNCTION", "RESTORE", broken)),
  );
});

Deno.test("two racks calling functions that read TIME, pop, draw math.random and add entries agree; unwrapped they differ", async () => {
  const library = [
    "#!lua name=det",
    "redis.register_function('stamp', function(keys, args)",
    "  local now = redis.call('TIME')",
    "  local id = redis.call('XADD', keys[1], '*', 'at', now[1], 'r', math.random(1000000))",
    "  local popped = redis.call('SPOP', keys[2], 3)",
    "  redis.call('RPUSH', keys[3], id, unpack(popped))",
    "  redis.call('SET', keys[4], args[1], 'PX', 300)",
    "  return {id, popped, redis.call('PTTL', keys[4]), redis.call('SRANDMEMBER', keys[2])}",
    "end)",
  ].join("\n");
  const run = async (wrapped: boolean) => {
    await using earlyServer = await startRedis();
    await using lateServer = await startRedis();
    await using early = await FrameClient.connect(earlyServer.port);
    await using late = await FrameClient.connect(lateServer.port);
    const members = Array.from({ length: 200 }, (_, i) => `m${i}`);
    await early.call("SADD", "set", ...members);
    for (const m of [...members].reverse()) await late.call("SADD", "set", m);
    await late.call("DEBUG", "RELOAD");
    const load = bytes("FUNCTION", "LOAD", library);
    const replies: string[][] = [[], []];
    const base = Date.now() - 10_000;
    for (const [i, client] of [early, late].entries()) {
      await client.call(...(wrapped ? wrapFunctionLoad(load) : load));
      let t = base;
      for (let n = 0; n < 5; n++) {
        if (i === 1) await new Promise((resolve) => setTimeout(resolve, 120));
        const call = bytes("FCALL", "stamp", "4", "s", "set", "log", "tmp", String(n));
        const request = wrapped
          ? wrapFcall(call, { logTimeMs: t += 50, seed: String(1000 + n) })
          : call;
        replies[i]!.push(text(await client.call(...request)));
      }
    }
    return { replies, states: [await rackState(early), await rackState(late)] };
  };
  const byLog = await run(true);
  assert.deepEqual(byLog.replies[1], byLog.replies[0]);
  assert.equal(byLog.states[1], byLog.states[0]);
  const byRack = await run(false);
  assert.notDeepEqual(byRack.replies[1], byRack.replies[0]);
  assert.notEqual(byRack.states[1], byRack.states[0]);
});

Deno.test("clientLibraryCode() leaves code Pylon did not wrap as it is", () => {
  const code = encoder.encode("#!lua name=x\nreturn 1");
  assert.equal(clientLibraryCode(code), code);
});
