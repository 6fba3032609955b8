import assert from "node:assert/strict";
import { globMatch } from "./glob.ts";

Deno.test("globMatch() matches Redis's glob syntax", () => {
  const cases: [string, string, boolean][] = [
    // As in Redis, an empty text matches no pattern (KEYS special-cases a lone "*").
    ["*", "", false],
    ["*", "anything", true],
    ["a*", "abc", true],
    ["a*c", "abbbc", true],
    ["a*c", "abbb", false],
    ["**c", "abc", true],
    ["a*b*c", "a-b-c", true],
    ["?", "a", true],
    ["?", "", false],
    ["?b", "ab", true],
    ["[abc]x", "bx", true],
    ["[abc]x", "dx", false],
    ["[^abc]x", "dx", true],
    ["[^abc]x", "ax", false],
    ["[a-c]", "b", true],
    ["[c-a]", "b", true],
    ["[a-c]", "d", false],
    ["\\*", "*", true],
    ["\\*", "a", false],
    ["[\\]]", "]", true],
    ["[ab", "a", true],
    ["[ab", "c", false],
    ["exact", "exact", true],
    ["exact", "exactly", false],
    ["*|help", "client|help", true],
  ];
  for (const [pattern, text, expected] of cases) {
    assert.equal(globMatch(pattern, text), expected, `'${pattern}' ~ '${text}'`);
  }
});

Deno.test("globMatch() ignores ASCII case when asked", () => {
  assert.ok(globMatch("CL*", "client", true));
  assert.ok(!globMatch("CL*", "client", false));
  assert.ok(globMatch("[A-C]et", "bet", true));
  assert.ok(globMatch("[^X]", "y", true));
  assert.ok(!globMatch("[^X]", "x", true));
});
