import assert from "node:assert/strict";
import { arrayItems, frameText, isErrorFrame } from "./frames.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (items: Uint8Array[] | null) => items?.map((i) => new TextDecoder().decode(i)) ?? null;

Deno.test("arrayItems() splits an EXEC reply into each command's exact reply bytes", () => {
  const exec = bytes("*4\r\n:2\r\n*2\r\n*2\r\n$1\r\na\r\n,1\r\n_\r\n-WRONGTYPE bad\r\n$-1\r\n");
  assert.deepEqual(text(arrayItems(exec)), [
    ":2\r\n",
    "*2\r\n*2\r\n$1\r\na\r\n,1\r\n_\r\n",
    "-WRONGTYPE bad\r\n",
    "$-1\r\n",
  ]);
  assert.equal(arrayItems(bytes("*-1\r\n")), null);
  assert.equal(arrayItems(bytes("_\r\n")), null);
  assert.throws(() => arrayItems(bytes("+OK\r\n")), /Expected an array/);
  assert.throws(() => arrayItems(bytes("*2\r\n:1\r\n")), /holds 1 of 2/);
});

Deno.test("frameText() and isErrorFrame() read simple, error and bulk frames", () => {
  assert.equal(frameText(bytes("+OK\r\n")), "OK");
  assert.equal(frameText(bytes("$5\r\nhello\r\n")), "hello");
  assert.equal(frameText(bytes("-ERR no\r\n")), "ERR no");
  assert.ok(isErrorFrame(bytes("-ERR no\r\n")));
  assert.ok(!isErrorFrame(bytes(":1\r\n")));
});
