import assert from "node:assert/strict";
import { OPTION_NAMES, USAGE } from "./options.ts";

Deno.test("--help lists every option", () => {
  for (const option of OPTION_NAMES) assert.match(USAGE, new RegExp(`--${option}\\b`));
  assert.match(USAGE, /--version/);
});
