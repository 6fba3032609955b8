/**
 * Where a write's reply goes, whatever route it takes. A write waits in this
 * node's {@linkcode PendingWrites}; its reply reaches it by one of these:
 *
 * 1. this node's applier applied the node's own op: straight to its client;
 * 2. this node's applier applied an op another node of this rack accepted:
 *    handed to that node over the peer link, or, with the link down, kept in
 *    the rack's Redis (for {@linkcode replyTtlMs}) for that node to fetch;
 * 3. another node of this rack handed back the reply of one of this node's
 *    ops over the peer link;
 * 4. reply recovery found it kept in Redis, or proved from the log that the
 *    op was applied and its reply lost (src/applier/reply_recovery.ts);
 * 5. at the write's deadline, the write path looks for a kept reply once more
 *    and otherwise says the outcome is unknown (src/write/write_path.ts).
 *
 * Ops accepted in other racks are answered by their own rack's applier. A
 * reply that comes by two routes reaches the client once.
 */

import { encodeCommand } from "../resp/encoder.ts";
import type { PendingWrites } from "../write/pending_writes.ts";
import { replyKey } from "../meta_keys.ts";

/** Options of {@linkcode HandBack}. */
export interface HandBackOptions {
  nodeId: string;
  rack: string;
  /** Sends a reply to another node of this rack over its peer link; false when the link is down. */
  toPeer?: (origin: string, opId: string, reply: Uint8Array) => boolean;
  /** How long a reply kept in Redis for another node stays there (default 60 s). */
  replyTtlMs?: number;
}

/** The one place replies are handed to the writes waiting for them. */
export class HandBack {
  #pending: PendingWrites;
  #nodeId: string;
  #rack: string;
  #toPeer: (origin: string, opId: string, reply: Uint8Array) => boolean;
  #replyTtl: string;
  #stores: Uint8Array[] = [];

  constructor(pending: PendingWrites, options: HandBackOptions) {
    this.#pending = pending;
    this.#nodeId = options.nodeId;
    this.#rack = options.rack;
    this.#toPeer = options.toPeer ?? (() => false);
    this.#replyTtl = String(options.replyTtlMs ?? 60_000);
  }

  /** Routes 1 and 2: the reply Redis gave when this node's applier applied op `op`. */
  applied(op: { id: string; origin: string; rack: string }, reply: Uint8Array): void {
    if (op.origin === this.#nodeId) this.#pending.deliver(op.id, reply);
    else if (op.rack === this.#rack && !this.#toPeer(op.origin, op.id, reply)) {
      this.#stores.push(encodeCommand(["SET", replyKey(op.id), reply, "PX", this.#replyTtl]));
    }
  }

  /**
   * The commands that keep in Redis the replies route 2 could not hand over,
   * taken once (the applier runs them in the metadata db after its batch).
   */
  takeStores(): Uint8Array[] {
    return this.#stores.splice(0);
  }

  /** Routes 3 and 4: a reply of this node's op `opId`; false if nothing waits for it any more. */
  received(opId: string, reply: Uint8Array): boolean {
    return this.#pending.deliver(opId, reply);
  }
}
