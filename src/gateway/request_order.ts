/**
 * Read-after-write ordering on one connection, as a state machine: a read
 * waits until every write sent before it is settled (so it shows them), and a
 * write waits until every read held before it has its reply (so that read
 * does not show the write). Reads with nothing to wait for go at once and hold
 * nothing up. A read may also wait on a gate of its own (a strong read waits
 * for the log's end). Events in, the requests now free to go out; the
 * connection carries them out.
 *
 * Beside it, {@linkcode SeenPositions}: where the log put this connection's
 * writes, which a rack must have applied before it serves the connection's
 * reads.
 */

import type { Need } from "../applier/rack_progress.ts";

/** A request's ticket: its place in the connection's order. */
export type Ticket = number;

interface Held {
  kind: "read" | "write";
  /** A read's own precondition is met (always true for writes). */
  gateOpen: boolean;
  /** Let go: a write submitted, a read sent (each open until settled or answered). */
  released: boolean;
}

/**
 * Orders one connection's reads after its writes, and its writes after reads
 * held before them. Costs O(1) per request unless something is held back.
 */
export class RequestOrder {
  #next: Ticket = 1;
  /** Writes not settled yet, and held reads not answered yet, by ticket (in order). */
  #open = new Map<Ticket, Held>();
  #openWrites = 0;
  #openReads = 0;
  /** Open requests not released yet. */
  #waiting = 0;

  /** Requests held or in flight that the machine tracks. */
  get size(): number {
    return this.#open.size;
  }

  /** Writes not settled yet. */
  get writesInFlight(): number {
    return this.#openWrites;
  }

  /**
   * A read arrives. `gated`: it also waits for {@linkcode gateOpened}. Returns
   * its ticket and whether it may go now; a read with nothing to wait for goes
   * at once and is not tracked.
   */
  read(gated = false): { ticket: Ticket; go: boolean } {
    const ticket = this.#next++;
    // Every open request came before this one.
    if (!gated && this.#openWrites === 0) return { ticket, go: true };
    this.#add(ticket, { kind: "read", gateOpen: !gated, released: false });
    return { ticket, go: false };
  }

  /** A write arrives: its ticket, and whether it may be submitted now. */
  write(): { ticket: Ticket; go: boolean } {
    const ticket = this.#next++;
    const go = this.#openReads === 0;
    this.#add(ticket, { kind: "write", gateOpen: true, released: go });
    return { ticket, go };
  }

  /** A held read's own gate opened; returns the tickets now free to go. */
  gateOpened(ticket: Ticket): Ticket[] {
    const held = this.#open.get(ticket);
    if (held === undefined || held.kind !== "read") throw new Error(`no gated read ${ticket}`);
    held.gateOpen = true;
    return this.#releasable();
  }

  /** A write is settled (applied, failed or given up on); returns the tickets now free to go. */
  settled(ticket: Ticket): Ticket[] {
    return this.#done(ticket, "write");
  }

  /** A held read has its reply; returns the tickets now free to go. */
  answered(ticket: Ticket): Ticket[] {
    return this.#done(ticket, "read");
  }

  /** A held read is given up on before it went (its gate failed); returns the tickets now free to go. */
  cancel(ticket: Ticket): Ticket[] {
    const held = this.#open.get(ticket);
    if (held === undefined || held.kind !== "read") throw new Error(`no held read ${ticket}`);
    if (!held.released) this.#waiting--;
    this.#open.delete(ticket);
    this.#openReads--;
    return this.#releasable();
  }

  #add(ticket: Ticket, held: Held): void {
    this.#open.set(ticket, held);
    if (held.kind === "write") this.#openWrites++;
    else this.#openReads++;
    if (!held.released) this.#waiting++;
  }

  #done(ticket: Ticket, kind: Held["kind"]): Ticket[] {
    const held = this.#open.get(ticket);
    if (held === undefined || held.kind !== kind || !held.released) {
      throw new Error(`${kind} ${ticket} is not in flight`);
    }
    this.#open.delete(ticket);
    if (kind === "write") this.#openWrites--;
    else this.#openReads--;
    return this.#releasable();
  }

  /** One pass in order: a read goes once no write is open before it, a write once no read is. */
  #releasable(): Ticket[] {
    if (this.#waiting === 0) return [];
    const released: Ticket[] = [];
    let writeBefore = false;
    let readBefore = false;
    for (const [ticket, held] of this.#open) {
      if (
        !held.released && held.gateOpen &&
        (held.kind === "read" ? !writeBefore : !readBefore)
      ) {
        held.released = true;
        this.#waiting--;
        released.push(ticket);
      }
      if (held.kind === "write") writeBefore = true;
      else readBefore = true;
    }
    return released;
  }
}

/** The positions a rack must have applied to show one connection's writes, per partition. */
export class SeenPositions {
  #seen = new Map<number, number>();

  /** The log put one of the connection's writes at `offset` of `partition`. */
  placed(partition: number, offset: number): void {
    this.#seen.set(partition, Math.max(this.#seen.get(partition) ?? 0, offset + 1));
  }

  /** Whether the connection has written anything the log placed. */
  get empty(): boolean {
    return this.#seen.size === 0;
  }

  /**
   * What a rack must have applied to serve the connection's next read: its
   * own writes, and each of `also` (a watch's position, a strong read's log end).
   */
  need(...also: (Need | readonly (number | undefined)[] | undefined)[]): Need {
    if (also.every((a) => a === undefined) && this.#seen.size === 0) return NO_NEED;
    const need = new Map(this.#seen);
    for (const more of also) {
      if (more === undefined) continue;
      const entries: Iterable<[number, number | undefined]> = more instanceof Map
        ? more
        : (more as readonly (number | undefined)[]).entries();
      for (const [partition, position] of entries) {
        if (position === undefined || position <= 0) continue;
        need.set(partition, Math.max(need.get(partition) ?? 0, position));
      }
    }
    return need.size === 0 ? NO_NEED : need;
  }
}

/** The need of a connection that wrote nothing and waits for nothing. */
export const NO_NEED: Need = new Map();
