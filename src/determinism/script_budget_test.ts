import assert from "node:assert/strict";
import {
  budgetSteps,
  instrument,
  reservedName,
  STEPS_PER_MS,
  uninstrument,
} from "./script_budget.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/** The instrumented code with each charge shown as `{n}`. */
function charged(source: string): string {
  const out = instrument(te.encode(source));
  if ("refusal" in out) throw new Error(out.refusal);
  return td.decode(out.code).replaceAll(
    / __pylon_steps = __pylon_steps - ([0-9]+) if __pylon_steps < 0 then __pylon_stop\(__pylon_why\) end /g,
    "{$1}",
  );
}

Deno.test("instrument() charges each loop after its do, at its own tokens", () => {
  assert.equal(charged("while true do end"), "while true do{4} end");
  assert.equal(charged("for i = 1, 10 do x = x + i end"), "for i = 1, 10 do{13} x = x + i end");
  assert.equal(
    charged("for k, v in pairs(t) do n = n + 1 end"),
    "for k, v in pairs(t) do{36} n = n + 1 end",
  );
  // A plain do-block is part of the code around it.
  assert.equal(charged("do local a = 1 end"), "do local a = 1 end");
});

Deno.test("instrument() charges repeat with its until condition, however it ends", () => {
  assert.equal(
    charged("repeat x = x - 1 until x < 1 return x"),
    "repeat{10} x = x - 1 until x < 1 return x",
  );
  assert.equal(
    charged("repeat until f(a)[1].b:c 'd' or not e\nlocal z"),
    "repeat{57} until f(a)[1].b:c 'd' or not e\nlocal z",
  );
});

Deno.test("instrument() charges each function after its parameter list", () => {
  assert.equal(
    charged("local function f(a, b) return a end"),
    "local function f(a, b){10} return a end",
  );
  assert.equal(
    charged("function a.b:c(x, ...) return x end"),
    "function a.b:c(x, ...){14} return x end",
  );
  assert.equal(charged("local g = function() end"), "local g = function(){4} end");
});

Deno.test("instrument() leaves nested loops and functions to charge for themselves", () => {
  // Outer: 'while a do' + 'end' + the inner loop as one token = 5.
  assert.equal(
    charged("while a do while b do x() end end"),
    "while a do{5} while b do{27} x() end end",
  );
  assert.equal(
    charged("local function f() local g = function(x) return x end return g end"),
    "local function f(){11} local g = function(x){7} return x end return g end",
  );
  // A function in a loop's header is nested in the loop.
  assert.equal(
    charged("while (function() return true end)() do end"),
    "while (function(){6} return true end)() do{28} end",
  );
  // A function in an until condition is nested in the repeat.
  assert.equal(
    charged("repeat until (function() return true end)()"),
    "repeat{27} until (function(){6} return true end)()",
  );
});

Deno.test("instrument() ignores keywords in strings, long strings and comments", () => {
  const source = "local s = 'while do' .. [==[ for do ]] end ]==] -- function() do\n" +
    "--[[ repeat\n until ]] return s";
  assert.equal(charged(source), source);
});

Deno.test("instrument() keeps line numbers and a shebang line as it is", () => {
  const source = "#!lua name=do\nlocal x = 1\nwhile x do\nx = nil\nend\n";
  const out = charged(source);
  assert.equal(out, "#!lua name=do\nlocal x = 1\nwhile x do{7}\nx = nil\nend\n");
  assert.equal(out.split("\n").length, source.split("\n").length);
});

Deno.test("instrument() separates the charge from the next token", () => {
  assert.equal(charged("function f()x=1 end"), "function f(){8}x=1 end");
  const out = instrument(te.encode("function f()x=1 end"));
  assert.ok("code" in out && td.decode(out.code).includes("end x=1"));
});

Deno.test("instrument() refuses code that names a reserved name; strings may hold one", () => {
  const out = instrument(te.encode("local __pylon_steps = 1e18 while true do end"));
  assert.ok("refusal" in out);
  assert.match(out.refusal, /^ERR Pylon refuses this script: the name '__pylon_steps' is reserved/);
  assert.ok("code" in instrument(te.encode("return '__pylon_steps' -- __pylon_stop")));
  assert.equal(reservedName(te.encode("x.__pylonX = 1")), "__pylonX");
  assert.equal(reservedName(te.encode("return '__pylon'")), undefined);
  assert.equal(reservedName(te.encode("return 1")), undefined);
});

Deno.test("uninstrument() gives back the code exactly, lookalikes in strings and comments kept", () => {
  const sources = [
    "#!lua name=lib\nredis.register_function('f', function(keys, args)\n" +
    "  for i = 1, #args do redis.call('SET', keys[1], args[i]) end\nend)\n",
    "local t = ' __pylon_steps = __pylon_steps - 1 if __pylon_steps < 0 then __pylon_stop(__pylon_why) end '\n" +
    "while t do t = nil end",
    "repeat local a = 1 until true",
    "",
  ];
  for (const source of sources) {
    const out = instrument(te.encode(source));
    assert.ok("code" in out);
    assert.equal(td.decode(uninstrument(out.code)), source);
  }
});

Deno.test("budgetSteps() turns ms into steps at the fixed rate", () => {
  assert.equal(budgetSteps(2), 2 * STEPS_PER_MS);
  assert.equal(budgetSteps(0), 0);
});

Deno.test("instrument() charges each call site more than a token, never a parameter list", () => {
  // `f(x)`, `s:upper()`, `g 'y'`, `h {}`: four calls of 20 more steps each.
  assert.equal(
    charged("while a do f(x) s:upper() g 'y' h {} end"),
    "while a do{98} f(x) s:upper() g 'y' h {} end",
  );
  assert.equal(charged("local function f(a) end"), "local function f(a){6} end");
  assert.equal(charged("function t:m() end"), "function t:m(){7} end");
});
