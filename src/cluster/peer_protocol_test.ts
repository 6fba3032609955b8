import assert from "node:assert/strict";
import {
  encodeFrame,
  FrameDecoder,
  PayloadReader,
  PayloadWriter,
  PeerProtocolError,
  proof,
  sameProof,
} from "./peer_protocol.ts";
import { SeededRandom } from "../random.ts";

Deno.test("FrameDecoder splits a stream cut anywhere into the frames that were encoded", () => {
  const random = new SeededRandom(5);
  for (let round = 0; round < 100; round++) {
    const frames = Array.from({ length: random.int(1, 10) }, (_, i) => ({
      type: random.int(1, 30),
      id: i,
      payload: random.bytes(random.int(0, 3000)),
    }));
    const stream = frames.map((f) => encodeFrame(f.type, f.id, f.payload));
    const all = new Uint8Array(stream.reduce((n, s) => n + s.length, 0));
    let at = 0;
    for (const s of stream) {
      all.set(s, at);
      at += s.length;
    }
    const decoder = new FrameDecoder();
    const out = [];
    for (let offset = 0; offset < all.length;) {
      const n = random.chance(0.2) ? 1 : random.int(1, 2000);
      decoder.push(all.slice(offset, offset + n));
      offset += n;
      for (let f = decoder.next(); f !== undefined; f = decoder.next()) {
        out.push({ ...f, payload: [...f.payload] });
      }
    }
    assert.deepEqual(out, frames.map((f) => ({ ...f, payload: [...f.payload] })));
  }
});

Deno.test("FrameDecoder refuses lengths that are too short or too long", () => {
  for (const length of [0, 4, 1_000_000]) {
    const decoder = new FrameDecoder(100_000);
    const bytes = new Uint8Array(9);
    new DataView(bytes.buffer).setUint32(0, length);
    decoder.push(bytes);
    assert.throws(() => decoder.next(), PeerProtocolError);
  }
  const garbage = new FrameDecoder();
  garbage.push(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"));
  assert.throws(() => garbage.next(), PeerProtocolError, "text is not a frame");
});

Deno.test("PayloadReader reads what PayloadWriter wrote and refuses truncation and leftovers", () => {
  const bytes = new PayloadWriter().u8(3).u16(500).u32(70_000).f64(1.5).text("héllo").bytes(
    Uint8Array.of(0, 255),
  ).finish();
  const r = new PayloadReader(bytes);
  assert.deepEqual([r.u8(), r.u16(), r.u32(), r.f64(), r.text(), [...r.bytes()]], [
    3,
    500,
    70_000,
    1.5,
    "héllo",
    [0, 255],
  ]);
  r.end();
  const short = new PayloadReader(new PayloadWriter().u32(1000).finish());
  assert.throws(() => short.bytes(), /truncated/);
  const long = new PayloadReader(new PayloadWriter().u8(1).u8(2).finish());
  long.u8();
  assert.throws(() => long.end(), /trailing/);
});

Deno.test("proofs depend on the secret and on every part", async () => {
  const nonce = Uint8Array.of(1, 2, 3);
  const a = await proof("secret", "auth", [nonce, "node-1"]);
  assert.ok(sameProof(a, await proof("secret", "auth", [nonce, "node-1"])));
  assert.ok(!sameProof(a, await proof("other", "auth", [nonce, "node-1"])));
  assert.ok(!sameProof(a, await proof("secret", "auth", [nonce, "node-2"])));
  assert.ok(!sameProof(a, await proof("secret", "ok", [nonce, "node-1"])));
});
