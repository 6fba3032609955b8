import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  commandAsScript,
  opSeed,
  pressLua,
  PROLOGUE,
  restoreCommandReply,
  restoreScriptReply,
  scriptArgs,
  scriptBody,
  wrapEval,
} from "./prologue.ts";
import { DEFAULT_BUDGET_STEPS } from "./script_budget.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const argv = (...words: string[]) => words.map((w) => te.encode(w));
const words = (args: Uint8Array[]) => args.map((a) => td.decode(a));
const context = { logTimeMs: 1_700_000_000_123, seed: "99", budgetSteps: 5000 };

Deno.test("the prologue is one line: the client's line numbers stay theirs", () => {
  assert.ok(!PROLOGUE.includes("\n"));
  assert.ok(!PROLOGUE.includes("\r"));
  assert.ok(
    PROLOGUE.startsWith("local __pylon_steps, __pylon_stop, __pylon_why; local redis, pcall, "),
  );
  assert.ok(PROLOGUE.endsWith("rawset(_G, '_G', _G); "));
  // No comment survives pressing: one would swallow the rest of the line.
  assert.ok(!PROLOGUE.includes("--"));
});

Deno.test("the prologue carries each command's key positions from Redis's command table", () => {
  assert.ok(PROLOGUE.includes(";get=1,1,1;"));
  assert.ok(PROLOGUE.includes(";mset=1,-1,2;"));
  assert.ok(PROLOGUE.includes(";zunionstore=M;"));
  assert.ok(PROLOGUE.includes(";object=S;"));
  assert.ok(PROLOGUE.includes(";object|encoding=2,2,1;"));
  assert.ok(PROLOGUE.includes(";ping=0;"));
  assert.ok(!PROLOGUE.includes(";eval="), "commands scripts cannot call are left out");
});

Deno.test("pressLua() drops whole-line comments and blank lines and joins the rest with spaces", () => {
  assert.equal(pressLua("  -- a comment\nlocal a = 1\n\n  return a  \n"), "local a = 1 return a");
});

Deno.test("scriptBody() puts the prologue first, or after a shebang line", () => {
  assert.equal(td.decode(scriptBody(te.encode("return 1"))), PROLOGUE + "return 1");
  assert.equal(
    td.decode(scriptBody(te.encode("#!lua flags=no-writes\nreturn 1"))),
    "#!lua flags=no-writes\n" + PROLOGUE + "return 1",
  );
  const bare = te.encode("#!lua");
  assert.equal(scriptBody(bare), bare, "a shebang Redis refuses stays as it is");
});

Deno.test("scriptBody() charges the body's loops, and runs a refusal in place of a reserved name", () => {
  const body = td.decode(scriptBody(te.encode("while true do end")));
  assert.equal(
    body,
    PROLOGUE +
      "while true do __pylon_steps = __pylon_steps - 4 if __pylon_steps < 0 then __pylon_stop(__pylon_why) end  end",
  );
  const refused = td.decode(scriptBody(te.encode("local __pylon_steps = 1 while true do end")));
  assert.match(refused, /^return redis\.error_reply\(\[==\[ERR Pylon refuses this script: /);
});

const at = (logTimeMs: number, seed: string, budgetSteps?: number) => ({
  logTimeMs,
  seed,
  budgetSteps,
});

Deno.test("scriptArgs() appends T, the seed and the budget only where numkeys is what Redis accepts", () => {
  assert.deepEqual(
    words(scriptArgs(argv("2", "a", "b", "x"), at(5, "7", 9))!),
    ["2", "a", "b", "x", "5", "7", "9"],
  );
  assert.deepEqual(words(scriptArgs(argv("0"), at(5, "7"))!), [
    "0",
    "5",
    "7",
    String(DEFAULT_BUDGET_STEPS),
  ]);
  for (const tail of [argv("3", "a", "b"), argv("-1"), argv("x"), argv("01", "a"), []]) {
    assert.equal(scriptArgs(tail, at(5, "7")), undefined);
  }
});

Deno.test("scriptArgs() refuses a log time, a seed or a budget Lua could not read exactly", () => {
  assert.throws(() => scriptArgs(argv("0"), at(-1, "1")), RangeError);
  assert.throws(() => scriptArgs(argv("0"), at(1.5, "1")), RangeError);
  assert.throws(() => scriptArgs(argv("0"), at(1, "x")), RangeError);
  assert.throws(() => scriptArgs(argv("0"), at(1, "1234567890123456")), RangeError);
  assert.throws(() => scriptArgs(argv("0"), at(1, "1", -1)), RangeError);
  assert.throws(() => scriptArgs(argv("0"), at(1, "1", 0.5)), RangeError);
});

Deno.test("wrapEval() wraps EVAL and EVAL_RO and leaves an invalid numkeys to Redis", () => {
  const wrapped = wrapEval(argv("eval", "return 1", "1", "k", "a"), context);
  assert.deepEqual(words(wrapped), [
    "EVAL",
    PROLOGUE + "return 1",
    "1",
    "k",
    "a",
    "1700000000123",
    "99",
    "5000",
  ]);
  assert.equal(td.decode(wrapEval(argv("EVAL_RO", "return 1", "0"), context)[0]!), "EVAL_RO");
  assert.deepEqual(words(wrapEval(argv("EVAL", "return 1", "2", "k"), context)), [
    "EVAL",
    "return 1",
    "2",
    "k",
  ]);
  assert.deepEqual(words(wrapEval(argv("EVALSHA", "abc", "0"), context)), ["EVALSHA", "abc", "0"]);
});

Deno.test("commandAsScript() wraps SPOP, XADD *, XCLAIM, XAUTOCLAIM and XREADGROUP, nothing else", () => {
  const wrapped = (...a: string[]) => commandAsScript(argv(...a), 2, context) !== undefined;
  assert.ok(wrapped("SPOP", "k"));
  assert.ok(wrapped("spop", "k", "3"));
  assert.ok(!wrapped("SPOP", "k", "3", "4"), "wrong arity: Redis's own error");
  assert.ok(wrapped("XADD", "s", "*", "f", "v"));
  assert.ok(wrapped("XADD", "s", "NOMKSTREAM", "MAXLEN", "~", "10", "LIMIT", "5", "*", "f", "v"));
  assert.ok(!wrapped("XADD", "s", "5-1", "f", "v"));
  assert.ok(!wrapped("XADD", "s", "5-*", "f", "v"), "an <ms>-* id does not read the clock");
  assert.ok(wrapped("XCLAIM", "s", "g", "c", "10", "1-1"));
  assert.ok(wrapped("XAUTOCLAIM", "s", "g", "c", "10", "0"));
  assert.ok(wrapped("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"));
  assert.ok(!wrapped("XCLAIM", "s", "g", "c", "10"));
  assert.ok(!wrapped("GET", "k"));
  assert.ok(!wrapped("SRANDMEMBER", "k"), "a read: served by the rack, not an op");
});

Deno.test("commandAsScript() runs the command as ARGV of an EVAL, in the client's protocol", () => {
  const resp2 = words(commandAsScript(argv("SPOP", "k", "2"), 2, context)!);
  assert.deepEqual(resp2.slice(2), [
    "0",
    "SPOP",
    "k",
    "2",
    "1700000000123",
    "99",
    String(Number.MAX_SAFE_INTEGER),
  ]);
  assert.equal(resp2[1], PROLOGUE + "return redis.pcall(unpack(ARGV))");
  const resp3 = words(commandAsScript(argv("SPOP", "k", "2"), 3, context)!);
  assert.ok(resp3[1]!.endsWith("redis.setresp(3) return redis.pcall(unpack(ARGV))"));
  const xreadgroup = words(
    commandAsScript(argv("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"), 3, context)!,
  );
  assert.ok(xreadgroup[1]!.includes("{map = m}"), "RESP3 XREADGROUP answers a map");
});

Deno.test("restoreScriptReply() names the client's script in Redis's runtime errors", () => {
  const body = te.encode("return redis.call('INCR', 'x')");
  const sha = (b: Uint8Array) => createHash("sha1").update(b).digest("hex");
  const error = te.encode(
    `-ERR value is not an integer script: ${sha(scriptBody(body))}, on @user_script:1.\r\n`,
  );
  assert.equal(
    td.decode(restoreScriptReply(error, body)),
    `-ERR value is not an integer script: ${sha(body)}, on @user_script:1.\r\n`,
  );
  const reply = te.encode(":1\r\n");
  assert.equal(restoreScriptReply(reply, body), reply);
});

Deno.test("restoreCommandReply() gives XREADGROUP's RESP2 null arrays back", () => {
  const request = argv("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0");
  assert.equal(td.decode(restoreCommandReply(request, 2, te.encode("$-1\r\n"))), "*-1\r\n");
  const fromLua =
    "*1\r\n*2\r\n$1\r\ns\r\n*2\r\n*2\r\n$3\r\n1-1\r\n$-1\r\n*2\r\n$3\r\n1-2\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n";
  const redis =
    "*1\r\n*2\r\n$1\r\ns\r\n*2\r\n*2\r\n$3\r\n1-1\r\n*-1\r\n*2\r\n$3\r\n1-2\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n";
  assert.equal(td.decode(restoreCommandReply(request, 2, te.encode(fromLua))), redis);
  const error = te.encode("-NOGROUP No such key\r\n");
  assert.equal(restoreCommandReply(request, 2, error), error);
  const other = te.encode("$-1\r\n");
  assert.equal(restoreCommandReply(argv("SPOP", "k"), 2, other), other);
});

Deno.test("restoreCommandReply() orders a RESP3 XREADGROUP map as the request named its streams", () => {
  const request = argv(
    "XREADGROUP",
    "GROUP",
    "g",
    "c",
    "COUNT",
    "1",
    "STREAMS",
    "b",
    "a",
    ">",
    ">",
  );
  const entries = "*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n";
  const fromLua = `%2\r\n$1\r\na\r\n${entries}$1\r\nb\r\n${entries}`;
  assert.equal(
    td.decode(restoreCommandReply(request, 3, te.encode(fromLua))),
    `%2\r\n$1\r\nb\r\n${entries}$1\r\na\r\n${entries}`,
  );
});

Deno.test("opSeed() is the same for an op's command everywhere, another for each command", () => {
  assert.equal(opSeed("01J0", 0), opSeed("01J0", 0));
  assert.notEqual(opSeed("01J0", 0), opSeed("01J0", 1));
  assert.match(opSeed("01J0", 0), /^\d+$/);
  assert.ok(Number(opSeed("01J0", 0)) < 2 ** 31);
});
