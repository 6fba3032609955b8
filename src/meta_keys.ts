/**
 * The keys Pylon keeps in the metadata db of a rack's Redis that both the
 * write path and the applier name: each partition's applied position and last
 * applied op (written by the applier in the same transaction as the data,
 * read by rack reads and strong reads), the replies a rack leader keeps
 * for writers it could not hand them back to, and the mark of a rebuild
 * under way. A leaf module, so neither side
 * imports the other for them. (The identity marker and the kept scripts have
 * their own modules: src/identity/rack_marker.ts, src/applier/script_ops.ts.)
 */

/** Key holding a partition's next offset to apply, in the metadata db. */
export function positionKey(partition: number): string {
  return `pylon:applied:${partition}`;
}

/** Key holding the id of the op at the partition's position minus one (the last one applied). */
export function lastOpKey(partition: number): string {
  return `pylon:applied-op:${partition}`;
}

/**
 * Key holding a partition's log time after its last applied op (ms since the
 * epoch, src/applier/log_time.ts), stored with the position.
 */
export function logTimeKey(partition: number): string {
  return `pylon:applied-time:${partition}`;
}

/**
 * Key holding why this rack stopped because it diverged from the world
 * (src/divergence/guard.ts); every node of the rack reads it.
 */
export const DIVERGED_KEY = "pylon:diverged";

/** Key under which a rack leader keeps op `opId`'s reply for a writer it could not reach. */
export function replyKey(opId: string): string {
  return `pylon:reply:${opId}`;
}

/**
 * Key holding why this rack's Redis was halted (src/applier/halt.ts): set
 * when its data may differ from the other racks'; the applier neither
 * applies nor lets the rack serve reads while it exists.
 */
export const HALTED_KEY = "pylon:halted";

/**
 * Hash of what tries of node `nodeId`'s clients took and the clients have not
 * got yet (op id → the command that puts it back), kept by the applier in the
 * pop's own transaction (src/applier/claims.ts).
 */
export function claimsKey(nodeId: string): string {
  return `pylon:claims:${nodeId}`;
}

/**
 * Key present while a rebuild loads a peer's snapshot into the rack's Redis
 * (src/rebuild/): set with the emptying, removed once every key and position
 * is in. A Redis holding it lacks part of its data: it is never applied to
 * nor read from until a rebuild completes.
 */
export const REBUILD_KEY = "pylon:rebuild";
