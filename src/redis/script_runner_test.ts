import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { encodeCommand } from "../resp/encoder.ts";
import { isScriptRead } from "./script_runner.ts";

Deno.test("isScriptRead: the read-only script and function calls, in any case", () => {
  for (const name of ["EVAL_RO", "eval_ro", "EvalSha_Ro", "FCALL_RO", "fcall_ro"]) {
    assert.ok(isScriptRead(encodeCommand([name, "return 1", "0"])), name);
    // Reads reach it as slices of the socket's Buffer.
    assert.ok(isScriptRead(Buffer.from(encodeCommand([name, "return 1", "0"]))), name);
  }
});

Deno.test("isScriptRead: other commands and cut or malformed requests are not", () => {
  for (
    const name of ["GET", "EVAL", "EVALSHA", "FCALL", "EVALSHA_RX", "EVAL_ROX", "ZRANGEBYSCORE"]
  ) {
    assert.ok(!isScriptRead(encodeCommand([name, "k"])), name);
  }
  const encoder = new TextEncoder();
  for (const text of ["", "*1\r\n", "*1\r\n$", "*1\r\n$7\r\neval_r", "*1\r\n$7x\r\neval_ro\r\n"]) {
    assert.ok(!isScriptRead(encoder.encode(text)), JSON.stringify(text));
  }
});
