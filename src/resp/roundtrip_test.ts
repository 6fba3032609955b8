/** Property tests: generated values survive encode → random chunking → decode and framing. */

import assert from "node:assert/strict";
import { encode } from "./encoder.ts";
import { ReplyDecoder } from "./reply_decoder.ts";
import { ReplyFramer } from "./reply_framer.ts";
import type { Protocol, RespValue } from "./value.ts";
import { SeededRandom } from "../random.ts";

const SEED = Number(Deno.env.get("PYLON_SEED") ?? 1121);

function generate(random: SeededRandom, depth: number, protocol: Protocol): RespValue {
  const scalars = protocol === 3
    ? [
      "simple",
      "error",
      "integer",
      "bulk",
      "null",
      "boolean",
      "double",
      "bignum",
      "blob_error",
      "verbatim",
    ]
    : ["simple", "error", "integer", "bulk", "nullbulk"];
  const aggregates = protocol === 3 ? ["array", "map", "set", "push"] : ["array", "nullarray"];
  const kind = depth > 0 && random.chance(0.35) ? random.pick(aggregates) : random.pick(scalars);
  const word = () => `w${random.nextU32().toString(36)}`;
  const n = () => random.int(0, 5);
  switch (kind) {
    case "simple":
      return { type: "simple", value: word() };
    case "error":
      return { type: "error", value: `ERR ${word()}` };
    case "integer":
      return {
        type: "integer",
        value: BigInt(random.int(-1e9, 1e9)) * (random.chance(0.1) ? 1_000_000_000n : 1n),
      };
    case "bulk":
      return {
        type: "bulk",
        value: random.bytes(random.chance(0.05) ? random.int(1000, 70_000) : random.int(0, 40)),
      };
    case "nullbulk":
      return { type: "bulk", value: null };
    case "null":
      return { type: "null" };
    case "boolean":
      return { type: "boolean", value: random.chance(0.5) };
    case "double":
      return {
        type: "double",
        value: random.pick([1.5, -0.25, 3e300, Infinity, -Infinity, random.next()]),
      };
    case "bignum":
      return {
        type: "bignum",
        value: BigInt(random.nextU32()) ** 3n * (random.chance(0.5) ? -1n : 1n),
      };
    case "blob_error":
      return { type: "blob_error", value: random.bytes(random.int(0, 30)) };
    case "verbatim":
      return {
        type: "verbatim",
        format: random.pick(["txt", "mkd"]),
        value: random.bytes(random.int(0, 30)),
      };
    case "array":
      return {
        type: "array",
        value: Array.from({ length: n() }, () => generate(random, depth - 1, protocol)),
      };
    case "nullarray":
      return { type: "array", value: null };
    case "set":
      return {
        type: "set",
        value: Array.from({ length: n() }, () => generate(random, depth - 1, protocol)),
      };
    case "push":
      return {
        type: "push",
        value: Array.from({ length: n() }, () => generate(random, depth - 1, protocol)),
      };
    case "map":
      return {
        type: "map",
        value: Array.from(
          { length: n() },
          () => [generate(random, 0, protocol), generate(random, depth - 1, protocol)],
        ),
      };
  }
  throw new Error(`unknown kind ${kind}`);
}

/** Feeds `stream` in random-sized chunks (often single bytes) to `feed`, draining after each. */
function chunked(
  random: SeededRandom,
  stream: Uint8Array,
  feed: (chunk: Uint8Array) => void,
): void {
  for (let offset = 0; offset < stream.length;) {
    const size = random.chance(0.2) ? 1 : random.int(1, 4096);
    feed(stream.slice(offset, offset + size));
    offset += size;
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

for (const protocol of [2, 3] as const) {
  Deno.test(`RESP${protocol} values round-trip through encode and a decoder fed random chunks`, () => {
    const random = new SeededRandom(SEED + protocol);
    for (let round = 0; round < 300; round++) {
      const values = Array.from({ length: random.int(1, 8) }, () => generate(random, 4, protocol));
      const stream = concat(values.map((v) => encode(v, protocol)));
      const decoder = new ReplyDecoder();
      const decoded: RespValue[] = [];
      chunked(random, stream, (chunk) => {
        decoder.push(chunk);
        for (let v = decoder.next(); v !== undefined; v = decoder.next()) decoded.push(v);
      });
      assert.deepEqual(decoded, values, `seed ${SEED + protocol} round ${round}`);
      assert.equal(decoder.midValue, false);
    }
  });

  Deno.test(`ReplyFramer splits a RESP${protocol} stream into exactly the encoded replies`, () => {
    const random = new SeededRandom(SEED + 10 + protocol);
    for (let round = 0; round < 300; round++) {
      const encoded = Array.from(
        { length: random.int(1, 8) },
        () => encode(generate(random, 4, protocol), protocol),
      );
      const framer = new ReplyFramer();
      const frames: Uint8Array[] = [];
      chunked(random, concat(encoded), (chunk) => {
        framer.push(chunk);
        for (let f = framer.next(); f !== undefined; f = framer.next()) frames.push(f.slice());
      });
      assert.equal(frames.length, encoded.length, `seed ${SEED + 10 + protocol} round ${round}`);
      for (let i = 0; i < frames.length; i++) assert.deepEqual(frames[i], encoded[i]);
      assert.equal(framer.midReply, false);
    }
  });
}

Deno.test("RESP2 encoding downgrades RESP3 types the way Redis does", () => {
  const bytes = (v: RespValue) => new TextDecoder().decode(encode(v, 2));
  assert.equal(bytes({ type: "null" }), "$-1\r\n");
  assert.equal(bytes({ type: "boolean", value: true }), ":1\r\n");
  assert.equal(bytes({ type: "double", value: 1.5 }), "$3\r\n1.5\r\n");
  assert.equal(bytes({ type: "double", value: -Infinity }), "$4\r\n-inf\r\n");
  assert.equal(
    bytes({
      type: "map",
      value: [[{ type: "simple", value: "a" }, { type: "integer", value: 1n }]],
    }),
    "*2\r\n+a\r\n:1\r\n",
  );
  assert.equal(bytes({ type: "set", value: [{ type: "integer", value: 2n }] }), "*1\r\n:2\r\n");
  assert.equal(bytes({ type: "error", value: "ERR two\r\nlines" }), "-ERR two  lines\r\n");
});

Deno.test("ReplyFramer passes a reply inside one chunk through as a view, without copying", () => {
  const chunk = new TextEncoder().encode("+OK\r\n$3\r\nabc\r\n");
  const framer = new ReplyFramer();
  framer.push(chunk);
  const first = framer.next()!;
  const second = framer.next()!;
  assert.equal(first.buffer, chunk.buffer);
  assert.equal(second.buffer, chunk.buffer);
  assert.equal(new TextDecoder().decode(second), "$3\r\nabc\r\n");
});

Deno.test("ReplyFramer counts an attribute as annotating the value after it", () => {
  const framer = new ReplyFramer();
  framer.push(new TextEncoder().encode("|1\r\n+ttl\r\n:3\r\n*2\r\n:1\r\n:2\r\n+next\r\n"));
  assert.equal(new TextDecoder().decode(framer.next()), "|1\r\n+ttl\r\n:3\r\n*2\r\n:1\r\n:2\r\n");
  assert.equal(new TextDecoder().decode(framer.next()), "+next\r\n");
});
