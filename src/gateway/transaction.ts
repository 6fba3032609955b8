/**
 * A connection's transaction and watch as a state machine: MULTI, the
 * commands queued after it, EXEC and DISCARD, WATCH and UNWATCH, and RESET.
 * Events in (each request's route), decisions out (the reply to give now, or
 * the transaction to submit as one op). No socket, no clock: the connection
 * feeds it and carries out what it decides.
 *
 * A transaction becomes one op, applied atomically on every rack. A watch
 * records the keys, the db and, per partition, the position this rack had
 * applied when the first key was watched (what the client can have read
 * since); EXEC hands them to the write path, and every rack's applier aborts
 * the transaction alike if the log shows a change to a watched key between
 * that position and the transaction.
 */

import { parseStrictInteger } from "../command/bytes.ts";
import { type CommandSpec, type Route, transactionStep } from "../command/mod.ts";
import { encodeError, REPLY } from "../resp/encoder.ts";
import type { Protocol } from "../resp/value.ts";
import type { WriteCommand, WriteRequest } from "../write/write_path.ts";

/** Keys watched since the last EXEC, DISCARD, UNWATCH or RESET. */
export interface Watch {
  db: number;
  keys: Uint8Array[];
  /** Per partition, the earliest position this rack had applied when a key was watched. */
  from: (number | undefined)[];
  /** Keys were watched in more than one db: not tracked, EXEC aborts. */
  mixedDbs: boolean;
  /** When the first key was watched (this node's clock, ms since the epoch). */
  watchedAtMs: number;
  /**
   * Each key's expiry when it was watched, in log terms (undefined: none);
   * null while the connection still reads it from the rack.
   */
  expiries: (number | undefined | null)[];
}

/** What to do with a transaction command (MULTI, EXEC, DISCARD, WATCH, UNWATCH). */
export type TransactionDecision =
  /** `watched`: WATCH recorded these keys from index `start`; their expiries are to be read. */
  | { kind: "reply"; reply: Uint8Array; watched?: { start: number; keys: Uint8Array[] } }
  | {
    kind: "submit";
    /** The queued commands: one op. */
    commands: WriteCommand[];
    /** The watch it is checked against (its expiries may still be read: see `expiries`). */
    watch: Readonly<Watch> | undefined;
    /** The db the connection is in after EXEC (a queued SELECT moves it), if it moves. */
    dbAfter: number | undefined;
  };

/** What the machine needs to know of the connection when a command arrives. */
export interface TransactionContext {
  db: number;
  protocol: Protocol;
  /** Per partition, the position this rack has applied now (for WATCH). */
  positions(): readonly (number | undefined)[];
  /** Whether clients may SELECT `db` (in range, not Pylon's metadata db). */
  selectable(db: number): boolean;
  /** This node's clock, ms since the epoch (when keys are watched). */
  nowMs(): number;
}

const EMPTY_ARRAY = new TextEncoder().encode("*0\r\n");
const NULL_ARRAY = new TextEncoder().encode("*-1\r\n");
const NULL_RESP3 = new TextEncoder().encode("_\r\n");
const EXECABORT = encodeError("EXECABORT Transaction discarded because of previous errors.");

function reply(bytes: Uint8Array): TransactionDecision {
  return { kind: "reply", reply: bytes };
}

/** One connection's MULTI .. EXEC and WATCH. */
export class Transaction {
  /** Commands queued since MULTI; undefined outside a transaction. */
  #queued: WriteCommand[] | undefined;
  #failed = false;
  /** The db the connection is in after the transaction's last valid SELECT, if any. */
  #dbAfter: number | undefined;
  #watch: Watch | undefined;

  /** Whether MULTI is open. */
  get active(): boolean {
    return this.#queued !== undefined;
  }

  /** Commands queued since MULTI, or -1 outside a transaction (CLIENT LIST's `multi`). */
  get queuedCount(): number {
    return this.#queued?.length ?? -1;
  }

  /** The keys watched now, if any (reads after WATCH must show the watch position). */
  get watch(): Readonly<Watch> | undefined {
    return this.#watch;
  }

  /**
   * A request between MULTI and EXEC that is not a transaction command:
   * queued (`+QUEUED`) if the table says it may be, else refused with the
   * error that fails the transaction.
   */
  queue(route: Route, argv: Uint8Array[], context: TransactionContext): Uint8Array {
    const queued = this.#queued;
    if (queued === undefined) throw new Error("queue() outside MULTI");
    const step = transactionStep(route);
    if (step !== "queue") {
      this.#failed = true;
      return encodeError(step.refusal);
    }
    const command = (route as { command: CommandSpec }).command;
    if (command.changesDb === true) argv = this.#select(argv, context);
    queued.push({ argv, command, reply: route.kind === "write" ? route.reply : "data" });
    return REPLY.queued;
  }

  /** A request refused inside MULTI for the connection's rights fails the transaction, as in Redis. */
  fail(): void {
    if (this.#queued !== undefined) this.#failed = true;
  }

  /** MULTI, EXEC, DISCARD, WATCH or UNWATCH, with arity already checked by the table. */
  control(name: string, argv: Uint8Array[], context: TransactionContext): TransactionDecision {
    switch (name) {
      case "multi":
        if (this.#queued !== undefined) {
          return reply(encodeError("ERR MULTI calls can not be nested"));
        }
        this.#queued = [];
        this.#failed = false;
        this.#dbAfter = undefined;
        return reply(REPLY.ok);
      case "watch":
        // Redis refuses it inside MULTI without failing the transaction.
        if (this.#queued !== undefined) {
          return reply(encodeError("ERR WATCH inside MULTI is not allowed"));
        }
        return {
          kind: "reply",
          reply: REPLY.ok,
          watched: this.#watchKeys(argv.slice(1), context),
        };
      case "unwatch":
        this.#watch = undefined;
        return reply(REPLY.ok);
      case "exec":
      case "discard":
        return this.#end(name, context.protocol);
      default:
        throw new Error(`'${name}' is not a transaction command`);
    }
  }

  /** RESET: leaves any transaction and watch. */
  reset(): void {
    this.#queued = undefined;
    this.#failed = false;
    this.#dbAfter = undefined;
    this.#watch = undefined;
  }

  #end(name: "exec" | "discard", protocol: Protocol): TransactionDecision {
    const queued = this.#queued;
    if (queued === undefined) return reply(encodeError(`ERR ${name.toUpperCase()} without MULTI`));
    this.#queued = undefined;
    // EXEC and DISCARD end the watch, whatever the outcome.
    const watch = this.#watch;
    this.#watch = undefined;
    if (name === "discard") return reply(REPLY.ok);
    if (this.#failed) return reply(EXECABORT);
    // Keys watched in several dbs are not tracked: the transaction is aborted, never wrongly run.
    if (watch?.mixedDbs) return reply(protocol === 3 ? NULL_RESP3 : NULL_ARRAY);
    if (queued.length === 0) return reply(EMPTY_ARRAY);
    return { kind: "submit", commands: queued, watch, dbAfter: this.#dbAfter };
  }

  #watchKeys(
    keys: Uint8Array[],
    context: TransactionContext,
  ): { start: number; keys: Uint8Array[] } {
    const positions = context.positions();
    if (this.#watch === undefined) {
      this.#watch = {
        db: context.db,
        keys: [],
        from: [...positions],
        mixedDbs: false,
        watchedAtMs: context.nowMs(),
        expiries: [],
      };
    } else {
      if (this.#watch.db !== context.db) this.#watch.mixedDbs = true;
      // The earliest position any watched key was read after is the one that counts.
      this.#watch.from = this.#watch.from.map((p, i) =>
        p === undefined || positions[i] === undefined ? undefined : Math.min(p, positions[i]!)
      );
    }
    const start = this.#watch.keys.length;
    for (const key of keys) {
      this.#watch.keys.push(key.slice());
      this.#watch.expiries.push(null);
    }
    return { start, keys: this.#watch.keys.slice(start) };
  }

  /**
   * The expiries of `watch`'s keys from index `start`, once read from the rack
   * (undefined entries: none; `values` undefined: they could not be read, and
   * the watch is then checked against the log alone). The watch may have
   * ended with an EXEC meanwhile: that EXEC waits for them.
   */
  setExpiries(watch: Readonly<Watch>, start: number, values: (number | undefined)[] | undefined) {
    const expiries = (watch as Watch).expiries;
    values?.forEach((value, i) => expiries[start + i] = value);
  }

  /**
   * SELECT queued in MULTI: it runs in EXEC as Redis runs it, and moves the
   * connection. Pylon's metadata db is named as an index Redis refuses with the
   * same words.
   */
  #select(argv: Uint8Array[], context: TransactionContext): Uint8Array[] {
    const db = parseStrictInteger(argv[1]!);
    if (db === undefined) return argv;
    if (context.selectable(db)) {
      this.#dbAfter = db;
      return argv;
    }
    return [argv[0]!, new TextEncoder().encode("-1")];
  }
}

/** What the write path takes of a watch: its keys, db, positions, and the expiries known. */
export function watchForWrite(watch: Readonly<Watch>): NonNullable<WriteRequest["watch"]> {
  const forWrite: NonNullable<WriteRequest["watch"]> = {
    db: watch.db,
    keys: watch.keys,
    from: watch.from,
  };
  // Expiries not read (the rack could not answer): the log's verdict alone, as before.
  if (watch.expiries.every((e) => e !== null)) {
    forWrite.expiries = {
      watchedAtMs: watch.watchedAtMs,
      at: watch.expiries as (number | undefined)[],
    };
  }
  return forWrite;
}
