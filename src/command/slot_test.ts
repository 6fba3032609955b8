import assert from "node:assert/strict";
import { crc16, hashTag, keyHashSlot, SLOTS } from "./slot.ts";

const encoder = new TextEncoder();
const b = (text: string) => encoder.encode(text);

Deno.test("crc16() is CRC16/XMODEM, as in Redis Cluster's specification", () => {
  assert.equal(crc16(b("123456789")), 0x31c3);
  assert.equal(crc16(b("")), 0);
});

Deno.test("keyHashSlot() matches Redis's known slots", () => {
  assert.equal(SLOTS, 16384);
  assert.equal(keyHashSlot(b("123456789")), 0x31c3 % 16384);
  assert.equal(keyHashSlot(b("foo")), 12182);
  assert.equal(keyHashSlot(b("bar")), 5061);
  assert.equal(keyHashSlot(b("")), 0);
});

Deno.test("keyHashSlot() hashes the first non-empty {tag} only, as Redis does", () => {
  assert.equal(keyHashSlot(b("{user1000}.following")), keyHashSlot(b("{user1000}.followers")));
  assert.equal(keyHashSlot(b("{user1000}.following")), keyHashSlot(b("user1000")));
  assert.deepEqual(hashTag(b("foo{}{bar}")), b("foo{}{bar}"));
  assert.deepEqual(hashTag(b("foo{{bar}}zap")), b("{bar"));
  assert.deepEqual(hashTag(b("foo{bar}{zap}")), b("bar"));
  assert.deepEqual(hashTag(b("foo{bar")), b("foo{bar"));
  assert.deepEqual(hashTag(b("}{x}")), b("x"));
});
