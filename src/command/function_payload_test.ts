import assert from "node:assert/strict";
import {
  checksumHolds,
  crc64,
  encodeLength,
  lzfDecompress,
  readFunctionPayload,
  writeFunctionPayload,
} from "./function_payload.ts";

const te = new TextEncoder();
const td = new TextDecoder();

Deno.test("crc64() is Redis's: crc64(0, '123456789') = e9c6d914c4b8d9ca", () => {
  assert.equal(crc64(te.encode("123456789")).toString(16), "e9c6d914c4b8d9ca");
  assert.equal(crc64(new Uint8Array(0)), 0n);
});

Deno.test("lzfDecompress() reads literal runs and overlapping back references", () => {
  // "abc" as a literal run, then 6 bytes copied from 3 back (overlapping): "abcabcabc".
  const input = Uint8Array.of(2, 0x61, 0x62, 0x63, (4 << 5) | 0, 2);
  assert.equal(td.decode(lzfDecompress(input, 9)!), "abcabcabc");
  assert.equal(lzfDecompress(input, 8), undefined, "the wrong length");
  assert.equal(
    lzfDecompress(Uint8Array.of((4 << 5) | 0, 9), 6),
    undefined,
    "a reference before the start",
  );
});

Deno.test("encodeLength() uses RDB's 6-, 14- and 32-bit forms", () => {
  assert.deepEqual([...encodeLength(5)], [5]);
  assert.deepEqual([...encodeLength(300)], [0x41, 0x2c]);
  assert.deepEqual([...encodeLength(70_000)], [0x80, 0, 1, 0x11, 0x70]);
});

Deno.test("a function payload written is read back with its libraries and RDB version", () => {
  const libraries = [
    te.encode("#!lua name=a\nreturn 1"),
    te.encode("#!lua name=b\n" + "x".repeat(20_000)),
  ];
  const payload = writeFunctionPayload({ libraries, rdbVersion: 10 });
  assert.ok(checksumHolds(payload));
  const read = readFunctionPayload(payload)!;
  assert.equal(read.rdbVersion, 10);
  assert.deepEqual(
    read.libraries.map((code) => td.decode(code)),
    libraries.map((code) => td.decode(code)),
  );
});

Deno.test("readFunctionPayload() refuses a wrong checksum, another opcode or a cut string", () => {
  const payload = writeFunctionPayload({
    libraries: [te.encode("#!lua name=a\nreturn 1")],
    rdbVersion: 10,
  });
  const flipped = payload.slice();
  flipped[3]! ^= 1;
  assert.equal(readFunctionPayload(flipped), undefined);
  assert.equal(checksumHolds(flipped), false);
  const other = writeFunctionPayload({ libraries: [], rdbVersion: 10 });
  const withOpcode = new Uint8Array([246, 1, 0x61, ...other]);
  assert.equal(readFunctionPayload(withOpcode), undefined);
  assert.equal(readFunctionPayload(new Uint8Array(3)), undefined);
});
