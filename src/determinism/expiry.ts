/**
 * How a rack's Redis stores expiries so that it never expires a key by its
 * own clock: every expiry is shifted by {@linkcode EXPIRY_SHIFT_MS} into the
 * future. A stored expiry at or above the shift is a key that expires, in
 * log time, at the stored time minus the shift; one below it is a key the
 * log has already expired and Redis is removing.
 */

/** How far every stored expiry is shifted (a multiple of 1000, so TTLs in seconds stay exact). */
export const EXPIRY_SHIFT_MS = 10_000_000_000_000;
