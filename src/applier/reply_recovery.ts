/**
 * Replies of this node's writes that another applier applied: a rack leader
 * elected while this node's writes were in flight, a deposed leader's last
 * batch, a racing applier. Such an applier hands the reply back over the peer
 * link, or, when the link is down, stores it in the rack's Redis. While this
 * node has writes placed in the log, it watches the rack's applied position;
 * once the position has passed a write (and a hand-back had time to arrive)
 * it fetches the stored reply. So a reply moves as fast as the log, across
 * leader changes, instead of waiting for the write's deadline.
 *
 * Only facts are answered: a stored reply is Redis's reply; if none comes,
 * the op at the write's offset is read from the log, and only if it is this
 * write's op is the client told that the write was applied and its reply lost.
 */

import { getLogger } from "@logtape/logtape";
import { ignored } from "../observe/ignored.ts";
import { failpoint } from "../failpoints.ts";
import type { PendingWrite, PendingWrites } from "../write/pending_writes.ts";
import type { HandBack } from "./hand_back.ts";
import type { RackProgress } from "./rack_progress.ts";

const log = getLogger(["pylon", "applier"]);

/** Stored replies by op id (missing: none stored). */
export type FetchStored = (ids: string[]) => Promise<Map<string, Uint8Array>>;

/** Whether the log holds op `id` at `offset` (undefined: could not tell now). */
export type VerifyOp = (
  partition: number,
  offset: number,
  id: string,
) => Promise<boolean | undefined>;

/** How often the rack's position is read while writes wait. */
const TICK_MS = 20;
/** How long after its offset is passed a write's hand-back may still be on its way. */
const HAND_BACK_GRACE_MS = 20;
/** After this long with neither hand-back nor stored reply, the reply is lost. */
const LOST_AFTER_MS = 2_000;

/** The reply of a write that was applied when its real reply cannot be had. */
export const REPLY_LOST = new TextEncoder().encode(
  "-ERR the write was applied but its reply was lost (the applier that applied it could not " +
    "hand it back)\r\n",
);

/** A write whose offset holds another op: the log did not take it where it said. */
const NOT_AT_OFFSET = new TextEncoder().encode(
  "-ERR Pylon could not confirm the write was logged (the log holds another op where it was " +
    "placed); it may or may not be applied\r\n",
);

/** Watches for writes of this node that another applier applied, and answers them. */
export class ReplyRecovery {
  #pending: PendingWrites;
  #replies: HandBack;
  #progress: RackProgress;
  #fetchStored: FetchStored;
  #verify: VerifyOp;
  #timer: ReturnType<typeof setInterval> | undefined;
  #busy = false;

  constructor(
    pending: PendingWrites,
    options: {
      replies: HandBack;
      progress: RackProgress;
      fetchStored: FetchStored;
      verify: VerifyOp;
    },
  ) {
    this.#pending = pending;
    this.#replies = options.replies;
    this.#progress = options.progress;
    this.#fetchStored = options.fetchStored;
    this.#verify = options.verify;
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.#tick(), TICK_MS);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #tick(): Promise<void> {
    if (this.#busy) return;
    if (this.#pending.placedWrites().next().done) return;
    this.#busy = true;
    try {
      failpoint("applier.recover");
      await this.#progress.refresh();
      await this.#recover(performance.now());
    } catch (error) {
      ignored("reply_recovery", error);
    } finally {
      this.#busy = false;
    }
  }

  async #recover(now: number): Promise<void> {
    const due: PendingWrite[] = [];
    for (const write of this.#pending.placedWrites()) {
      const position = this.#progress.position(write.partition);
      if (position === undefined || write.offset! >= position) {
        write.passedAt = undefined; // a Redis that restarted empty is behind it again
        continue;
      }
      write.passedAt ??= now;
      if (now - write.passedAt >= HAND_BACK_GRACE_MS) due.push(write);
    }
    if (due.length === 0) return;
    const stored = await this.#fetchStored(due.map((w) => w.id));
    for (const write of due) {
      const reply = stored.get(write.id);
      if (reply !== undefined) {
        this.#replies.received(write.id, reply);
        continue;
      }
      if (now - write.passedAt! < LOST_AFTER_MS) continue;
      const ours = await this.#verify(write.partition, write.offset!, write.id);
      if (ours === undefined) continue;
      log.warning("op {id} at offset {offset}: {what}", {
        id: write.id,
        offset: write.offset,
        what: ours ? "applied by another node, reply lost" : "the log holds another op there",
      });
      this.#replies.received(write.id, ours ? REPLY_LOST : NOT_AT_OFFSET);
    }
  }
}
