/**
 * One client's blocking command, from its first try to its answer: the
 * client waits on its node, holding no connection to Redis.
 *
 * - A pop (`BLPOP`, `BLMOVE`, `BZMPOP`, ...) and `XREADGROUP .. BLOCK` are
 *   logged as tries: the command itself, which the applier runs inside its
 *   MULTI, where Redis never blocks and answers what it took or nil. Nil:
 *   the client waits in this node's table ({@linkcode KeyWaiters}) until an
 *   applied op readies one of its keys, then the next try is logged. The
 *   first try in the log after an element arrives takes it, so clients on
 *   every rack are served in the log order of their tries.
 * - `XREAD .. BLOCK` reads the local rack without BLOCK (`$` taken as each
 *   stream's last id before the first read), and reads again, once the rack
 *   applied it, after each op that touched its streams.
 * - The timeout runs on this node's monotonic clock. At the timeout (or
 *   `CLIENT UNBLOCK`) with a try in flight, the try's outcome decides: what
 *   it took is answered (a little late), else the timeout's nil.
 * - A client gone while its try was in flight: what the try took is put back
 *   by an op this node logs (src/command/blocking.ts, `putBackCommand`).
 *
 * Errors: the first try's are the answer (Redis's own: a wrong timeout,
 * WRONGTYPE); a later try's error from Redis (the key changed type) leaves
 * the client waiting, as Redis leaves a blocked client blocked; Pylon's own
 * (the log did not answer) ends the wait with it.
 */

import { type CommandSpec, findCommand } from "../command/mod.ts";
import {
  type BlockingRequest,
  CLAIMED_POPS,
  isNothing,
  putBackCommand,
  timeoutReply,
  UNBLOCKED_ERROR,
  withoutBlock,
} from "../command/blocking.ts";
import { encodeCommand, encodeError } from "../resp/encoder.ts";
import { arrayItems, bulkPayload } from "../resp/frames.ts";
import type { Protocol } from "../resp/value.ts";
import type { KeyWaiters, LogPosition, Waiter } from "../write/key_waiters.ts";
import type { Placement, WriteRequest } from "../write/write_path.ts";
import type { Need } from "../applier/rack_progress.ts";

/** What a blocking call needs of its node. */
export interface BlockingHost {
  /** Submits a try (an op); `reply` gets Redis's reply; resolves with where the log put it. */
  write(request: WriteRequest, reply: (bytes: Uint8Array) => void): Promise<Placement | undefined>;
  /** Reads the rack once it applied `need`; `sink` gets Redis's reply or Pylon's error text. */
  read(
    request: Uint8Array,
    options: { db: number; protocol: Protocol; need: Need },
    sink: (reply: Uint8Array | { error: string }) => void,
  ): void;
  /** This node's waiting clients. */
  waiters: KeyWaiters;
  /** Where this rack has applied `partition` up to (the next offset), as the node knows it. */
  appliedPosition(partition: number): number | undefined;
  /** What tries took and clients have not got yet (src/write/claims.ts); undefined: none kept. */
  claims?: {
    release(opId: string): Promise<void>;
    giveBack(opId: string | undefined, db: number, argv: Uint8Array[]): Promise<void>;
    recover(opId: string): Promise<boolean>;
  };
}

/** Longest timer Deno sets; a longer timeout waits for ever. */
const TIMER_MS_MAX = 2 ** 31 - 1;

const utf8 = new TextDecoder();

/** Pylon's own errors (not Redis's) end a wait: the log or the rack could not answer. */
function isPylonError(reply: Uint8Array): boolean {
  return reply[0] === 0x2d && utf8.decode(reply.subarray(0, 64)).includes("Pylon");
}

/** A client's blocking command on this node. */
export class BlockingCall {
  readonly command: CommandSpec;
  readonly argv: Uint8Array[];
  readonly request: BlockingRequest;
  #host: BlockingHost;
  #db: number;
  #protocol: Protocol;
  #answer: (reply: Uint8Array) => void;
  #placed: (placement: Placement) => void;
  #waiter: Waiter | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** A try (or read) in flight. */
  #inFlight = false;
  #done = false;
  /** Why it must end once the try in flight settles: its timeout, CLIENT UNBLOCK, the client left. */
  #ending: "timeout" | "unblock-error" | "gone" | undefined;
  /** XREAD: the ids read after (`$` resolved). */
  #ids: Uint8Array[] | undefined;

  constructor(
    host: BlockingHost,
    options: {
      command: CommandSpec;
      argv: Uint8Array[];
      request: BlockingRequest;
      db: number;
      protocol: Protocol;
      /** Gets the client's reply, once. */
      answer: (reply: Uint8Array) => void;
      /** Where the log put a try (the connection's later reads must see it). */
      placed: (placement: Placement) => void;
    },
  ) {
    this.#host = host;
    this.command = options.command;
    // Copied: the decoder's arguments are views of the chunk they arrived in, which a long
    // wait would keep alive whole.
    this.argv = options.argv.map((arg) => arg.slice());
    this.request = options.request;
    this.#db = options.db;
    this.#protocol = options.protocol;
    this.#answer = options.answer;
    this.#placed = options.placed;
  }

  /** Bytes it holds while it waits (its request), for the node's memory budget. */
  get heldBytes(): number {
    let bytes = 0;
    for (const arg of this.argv) bytes += arg.length;
    return bytes;
  }

  /** Whether it is waiting (CLIENT LIST's `b`, CLIENT UNBLOCK). */
  get blocked(): boolean {
    return !this.#done;
  }

  /**
   * Starts: the timeout, then the first try (or read), which must see the
   * connection's writes: `need`. `settled` is called once the first try
   * settled (the connection's order of requests goes on from there).
   */
  start(need: Need, settled: () => void): void {
    const ms = this.request.timeoutMs;
    if (ms > 0 && ms <= TIMER_MS_MAX) this.#timer = setTimeout(() => this.#end("timeout"), ms);
    if (this.request.kind === "stream-read") void this.#firstRead(need).finally(settled);
    else this.#try(settled);
  }

  /** CLIENT UNBLOCK: false if it is not waiting; else it ends with nil (`timeout`) or UNBLOCKED. */
  unblock(mode: "timeout" | "error"): boolean {
    if (this.#done || this.#ending !== undefined) return false;
    this.#end(mode === "error" ? "unblock-error" : "timeout");
    return true;
  }

  /** The client left: nothing is answered; what a try in flight takes is put back. */
  gone(): void {
    if (this.#done) return;
    this.#end("gone");
  }

  #end(why: "timeout" | "unblock-error" | "gone"): void {
    if (this.#done) return;
    this.#ending ??= why;
    if (why === "gone") this.#ending = "gone";
    // A try in flight decides when it settles: what it took is answered, or put back.
    if (this.#inFlight) return;
    this.#finish(undefined);
  }

  /** Answers (`reply`, or what the ending says) and leaves the table. */
  #finish(reply: Uint8Array | undefined, took = false): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#timer);
    if (this.#waiter !== undefined) this.#host.waiters.remove(this.#waiter, took);
    if (this.#ending === "gone") return;
    this.#answer(
      reply ?? (this.#ending === "unblock-error" ? UNBLOCKED_ERROR : timeoutReply(this.#protocol)),
    );
  }

  /** Waits in the table after a try (or read) that found nothing at `at`. */
  #wait(at: LogPosition | undefined): void {
    if (this.#ending !== undefined) return this.#finish(undefined);
    if (this.#waiter === undefined) {
      this.#waiter = this.#host.waiters.add({
        db: this.#db,
        keys: this.request.keys.map((i) => this.argv[i]!),
        kind: this.request.kind === "stream-read" ? "read" : "take",
        wake: (woken) => this.#woken(woken),
      }, at);
    } else this.#host.waiters.foundNothing(this.#waiter, at);
  }

  #woken(at: LogPosition | undefined): void {
    if (this.#done || this.#inFlight) return;
    if (this.#ending !== undefined) return this.#finish(undefined);
    if (this.request.kind === "stream-read") this.#read(at);
    else this.#try();
  }

  /** Logs one try; `settled` once it settled. */
  #try(settled?: () => void): void {
    this.#inFlight = true;
    const first = this.#waiter === undefined;
    const request: WriteRequest = {
      commands: [{ argv: this.argv, command: this.command, reply: "data" }],
      transaction: false,
      db: this.#db,
      protocol: this.#protocol,
    };
    let reply: Uint8Array | undefined;
    let opId: string | undefined;
    request.opId = (id) => opId = id;
    let settledTry = false;
    const settle = (bytes: Uint8Array, placement: Placement | undefined) => {
      if (settledTry) return;
      settledTry = true;
      this.#tried(bytes, placement, first, opId);
    };
    let written: Promise<Placement | undefined>;
    try {
      written = this.#host.write(request, (bytes) => {
        reply ??= bytes;
        // What it took (or an error) is answered now; only nothing waits for the try's place.
        if (!isNothing(bytes)) settle(bytes, undefined);
      });
    } catch (error) {
      written = Promise.reject(error);
    }
    written.then((placement) => {
      if (placement !== undefined) this.#placed(placement);
      settle(reply ?? encodeError("ERR Pylon lost this try's reply"), placement);
    }, (error: unknown) => {
      settle(
        encodeError(`ERR Pylon lost track of this try (${error}); it may or may not be applied`),
        undefined,
      );
    }).finally(() => settled?.());
  }

  #tried(
    reply: Uint8Array,
    placement: Placement | undefined,
    first: boolean,
    opId: string | undefined,
  ): void {
    this.#inFlight = false;
    if (this.#done) return;
    const at: LogPosition | undefined = placement;
    const isError = reply[0] === 0x2d || reply[0] === 0x21;
    // Pylon could not tell what the try did: if it took something, its claim will say so.
    if (isPylonError(reply) && opId !== undefined && CLAIMED_POPS.has(this.command.name)) {
      void this.#host.claims?.recover(opId).catch(() => false);
    }
    // A later try's error from Redis (the key changed type): still blocked, as on Redis.
    if (isNothing(reply) || (isError && !first && !isPylonError(reply))) return this.#wait(at);
    if (this.#ending === "gone") {
      const back = isError ? undefined : putBackCommand(this.command.name, this.argv, reply);
      if (back !== undefined) this.#putBack(opId, back);
      return this.#finish(undefined, !isError);
    }
    const claims = this.#host.claims;
    if (
      isError || opId === undefined || claims === undefined || !CLAIMED_POPS.has(this.command.name)
    ) {
      return this.#finish(reply, !isError);
    }
    // The claim goes first, then the answer: a node killed in between loses what the try took
    // rather than deliver it twice (answered, then put back by its next start). The try stays
    // in flight meanwhile, so a timeout or the client leaving waits for it.
    this.#inFlight = true;
    void claims.release(opId).then(() => {
      this.#inFlight = false;
      if (this.#done) return;
      if (this.#ending === "gone") {
        // Its claim is gone already: only the put-back op.
        const back = putBackCommand(this.command.name, this.argv, reply);
        if (back !== undefined) this.#putBack(undefined, back);
        return this.#finish(undefined, true);
      }
      this.#finish(reply, true);
    });
  }

  /** Puts back what a try took for a client that left (its claim first, then the op). */
  #putBack(opId: string | undefined, argv: Uint8Array[]): void {
    const claims = this.#host.claims;
    if (claims !== undefined) {
      void claims.giveBack(opId, this.#db, argv).catch(() => {});
      return;
    }
    const command = findCommand(utf8.decode(argv[0]!));
    if (command === undefined) return;
    void this.#host.write({
      commands: [{ argv, command, reply: "data" }],
      transaction: false,
      db: this.#db,
      protocol: 2,
    }, () => {}).catch(() => {});
  }

  /** XREAD: `$` becomes each stream's last id, then the first read. */
  async #firstRead(need: Need): Promise<void> {
    this.#inFlight = true;
    const { keys } = this.request;
    const streams = keys.length === 0 ? 0 : this.argv.length - keys[0]!;
    if (keys.length === 0 || streams !== keys.length * 2) {
      // Arguments Redis refuses (an unbalanced list of streams): its error is the answer.
      const reply = await this.#readOnce(
        encodeCommand(withoutBlock(this.argv)),
        need,
        this.#protocol,
      );
      this.#inFlight = false;
      return this.#finish(reply ?? encodeError("ERR Pylon cannot read the rack's Redis"));
    }
    const ids = keys.map((i) => this.argv[i + keys.length]!);
    for (let k = 0; k < keys.length; k++) {
      if (utf8.decode(ids[k]!) !== "$") continue;
      const info = await this.#readOnce(
        encodeCommand(["XINFO", "STREAM", this.argv[keys[k]!]!]),
        need,
        2,
      );
      ids[k] = lastGeneratedId(info) ?? new TextEncoder().encode("0-0");
    }
    this.#ids = ids;
    this.#inFlight = false;
    if (this.#done) return;
    if (this.#ending !== undefined) return this.#finish(undefined);
    this.#read(undefined, need, true);
  }

  #readOnce(request: Uint8Array, need: Need, protocol: Protocol): Promise<Uint8Array | undefined> {
    return new Promise((resolve) =>
      this.#host.read(request, { db: this.#db, protocol, need }, (reply) => {
        resolve(reply instanceof Uint8Array ? reply : undefined);
      })
    );
  }

  /** XREAD without BLOCK, from the ids read after; `at`: an op that touched a stream. */
  #read(at: LogPosition | undefined, need?: Need, first = false): void {
    this.#inFlight = true;
    const { keys } = this.request;
    const streamsAt = keys[0]! - 1;
    const argv = [
      ...withoutBlock(this.argv.slice(0, streamsAt + 1 + keys.length)),
      ...this.#ids!,
    ];
    const readNeed = new Map(need ?? []);
    if (at !== undefined) {
      readNeed.set(at.partition, Math.max(readNeed.get(at.partition) ?? 0, at.offset + 1));
    } else {
      // A first read or a poll: it shows at least what this rack had applied when it was sent.
      const partition = this.#host.waiters.partitionOf(this.argv[keys[0]!]!);
      const applied = this.#host.appliedPosition(partition);
      if (applied !== undefined) at = { partition, offset: applied - 1 };
    }
    this.#host.read(encodeCommand(argv), {
      db: this.#db,
      protocol: this.#protocol,
      need: readNeed,
    }, (reply) => {
      this.#inFlight = false;
      if (this.#done) return;
      if (!(reply instanceof Uint8Array)) {
        return this.#finish(encodeError(`ERR Pylon cannot read the rack's Redis: ${reply.error}`));
      }
      const isError = reply[0] === 0x2d || reply[0] === 0x21;
      if (isNothing(reply) || (isError && !first)) return this.#wait(at);
      this.#finish(reply);
    });
  }
}

/** The `last-generated-id` of an `XINFO STREAM` reply (RESP2), if it is one. */
function lastGeneratedId(reply: Uint8Array | undefined): Uint8Array | undefined {
  if (reply === undefined || reply[0] !== 0x2a) return undefined;
  const items = arrayItems(reply) ?? [];
  for (let i = 0; i + 1 < items.length; i += 2) {
    const field = bulkPayload(items[i]!);
    if (field !== undefined && utf8.decode(field) === "last-generated-id") {
      return bulkPayload(items[i + 1]!);
    }
  }
  return undefined;
}
