/**
 * This node's side of claims (src/applier/claims.ts keeps them): a claim is
 * removed once the client got what the try took; when the client is gone,
 * the claim is removed first and then the put-back op is logged (a node that
 * dies between the two loses that element: a duplicate would be worse); a try
 * whose client got Pylon's error instead of a reply is looked for among the
 * claims for a minute and put back if found; when the node starts again,
 * every claim of its earlier life is put back the same way, once its rack
 * applied the log up to where it ended at the start. Whoever removes a claim
 * (HDEL answers 1) puts it back, never two of them.
 */

import { getLogger } from "@logtape/logtape";
import { findCommand } from "../command/mod.ts";
import type { WriteRequest } from "../log/write_request.ts";
import type { Placement } from "../log/op_log.ts";

const log = getLogger(["pylon", "claims"]);

/** Commands on the rack's Redis, in the metadata db (errors reject). */
export type MetaRun = (argv: (string | Uint8Array)[]) => Promise<Uint8Array>;

/** Decodes a kept claim (src/applier/claims.ts `decodeClaim`). */
export type DecodeClaim = (value: Uint8Array) => { db: number; argv: Uint8Array[] } | undefined;

/** Answered tries remembered, so a claim a re-application brings back for one is removed. */
const ANSWERED_KEPT = 100_000;
/** Claims removed by one HDEL at most. */
const RELEASE_BATCH_MAX = 1_000;
/** Tries of a removal before the client is answered anyway (the claim then stays: see release). */
const RELEASE_TRIES = 3;
/** When a try whose reply was lost is looked for among the claims (waits, one after another). */
const RECOVER_AFTER_MS = [500, 2_000, 10_000, 30_000];

const utf8 = new TextDecoder();

/** The claims of this node's clients. */
export class Claims {
  #key: string;
  #run: MetaRun;
  #write: (request: WriteRequest, reply: (bytes: Uint8Array) => void) => Promise<
    Placement | undefined
  >;
  #decode: DecodeClaim;
  #releasing: { id: string; done: () => void }[] = [];
  #scheduled = false;
  /** Claims put back (counters for PYLON INFO and tests). */
  putBack = 0;
  released = 0;
  /** Claims removed because they came back for tries whose clients had their elements. */
  staleRemoved = 0;
  /** The latest answered tries' ids, oldest first. */
  #answered = new Set<string>();

  constructor(options: {
    /** The claims key of this node (`pylon:claims:<node>`). */
    key: string;
    run: MetaRun;
    write: (request: WriteRequest, reply: (bytes: Uint8Array) => void) => Promise<
      Placement | undefined
    >;
    decode: DecodeClaim;
  }) {
    this.#key = options.key;
    this.#run = options.run;
    this.#write = options.write;
    this.#decode = options.decode;
  }

  /**
   * Try `opId`'s client is about to get what it took: its claim goes first
   * (removals of one turn are sent together), and the promise settles once
   * it went, then the client is answered. So a node killed in between loses
   * that element (between Redis removing the claim and the socket write)
   * rather than deliver it twice (answered, then put back at its next
   * start). If Redis cannot remove it after a few tries, the client is
   * answered anyway and the claim stays (logged): it would be put back at the
   * node's next start.
   */
  release(opId: string): Promise<void> {
    return new Promise((done) => {
      this.#releasing.push({ id: opId, done });
      if (this.#scheduled) return;
      this.#scheduled = true;
      setTimeout(() => this.#flush(), 0);
    });
  }

  async #flush(): Promise<void> {
    this.#scheduled = false;
    while (this.#releasing.length > 0) {
      const batch = this.#releasing.splice(0, RELEASE_BATCH_MAX);
      const ids = batch.map((r) => r.id);
      for (let attempt = 1; attempt <= RELEASE_TRIES; attempt++) {
        try {
          await this.#run(["HDEL", this.#key, ...ids]);
          break;
        } catch (error) {
          if (attempt === RELEASE_TRIES) {
            log.error("could not remove {n} claims of answered clients: {error}", {
              n: ids.length,
              error: String(error),
            });
          }
        }
      }
      this.released += ids.length;
      for (const id of ids) this.#answered.add(id);
      for (const id of this.#answered) {
        if (this.#answered.size <= ANSWERED_KEPT) break;
        this.#answered.delete(id);
      }
      for (const { done } of batch) done();
    }
  }

  /**
   * Removes claims that came back for tries whose clients have what they
   * took: a Redis that failed over to a replica, or restarted without its
   * last writes, had the rack's applier apply those tries again, claims
   * included, after the removal was lost with the old data. Left there, the
   * node's next start would put those elements back: a second delivery.
   * How many it removed.
   */
  async removeStale(): Promise<number> {
    if (this.#answered.size === 0) return 0;
    const ids = bulkItems(await this.#run(["HKEYS", this.#key]))
      .map((id) => utf8.decode(id))
      .filter((id) => this.#answered.has(id));
    if (ids.length === 0) return 0;
    await this.#run(["HDEL", this.#key, ...ids]);
    this.staleRemoved += ids.length;
    return ids.length;
  }

  /**
   * The client of try `opId` left before it got what the try took: the
   * claim goes first, then `argv` (in `db`) is logged to put it back.
   * Without a claim id (the try was applied as another rack's), only the op.
   */
  async giveBack(opId: string | undefined, db: number, argv: Uint8Array[]): Promise<void> {
    // Only the one who removed the claim puts it back (a start's restore may race with this).
    if (opId !== undefined && !await this.#take(opId)) return;
    await this.#log(db, argv);
    this.putBack++;
  }

  /**
   * Try `opId`'s client got Pylon's error instead of its reply (the log or
   * the rack did not answer in time): if the try took something after all,
   * its claim shows it once the rack applied it. Looked for a few times over
   * a minute; what is found is put back.
   */
  async recover(opId: string): Promise<boolean> {
    for (const waitMs of RECOVER_AFTER_MS) {
      await new Promise((resolve) => setTimeout(resolve, waitMs));
      let value: Uint8Array;
      try {
        value = await this.#run(["HGET", this.#key, opId]);
      } catch {
        continue;
      }
      if (value[0] !== 0x24 || value[1] === 0x2d) continue;
      const crlf = value.indexOf(0x0d);
      const claim = this.#decode(value.subarray(crlf + 2, value.length - 2));
      if (claim === undefined || !await this.#take(opId)) return false;
      await this.#log(claim.db, claim.argv);
      this.putBack++;
      return true;
    }
    return false;
  }

  /** Removes claim `opId`; whether this call removed it (HDEL answered 1). */
  async #take(opId: string): Promise<boolean> {
    const reply = await this.#run(["HDEL", this.#key, opId]);
    return utf8.decode(reply).startsWith(":1");
  }

  /**
   * Puts back every claim of an earlier life of this node (ids before
   * `beforeId`, which the current life's ops all follow); how many.
   */
  async restoreOrphans(beforeId: string): Promise<number> {
    const reply = await this.#run(["HGETALL", this.#key]);
    const fields = bulkItems(reply);
    let restored = 0;
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const id = utf8.decode(fields[i]!);
      if (id >= beforeId) continue;
      const claim = this.#decode(fields[i + 1]!);
      if (!await this.#take(id)) continue;
      if (claim === undefined) {
        log.error("claim {id} cannot be read; removed", { id });
        continue;
      }
      await this.#log(claim.db, claim.argv);
      restored++;
    }
    this.putBack += restored;
    return restored;
  }

  async #log(db: number, argv: Uint8Array[]): Promise<void> {
    const command = findCommand(utf8.decode(argv[0]!));
    if (command === undefined) throw new Error(`Cannot put back with '${utf8.decode(argv[0]!)}'`);
    let reply: Uint8Array | undefined;
    await this.#write({
      commands: [{ argv, command, reply: "data" }],
      transaction: false,
      db,
      protocol: 2,
    }, (bytes) => reply = bytes);
    if (reply !== undefined && reply[0] === 0x2d) {
      throw new Error(`putting back failed: ${utf8.decode(reply).trim()}`);
    }
  }
}

/** The bulk payloads of a RESP2 array reply (HGETALL). */
function bulkItems(reply: Uint8Array): Uint8Array[] {
  const items: Uint8Array[] = [];
  let at = reply.indexOf(0x0a) + 1;
  while (at > 0 && at < reply.length) {
    if (reply[at] !== 0x24) break;
    const crlf = reply.indexOf(0x0d, at);
    const length = Number(utf8.decode(reply.subarray(at + 1, crlf)));
    items.push(reply.subarray(crlf + 2, crlf + 2 + length));
    at = crlf + 2 + length + 2;
  }
  return items;
}
