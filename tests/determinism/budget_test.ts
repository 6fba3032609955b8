/**
 * The script budget on real Redis (src/determinism/script_budget.ts): a
 * script or function that runs past its budget stops at the same step
 * whatever the machine's speed (two Redis servers, one of them busy with
 * another load, count the same number of writes before the stop), every way
 * of looping is charged (loops, recursion, coroutines, metamethods, callbacks
 * of C functions), the budget error cannot be caught and swallowed, code made
 * at run time is refused, and a library's own code has its load budget.
 */

import assert from "node:assert/strict";
import { startRedis } from "../harness/mod.ts";
import { restoreScriptReply, wrapEval } from "../../src/determinism/prologue.ts";
import { wrapFcall, wrapFunctionLoad } from "../../src/determinism/functions.ts";
import { budgetSteps, DEFAULT_BUDGET_STEPS } from "../../src/determinism/script_budget.ts";
import { FrameClient, text } from "./racks.ts";

const encoder = new TextEncoder();
const bytes = (...argv: string[]) => argv.map((arg) => encoder.encode(arg));

/** A small budget: each case stops in a few ms of a real machine. */
const BUDGET = budgetSteps(20);

/** Runs `EVAL body args...` as the applier does, with `budgetSteps`; Redis's reply as text. */
async function run(
  client: FrameClient,
  body: string,
  args: string[],
  budgetSteps = BUDGET,
): Promise<string> {
  const argv = bytes("EVAL", body, ...args);
  const reply = await client.call(
    ...wrapEval(argv, { logTimeMs: Date.now(), seed: "11", budgetSteps }),
  );
  return text(restoreScriptReply(reply, argv[1]!));
}

const STOPPED = /^-ERR Pylon stopped the script: it ran past its budget of 20 ms \(1000000 steps/;

Deno.test("every way of looping for ever is stopped at the budget, with Pylon's error naming the line", async () => {
  await using redis = await startRedis();
  await using client = await FrameClient.connect(redis.port);
  const endless: [string, string][] = [
    ["while", "while true do end"],
    ["repeat", "repeat local x = 1 until false"],
    ["numeric for", "for i = 1, math.huge do end"],
    ["generic for", "local function forever() return 1 end\nfor x in forever do end"],
    ["tail recursion", "local function f() return f() end\nreturn f()"],
    [
      "mutual recursion",
      "local g\nlocal function f() return g() end\ng = function() return f() end\nreturn f()",
    ],
    ["coroutine.wrap", "local co = coroutine.wrap(function() while true do end end)\nco()"],
    [
      "__index metamethod",
      "local t = setmetatable({}, {__index = function(t, k) while true do end end})\nreturn t[1]",
    ],
    ["string.gsub callback", "string.gsub('abc', '.', function(c) while true do end end)"],
    ["table.sort comparator", "table.sort({3, 2, 1}, function(a, b) while true do end end)"],
    ["redis.call in a loop", "while true do redis.call('INCR', KEYS[1]) end"],
  ];
  for (const [what, body] of endless) {
    const reply = await run(client, body, ["1", "n"]);
    assert.match(reply, STOPPED, what);
    assert.match(reply, /script: [0-9a-f]{40}, on @user_script:\d+\.␍␊$/, what);
  }
  assert.match(
    await run(client, "local a = 1\nlocal b = 2\nwhile a do\n  b = b + 1\nend", ["0"]),
    /on @user_script:3\.␍␊$/,
    "the line is the loop's",
  );
});

Deno.test("the budget error cannot be caught and swallowed: pcall, xpcall, coroutine.resume, _G's own", async () => {
  await using redis = await startRedis();
  await using client = await FrameClient.connect(redis.port);
  const catchers = [
    "local ok = pcall(function() while true do end end) redis.call('SET', 'caught', 1) return 1",
    "local ok = xpcall(function() while true do end end, function(e) return e end) return 2",
    "local ok = coroutine.resume(coroutine.create(function() while true do end end)) return 3",
    "local ok = _G.pcall(function() while true do end end) return 4",
    "local ok = _G._G.coroutine.resume(coroutine.create(function() while true do end end)) return 5",
    "while true do pcall(function() while true do end end) end",
  ];
  for (const body of catchers) assert.match(await run(client, body, ["0"]), STOPPED, body);
  assert.equal(text(await client.call("EXISTS", "caught")), ":0␍␊", "nothing ran after the stop");
});

Deno.test("code made at run time is refused, and the real globals are out of reach", async () => {
  await using redis = await startRedis();
  await using client = await FrameClient.connect(redis.port);
  for (const name of ["loadstring", "load"]) {
    assert.match(
      await run(client, `return ${name}('while true do end')`, ["0"]),
      new RegExp(`^-ERR Pylon refuses '${name}' in scripts: the code it makes would run outside`),
    );
    assert.match(
      await run(client, `return _G.${name}('return 1')`, ["0"]),
      new RegExp(`^-ERR Pylon refuses '${name}'`),
    );
  }
  // _G's metatable is the real globals' (its __index raises on unknown names), never the globals.
  assert.match(
    await run(client, "return getmetatable(_G).__index(_G, 'loadstring')", ["0"]),
    /nonexistent global variable 'loadstring'/,
  );
  assert.equal(await run(client, "return tostring(_G._G == _G)", ["0"]), "$4␍␊true␍␊");
  assert.match(await run(client, "_G.x = 1", ["0"]), /Attempt to modify a readonly table/);
});

Deno.test("a stopped script stops at the same step on two racks, one of them kept busy by another script first", async () => {
  await using fast = await startRedis();
  await using slow = await startRedis();
  await using a = await FrameClient.connect(fast.port);
  await using b = await FrameClient.connect(slow.port);
  await using hog = await FrameClient.connect(slow.port);
  const body = "while true do redis.call('INCR', KEYS[1]) end";
  // The slow rack runs a long plain script first: its Redis has no time for the op meanwhile.
  const hogging = hog.call("EVAL", "local x = 0 for i = 1, 3e7 do x = x + i end return 1", "0");
  const [ra, rb] = await Promise.all([run(a, body, ["1", "n"]), run(b, body, ["1", "n"])]);
  await hogging;
  assert.match(ra, STOPPED);
  assert.equal(ra, rb, "the same reply on both");
  const [na, nb] = [text(await a.call("GET", "n")), text(await b.call("GET", "n"))];
  assert.equal(na, nb, "the same number of writes before the stop");
  assert.notEqual(na, "$-1␍␊");
  // Another budget stops it at another step (the count depends on the budget only).
  await run(a, body, ["1", "m"], 2 * BUDGET);
  assert.notEqual(text(await a.call("GET", "m")), na);
});

Deno.test("a script within its budget runs to its end; the default budget applies to ops logged without one", async () => {
  await using redis = await startRedis();
  await using client = await FrameClient.connect(redis.port);
  const body = "local s = 0 for i = 1, 10000 do s = s + i end return s";
  assert.equal(await run(client, body, ["0"]), ":50005000␍␊");
  const argv = bytes("EVAL", "while true do end", "0");
  const reply = text(
    await client.call(...wrapEval(argv, { logTimeMs: Date.now(), seed: "1" })),
  );
  assert.match(
    reply,
    new RegExp(`its budget of \\d+ ms \\(${DEFAULT_BUDGET_STEPS} steps`),
    "no budget in the op: the default",
  );
});

Deno.test("functions: a looping function stops at the op's budget; a library's own code at its load budget", async () => {
  await using redis = await startRedis();
  await using client = await FrameClient.connect(redis.port);
  const library = "#!lua name=loops\n" +
    "local function spin(keys, args)\n" +
    "  redis.call('SET', keys[1], 'before')\n" +
    "  while true do end\n" +
    "end\n" +
    "redis.register_function('spin', spin)\n" +
    "redis.register_function('echo', function(keys, args) return args end)\n";
  assert.equal(
    text(await client.call(...wrapFunctionLoad(bytes("FUNCTION", "LOAD", library)))),
    "$5␍␊loops␍␊",
  );
  const context = { logTimeMs: Date.now(), seed: "3", budgetSteps: BUDGET };
  const spun = text(await client.call(...wrapFcall(bytes("FCALL", "spin", "1", "k"), context)));
  assert.match(spun, /^-ERR Pylon stopped the function: it ran past its budget of 20 ms/);
  assert.match(spun, /on @user_function:4\.␍␊$/);
  assert.equal(text(await client.call("GET", "k")), "$6␍␊before␍␊");
  assert.equal(
    text(await client.call(...wrapFcall(bytes("FCALL", "echo", "0", "a", "b"), context))),
    "*2␍␊$1␍␊a␍␊$1␍␊b␍␊",
    "the callback sees the client's args",
  );
  // A library whose own code loops: stopped by Pylon's load budget, before Redis's 500 ms timeout.
  const started = performance.now();
  const refused = text(
    await client.call(
      ...wrapFunctionLoad(bytes("FUNCTION", "LOAD", "#!lua name=hang\nwhile true do end\n")),
    ),
  );
  const ms = performance.now() - started;
  assert.match(refused, /Pylon_stopped_the_library_code_at_its_load_budget/);
  assert.ok(!/FUNCTION LOAD timeout/.test(refused), refused);
  console.log(`a library looping at load: refused by the load budget after ${Math.round(ms)} ms`);
  assert.equal(text(await client.call("FUNCTION", "LIST", "LIBRARYNAME", "hang")), "*0␍␊");
});
