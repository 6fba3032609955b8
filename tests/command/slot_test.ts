/**
 * keyHashSlot() against a real Redis in cluster mode: `CLUSTER KEYSLOT` for
 * hash-tag edge cases and for thousands of seeded random binary keys.
 */

import assert from "node:assert/strict";
import { startRedis } from "../harness/mod.ts";
import { keyHashSlot } from "../../src/command/mod.ts";
import { connect } from "./resp3.ts";

const encoder = new TextEncoder();

/** Random keys compared; the seed makes any failure replay. */
const RANDOM_KEYS = 5_000;
const SEED = 0x5eed;

/** A small seeded generator (mulberry32), so the keys are the same on every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const TAGGED = [
  "",
  "123456789",
  "{user1000}.following",
  "{user1000}.followers",
  "foo{}{bar}",
  "foo{{bar}}zap",
  "foo{bar}{zap}",
  "{",
  "}",
  "{}",
  "}{",
  "a{b",
  "a}b{c}",
  "{{}}",
  "x{\u00e9}y",
];

Deno.test("keyHashSlot() agrees with CLUSTER KEYSLOT of a real Redis", async () => {
  await using redis = await startRedis({
    config: { "cluster-enabled": "yes", "cluster-config-file": "nodes.conf" },
  });
  using client = await connect(redis.port, 2);
  const next = random(SEED);
  const keys: Uint8Array[] = TAGGED.map((key) => encoder.encode(key));
  for (let i = 0; i < RANDOM_KEYS; i++) {
    const key = new Uint8Array(Math.floor(next() * 24));
    // Mostly braces and a few letters, so tags of every shape turn up.
    const alphabet = [0x7b, 0x7d, 0x61, 0x62, 0x00, 0xff];
    for (let j = 0; j < key.length; j++) {
      key[j] = next() < 0.7 ? alphabet[Math.floor(next() * alphabet.length)]! : next() * 256;
    }
    keys.push(key);
  }
  const replies = await Promise.all(keys.map((key) => client.call("CLUSTER", "KEYSLOT", key)));
  const wrong: string[] = [];
  keys.forEach((key, i) => {
    const reply = replies[i]!;
    assert.equal(reply.type, "integer");
    if (reply.type === "integer" && Number(reply.value) !== keyHashSlot(key)) {
      wrong.push(`[${key.join(",")}]: Redis ${reply.value}, Pylon ${keyHashSlot(key)}`);
    }
  });
  assert.deepEqual(wrong, [], `seed ${SEED}`);
});
