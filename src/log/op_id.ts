/**
 * Op ids: ULIDs (time-ordered, 80 random bits) from npm's `ulid`, fed by a
 * buffered random source. The package's default source asks the OS for one
 * byte per character, sixteen calls per id, which costs more than the rest of
 * a write's gateway work; this one draws 4 KiB at a time.
 */

import { monotonicFactory } from "ulid";

const POOL_BYTES = 4096;
let pool = new Uint8Array(0);
let at = POOL_BYTES;

/** A uniform float in [0, 1) from the crypto pool, as `ulid` expects of a PRNG. */
function pooledRandom(): number {
  if (at >= pool.length) {
    pool = crypto.getRandomValues(new Uint8Array(POOL_BYTES));
    at = 0;
  }
  return pool[at++]! / 256;
}

/** A new op id for an op accepted at `nowMs`; ids of one process strictly increase. */
export const newOpId: (nowMs: number) => string = monotonicFactory(pooledRandom);
