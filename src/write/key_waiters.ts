/**
 * The clients of this node that wait in a blocking command, by the keys they
 * wait on, and when each of them tries again. No socket, no timer: the
 * applier reports the keys each applied op readied (src/applier/wakes.ts),
 * blocking calls report what their tries found
 * (src/gateway/blocking_call.ts), and this table says whom to wake.
 *
 * Why no wake-up is lost: a key readied by the op at offset t is followed
 * by a try covering that key logged after t, unless every waiter on it is
 * gone. A try that found nothing at offset a proves its keys empty at a; so
 * the table remembers, per key, the last offset that readied it, and a try
 * that comes back empty is compared with it: readied since (t > a), the key
 * is tried again. The same check is made when a client starts waiting (its
 * first try may have crossed a readying op on its way back). Touches are
 * remembered for the last {@linkcode TOUCHES_MAX} keys; for an older one the
 * highest offset forgotten counts, so forgetting only ever wakes more.
 *
 * Why not every waiter tries at every push: on each key one waiter of this
 * node holds the turn (its try is in flight); the others wait in the order
 * they came. A try that took something passes the turn to the next waiter of
 * each of its keys (more may be there); one that found nothing ends the turn
 * (the key was empty at its offset, so the others would find nothing
 * either), unless the key was readied since. So a push wakes one try per
 * node, not one per waiting client. Readers (`XREAD .. BLOCK`) take nothing:
 * each reads again on every touch of its streams.
 */

/** Where an op is in the log. */
export interface LogPosition {
  partition: number;
  offset: number;
}

/** The keys one applied op readied (pushed to, added to), or `all` (SWAPDB: any key may be). */
export interface Readied {
  partition: number;
  offset: number;
  keys: readonly { db: number; key: Uint8Array }[] | "all";
}

/** What a waiting client gives the table. */
export interface WaiterSpec {
  db: number;
  keys: readonly Uint8Array[];
  /** `take`: its tries consume (pops, XREADGROUP); `read`: XREAD, reads again on every touch. */
  kind: "take" | "read";
  /** Try (or read) again: an op at `at` readied one of its keys (undefined: a poll). */
  wake: (at: LogPosition | undefined) => void;
}

/** A waiting client in the table. */
export interface Waiter {
  readonly spec: WaiterSpec;
  /** Ids of its keys. */
  readonly ids: readonly string[];
  /** Its partition (its keys share one). */
  readonly partition: number;
  /** Its try (or read) is in flight. */
  trying: boolean;
  /** The offset its last try found nothing at (-1: unknown). */
  after: number;
  /** Left the table. */
  gone: boolean;
}

/** Keys whose last readying offset is remembered. */
export const TOUCHES_MAX = 100_000;

const latin1 = new TextDecoder("latin1");

/** A key's id in a db (bytes kept exactly: latin1 maps each byte to one code unit). */
export function keyId(db: number, key: Uint8Array): string {
  return `${db}:${latin1.decode(key)}`;
}

/** This node's waiting clients by key. */
export class KeyWaiters {
  /** Waiters of each key, in the order they started waiting. */
  #byKey = new Map<string, Set<Waiter>>();
  /** The last offset that readied each key, and its partition, oldest first. */
  #touched = new Map<string, { offset: number; partition: number }>();
  /** Per partition: the highest offset forgotten, or readying every key (SWAPDB). */
  #floor: number[] = [];
  /** Per partition: the highest offset heard readied. */
  #latest: number[] = [];
  #partitionOf: (key: Uint8Array) => number;
  #size = 0;

  constructor(partitionOf: (key: Uint8Array) => number) {
    this.#partitionOf = partitionOf;
  }

  /** Clients waiting now (INFO's blocked_clients). */
  get size(): number {
    return this.#size;
  }

  /** Keys waited on now. */
  get keys(): number {
    return this.#byKey.size;
  }

  /** The partition `key` lives in. */
  partitionOf(key: Uint8Array): number {
    return this.#partitionOf(key);
  }

  /** The highest offset of `partition` this table has heard readied (-1: none). */
  latest(partition: number): number {
    return this.#latest[partition] ?? -1;
  }

  /**
   * A client starts waiting after a try (or read) that found nothing at
   * `after` (undefined: where is unknown, so any remembered touch counts).
   */
  add(spec: WaiterSpec, after: LogPosition | undefined): Waiter {
    const ids = spec.keys.map((key) => keyId(spec.db, key));
    const partition = spec.keys.length > 0 ? this.#partitionOf(spec.keys[0]!) : 0;
    const waiter: Waiter = {
      spec,
      ids,
      partition,
      trying: false,
      after: after?.offset ?? -1,
      gone: false,
    };
    for (const id of ids) {
      let set = this.#byKey.get(id);
      if (set === undefined) this.#byKey.set(id, set = new Set());
      set.add(waiter);
    }
    this.#size++;
    this.#recheck(waiter);
    return waiter;
  }

  /**
   * `waiter`'s try (or read) found nothing at `at`: it waits again, unless
   * its keys were readied since. Where unknown, the latest offset heard
   * counts (a try that keeps coming back without a place cannot loop).
   */
  foundNothing(waiter: Waiter, at: LogPosition | undefined): void {
    if (waiter.gone) return;
    waiter.trying = false;
    const offset = at?.offset ?? this.latest(waiter.partition);
    waiter.after = Math.max(waiter.after, offset);
    this.#recheck(waiter);
  }

  /**
   * `waiter` leaves (answered, timed out, unblocked, disconnected). `took`:
   * its last try took something, so the next waiters of its keys try (more
   * may be there); a try still in flight is settled by its caller first.
   */
  remove(waiter: Waiter, took = false): void {
    if (waiter.gone) return;
    waiter.gone = true;
    const wasTrying = waiter.trying;
    waiter.trying = false;
    this.#size--;
    for (const id of waiter.ids) {
      const set = this.#byKey.get(id);
      if (set === undefined) continue;
      set.delete(waiter);
      if (set.size === 0) this.#byKey.delete(id);
      else if (took || wasTrying) this.#kick(id, undefined);
    }
  }

  /** Ops this rack applied readied these keys: waiters of each try (or read) again. */
  readied(ops: readonly Readied[]): void {
    for (const op of ops) {
      this.#latest[op.partition] = Math.max(this.#latest[op.partition] ?? -1, op.offset);
      if (op.keys === "all") {
        this.#floor[op.partition] = Math.max(this.#floor[op.partition] ?? -1, op.offset);
        for (const id of [...this.#byKey.keys()]) this.#kick(id, op);
        continue;
      }
      for (const { db, key } of op.keys) {
        const id = keyId(db, key);
        this.#touch(id, op.partition, op.offset);
        if (this.#byKey.has(id)) this.#kick(id, op);
      }
    }
  }

  /**
   * Every key with waiters is tried again (a node whose own applier is not
   * applying hears of no applied op: it polls).
   */
  poll(): void {
    for (const id of [...this.#byKey.keys()]) this.#kick(id, undefined);
  }

  #touch(id: string, partition: number, offset: number): void {
    this.#touched.delete(id);
    this.#touched.set(id, { offset, partition });
    if (this.#touched.size <= TOUCHES_MAX) return;
    const [oldest, at] = this.#touched.entries().next().value!;
    this.#touched.delete(oldest);
    // Forgotten: it counts as readied at the highest offset forgotten (more wakes, never fewer).
    this.#floor[at.partition] = Math.max(this.#floor[at.partition] ?? -1, at.offset);
  }

  /** The last offset that may have readied key `id` of `partition` (-1: none known). */
  #lastTouch(id: string, partition: number): number {
    return Math.max(this.#touched.get(id)?.offset ?? -1, this.#floor[partition] ?? -1);
  }

  /** After `waiter` found nothing (or started waiting): its keys readied since are tried again. */
  #recheck(waiter: Waiter): void {
    for (const id of waiter.ids) {
      if (waiter.gone || waiter.trying) return;
      if (this.#lastTouch(id, waiter.partition) > waiter.after) this.#kick(id, undefined);
    }
  }

  /** Key `id` may hold something: its readers read again; its turn goes to a taker if none holds it. */
  #kick(id: string, at: LogPosition | undefined): void {
    const set = this.#byKey.get(id);
    if (set === undefined) return;
    let turnHeld = false;
    for (const waiter of set) if (waiter.trying && waiter.spec.kind === "take") turnHeld = true;
    const woken: Waiter[] = [];
    for (const waiter of set) {
      if (waiter.trying) continue;
      if (waiter.spec.kind === "read") woken.push(waiter);
      else if (!turnHeld) {
        turnHeld = true;
        woken.push(waiter);
      }
    }
    for (const waiter of woken) {
      waiter.trying = true;
      // Not from inside the caller (add, readied, a settling try): the wake starts a new try.
      queueMicrotask(() => {
        if (!waiter.gone) waiter.spec.wake(at);
      });
    }
  }
}
