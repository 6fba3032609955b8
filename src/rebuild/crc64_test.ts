import assert from "node:assert/strict";
import { crc64, CRC64_ZERO, crc64Hex, readCrc64, writeCrc64 } from "./crc64.ts";

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("crc64() gives Redis's check value for '123456789'", () => {
  // Redis's own crc64 self-test: e9c6d914c4b8d9ca.
  assert.equal(crc64Hex(crc64(text("123456789"))), "e9c6d914c4b8d9ca");
});

Deno.test("crc64() of nothing is zero", () => {
  assert.deepEqual(crc64(new Uint8Array(0)), CRC64_ZERO);
});

Deno.test("crc64() continued over pieces equals the CRC of the whole", () => {
  const bytes = crypto.getRandomValues(new Uint8Array(1_000));
  const whole = crc64(bytes);
  for (const cut of [0, 1, 7, 8, 9, 500, 999, 1_000]) {
    const first = crc64(bytes, CRC64_ZERO, 0, cut);
    assert.deepEqual(crc64(bytes, first, cut), whole, `cut at ${cut}`);
  }
});

Deno.test("crc64() with the slicing path equals one byte at a time", () => {
  const bytes = crypto.getRandomValues(new Uint8Array(257));
  let bytewise = CRC64_ZERO;
  for (let i = 0; i < bytes.length; i++) bytewise = crc64(bytes, bytewise, i, i + 1);
  assert.deepEqual(crc64(bytes), bytewise);
});

Deno.test("writeCrc64() and readCrc64() store the CRC little-endian", () => {
  const crc = crc64(text("123456789"));
  const out = new Uint8Array(10);
  writeCrc64(crc, out, 1);
  assert.deepEqual([...out.subarray(1, 9)], [0xca, 0xd9, 0xb8, 0xc4, 0x14, 0xd9, 0xc6, 0xe9]);
  assert.deepEqual(readCrc64(out, 1), crc);
});
