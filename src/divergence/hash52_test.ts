import assert from "node:assert/strict";
import { chain52, hash52, hashText } from "./hash52.ts";
import { SeededRandom } from "../random.ts";

const encoder = new TextEncoder();

Deno.test("hash52 gives safe integers, the same for the same bytes, different for others", () => {
  const random = new SeededRandom(7);
  const seen = new Map<number, string>();
  for (let i = 0; i < 5_000; i++) {
    const bytes = random.bytes(random.int(0, 300));
    const h = hash52(bytes);
    assert.ok(Number.isSafeInteger(h) && h >= 0 && h < 2 ** 52);
    assert.equal(hash52(bytes.slice()), h);
    const key = [...bytes].join(",");
    const before = seen.get(h);
    assert.ok(before === undefined || before === key, "no collision among 5,000 inputs");
    seen.set(h, key);
  }
  // One bit anywhere changes it, below and above the native path's threshold.
  for (const size of [1, 10, 1023, 1024, 5000]) {
    const bytes = random.bytes(size);
    const flipped = bytes.slice();
    flipped[size - 1]! ^= 1;
    assert.notEqual(hash52(bytes), hash52(flipped), `size ${size}`);
    assert.notEqual(hash52(bytes, 1), hash52(bytes, 2), "the seed counts");
  }
});

Deno.test("hashText tells op ids apart; chain52 depends on order", () => {
  assert.equal(hashText("01JABC"), hashText("01JABC"));
  assert.notEqual(hashText("01JABC"), hashText("01JABD"));
  const a = hash52(encoder.encode(":1\r\n"));
  const b = hash52(encoder.encode(":2\r\n"));
  assert.notEqual(chain52(chain52(0, a), b), chain52(chain52(0, b), a));
  assert.equal(chain52(chain52(5, a), b), chain52(chain52(5, a), b));
  assert.ok(Number.isSafeInteger(chain52(2 ** 52 - 1, 2 ** 52 - 1)));
});
