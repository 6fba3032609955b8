import assert from "node:assert/strict";
import { parseHostPort } from "./address.ts";

Deno.test("parseHostPort() understands bracketed IPv6", () => {
  assert.deepEqual(parseHostPort("[::1]:6380", "x"), { host: "::1", port: 6380 });
});
