import assert from "node:assert/strict";
import { crc32c } from "./crc32c.ts";

/** One bit at a time, straight from the definition, to check the tables against. */
function crc32cBitwise(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return ~crc >>> 0;
}

Deno.test("crc32c() matches the check value and the RFC 3720 test vectors", () => {
  assert.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
  assert.equal(crc32c(new Uint8Array(0)), 0);
});

Deno.test("crc32c() agrees with the bitwise definition at every length and alignment", () => {
  let seed = 12345;
  const data = Uint8Array.from({ length: 300 }, () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed >>> 24;
  });
  for (let start = 0; start < 9; start++) {
    for (let length = 0; length + start <= data.length; length += 7) {
      const slice = data.subarray(start, start + length);
      assert.equal(crc32c(slice), crc32cBitwise(slice), `start ${start} length ${length}`);
      assert.equal(
        crc32c(data, 0, start, start + length),
        crc32cBitwise(slice),
        `range ${start}..${start + length}`,
      );
    }
  }
});

Deno.test("crc32c() continues from a previous CRC as if the pieces were one", () => {
  const data = new TextEncoder().encode("the quick brown fox jumps over the lazy dog");
  for (let cut = 0; cut <= data.length; cut++) {
    assert.equal(crc32c(data.subarray(cut), crc32c(data.subarray(0, cut))), crc32c(data));
  }
});
