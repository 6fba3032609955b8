/**
 * A 52-bit hash for outcome fingerprints: cheap per op (most replies are a
 * few bytes), held as a plain safe-integer number, and sent as one f64. It
 * tells accidental differences apart (a chance of 2^-52 that two different
 * replies hash alike); it is no defence against someone who crafts values to
 * collide, and needs none: whoever can write the rack's Redis directly can
 * change anything anyway.
 */

import { createHash } from "node:crypto";

/** Inputs above this go through native SHA-1, faster than a JavaScript loop over every byte. */
const NATIVE_BYTES_MIN = 1024;
const TWO_POW_32 = 2 ** 32;
const LOW20 = 0xfffff;

/** Murmur3's finaliser: every input bit reaches every output bit. */
function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Two 32-bit lanes joined into 52 bits. */
function join(hi: number, lo: number): number {
  return (hi & LOW20) * TWO_POW_32 + (lo >>> 0);
}

/** The hash of `bytes`, seeded by `seed` (a 32-bit number) so one input can feed several hashes. */
export function hash52(bytes: Uint8Array, seed = 0): number {
  if (bytes.length >= NATIVE_BYTES_MIN) {
    const sha = createHash("sha1").update(bytes).digest();
    return join(sha.readUInt32BE(0) ^ seed, sha.readUInt32BE(4));
  }
  // Two FNV-1a-style lanes with different primes, each finished by fmix.
  let a = (0x811c9dc5 ^ seed) >>> 0;
  let b = (0x9e3779b9 ^ Math.imul(seed, 0x85ebca6b)) >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    a = Math.imul(a ^ byte, 0x01000193);
    b = Math.imul(b ^ byte, 0x5bd1e995);
    b ^= b >>> 15;
  }
  a = fmix(a ^ bytes.length);
  b = fmix(b ^ a);
  return join(a, b);
}

/** The hash of a text's UTF-16 code units (op ids are ASCII: no encoding step per op). */
export function hashText(text: string): number {
  let a = 0x811c9dc5;
  let b = 0x9e3779b9;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    a = Math.imul(a ^ unit, 0x01000193);
    b = Math.imul(b ^ unit, 0x5bd1e995);
    b ^= b >>> 15;
  }
  a = fmix(a ^ text.length);
  return join(a, fmix(b ^ a));
}

/** The next link of a chain: depends on every digest fed in, and on their order. */
export function chain52(previous: number, digest: number): number {
  const pHi = Math.floor(previous / TWO_POW_32);
  const dHi = Math.floor(digest / TWO_POW_32);
  const a = fmix(Math.imul(pHi, 0x9e3779b1) ^ (previous >>> 0) ^ fmix(digest >>> 0));
  const b = fmix(Math.imul(a ^ dHi, 0xcc9e2d51) ^ (previous >>> 0));
  return join(a ^ dHi, b);
}
