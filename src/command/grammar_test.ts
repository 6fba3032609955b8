import assert from "node:assert/strict";
import {
  commandArguments,
  commandPattern,
  GRAMMAR_OVERRIDES,
  keyCountLayout,
  type Pattern,
  startsWithToken,
} from "./grammar.ts";
import type { RawArgDoc } from "./raw.ts";
import { findCommand } from "./table.ts";

function command(name: string) {
  const spec = findCommand(name);
  assert.ok(spec !== undefined, name);
  return spec;
}

/** A pattern as a regular expression over words, for reading. */
function show(p: Pattern): string {
  switch (p.kind) {
    case "arg":
      return p.check.kind === "token"
        ? p.check.word.toUpperCase()
        : p.check.kind === "form"
        ? `<${p.check.form}>`
        : `<${p.check.kind}>`;
    case "seq":
      return p.items.map(show).join(" ");
    case "alt":
      return `(${p.options.map(show).join("|")})`;
    case "optional":
      return `[${show(p.item)}]`;
    case "repeat": {
      const item = p.item.kind === "alt" ? show(p.item) : `(${show(p.item)})`;
      return `${item}${p.min === 0 ? "*" : "+"}`;
    }
  }
}

Deno.test("commandPattern() reads positional arguments, types and repeats from COMMAND DOCS", () => {
  assert.equal(show(commandPattern(command("incrby"))), "<any> <integer>");
  assert.equal(show(commandPattern(command("hincrbyfloat"))), "<any> <any> <double>");
  assert.equal(show(commandPattern(command("hset"))), "<any> (<any> <any>)+");
  assert.equal(show(commandPattern(command("linsert"))), "<any> (BEFORE|AFTER) <any> <any>");
  assert.equal(show(commandPattern(command("pfadd"))), "<any> [(<any>)+]");
  assert.equal(show(commandPattern(command("expireat"))), "<any> <integer> ((NX|XX|GT|LT))*");
});

Deno.test("commandPattern() lets optional token-led arguments come in any order, repeated", () => {
  assert.equal(
    show(commandPattern(command("copy"))),
    "<any> <any> (DB <integer>|REPLACE)*",
  );
  assert.equal(
    show(commandPattern(command("zadd"))),
    "<any> ((NX|XX)|(GT|LT)|CH|INCR)* (<double> <any>)+",
  );
  // SORT's GET is multiple_token: the token before every pattern.
  assert.match(show(commandPattern(command("sort"))), /GET <any>/);
});

Deno.test("startsWithToken() knows tokens, one-ofs of tokens and blocks that open with one", () => {
  const token: RawArgDoc = { name: "nx", type: "pure-token", token: "NX" };
  const value: RawArgDoc = { name: "count", type: "integer" };
  assert.ok(startsWithToken(token));
  assert.ok(startsWithToken({ name: "c", type: "integer", token: "COUNT" }));
  assert.ok(!startsWithToken(value));
  assert.ok(startsWithToken({ name: "o", type: "oneof", arguments: [token, token] }));
  assert.ok(!startsWithToken({ name: "o", type: "oneof", arguments: [token, value] }));
  assert.ok(startsWithToken({ name: "b", type: "block", arguments: [token, value] }));
  assert.ok(!startsWithToken({ name: "b", type: "block", arguments: [value, token] }));
  assert.ok(
    !startsWithToken({
      name: "b",
      type: "block",
      arguments: [{ ...token, flags: ["optional"] }, value],
    }),
  );
});

Deno.test("every grammar override names a real command and says why", () => {
  for (const [name, override] of Object.entries(GRAMMAR_OVERRIDES)) {
    assert.ok(findCommand(name) !== undefined, name);
    assert.ok(override.reason.length > 20, name);
    assert.equal(commandArguments(command(name)), override.arguments);
  }
  assert.equal(commandArguments(command("get")), command("get").docs.arguments);
});

Deno.test("overrides correct what Redis parses differently from its docs", () => {
  assert.equal(show(commandPattern(command("zincrby"))), "<any> <double> <any>");
  assert.equal(
    show(commandPattern(command("zremrangebyscore"))),
    "<any> <score-bound> <score-bound>",
  );
  assert.match(show(commandPattern(command("georadius"))), /COUNT <integer>\|ANY\|/);
  assert.match(show(commandPattern(command("xadd"))), /\(\*\|<stream-id>\)/);
  assert.match(show(commandPattern(command("bitfield"))), /OVERFLOW \(WRAP\|SAT\|FAIL\)/);
});

Deno.test("keyCountLayout() finds numkeys at its fixed place and counts its keys out", () => {
  const zunionstore = keyCountLayout(command("zunionstore"));
  assert.equal(zunionstore?.numkeysAt, 2);
  assert.equal(
    show(zunionstore!.pattern),
    "<any> <integer> (WEIGHTS (<double>)+|AGGREGATE (SUM|MIN|MAX))*",
  );
  assert.equal(keyCountLayout(command("lmpop"))?.numkeysAt, 1);
  assert.equal(keyCountLayout(command("zmpop"))?.numkeysAt, 1);
  // EVAL may name no keys at all: numkeys 0 is valid, so it is not counted out.
  assert.equal(keyCountLayout(command("eval")), undefined);
  assert.equal(keyCountLayout(command("set")), undefined);
  assert.equal(keyCountLayout(command("del")), undefined);
});
