/**
 * Peer links in memory, for worlds of several nodes in one process: Raft
 * batches and proposals between {@linkcode World}s, with what real links do on
 * a bad day, on demand — messages dropped or delayed, links cut between two
 * nodes, a node cut off from all others. Delays run on the network's clock and
 * every choice comes from its seeded random source, so on a manual clock
 * (src/manual_clock.ts) a run replays exactly; `trace` sees every batch's fate.
 */

import { type Clock, realClock } from "../clock.ts";
import type { SeededRandom } from "../random.ts";
import { PeerUnavailable } from "./peer_client.ts";
import type { World, WorldTransport } from "./world.ts";

/** What became of one Raft batch or forwarded proposal. */
export interface NetworkEvent {
  /** On the network's clock. */
  atMs: number;
  /**
   * `sent`: on its way; `delivered`: handed to the receiver; `dropped`: lost
   * at random; `cut`: no link when sent; `lost`: the link was cut while it was
   * on its way. Proposals are handed over at once, or cut.
   */
  kind: "sent" | "delivered" | "dropped" | "cut" | "lost";
  /** A batch of Raft messages, or a proposal forwarded to a group's leader. */
  carries: "raft" | "proposal";
  from: string;
  to: string;
  /** The Raft batch, or the proposal's data. */
  batch: Uint8Array;
}

/** Options of {@linkcode MemoryNetwork}. */
export interface MemoryNetworkOptions {
  /** Delays (default: the real clock). */
  clock?: Clock;
  /** Sees every batch's fate, in the order it happens. */
  trace?: (event: NetworkEvent) => void;
}

/** Links between the worlds of one process. */
export class MemoryNetwork {
  /** Share of Raft batches lost on the way (0 to 1). */
  dropRate = 0;
  /** A batch arrives this many milliseconds after it was sent, at random in the range. */
  delayMs: [number, number] = [0, 2];
  #random: SeededRandom;
  #clock: Clock;
  #trace: (event: NetworkEvent) => void;
  #worlds = new Map<string, World>();
  #cut = new Set<string>();
  #inFlight = new Set<() => void>();

  constructor(random: SeededRandom, options: MemoryNetworkOptions = {}) {
    this.#random = random;
    this.#clock = options.clock ?? realClock;
    this.#trace = options.trace ?? (() => {});
  }

  /** Makes node `id` reachable as `world`. */
  attach(id: string, world: World): void {
    this.#worlds.set(id, world);
  }

  /** Node `id`'s side of the links. */
  transport(id: string): WorldTransport {
    const event = (
      kind: NetworkEvent["kind"],
      to: string,
      batch: Uint8Array,
      carries: NetworkEvent["carries"] = "raft",
    ) => this.#trace({ atMs: this.#clock.now(), kind, carries, from: id, to, batch });
    return {
      sendRaft: (to, batch) => {
        const target = this.#worlds.get(to);
        if (target === undefined || !this.linked(id, to)) {
          event("cut", to, batch);
          return false;
        }
        if (this.#random.chance(this.dropRate)) {
          event("dropped", to, batch);
          return true;
        }
        event("sent", to, batch);
        const cancel = this.#clock.after(this.#random.int(this.delayMs[0], this.delayMs[1]), () => {
          this.#inFlight.delete(cancel);
          // A link cut while the batch was on its way loses it.
          if (!this.linked(id, to)) return event("lost", to, batch);
          event("delivered", to, batch);
          target.receive(id, batch);
        });
        this.#inFlight.add(cancel);
        return true;
      },
      propose: async (to, group, data) => {
        const target = this.#worlds.get(to);
        if (target === undefined || !this.linked(id, to)) {
          event("cut", to, data, "proposal");
          throw new PeerUnavailable(`no link to ${to}`);
        }
        event("delivered", to, data, "proposal");
        const refusal = await target.proposeForPeer(group, data);
        if (refusal !== undefined) throw new Error(`${to} did not take the proposal: ${refusal}`);
      },
      add: () => {},
      remove: () => {},
    };
  }

  /** Whether `a` and `b` can reach each other. */
  linked(a: string, b: string): boolean {
    return !this.#cut.has(pair(a, b));
  }

  /** Cuts the link between `a` and `b`. */
  cut(a: string, b: string): void {
    this.#cut.add(pair(a, b));
  }

  /** Restores the link between `a` and `b`. */
  mend(a: string, b: string): void {
    this.#cut.delete(pair(a, b));
  }

  /** Cuts `id` off from every other node. */
  isolate(id: string): void {
    for (const other of this.#worlds.keys()) if (other !== id) this.cut(id, other);
  }

  /** Restores every link. */
  heal(): void {
    this.#cut.clear();
  }

  /** Drops the batches still on their way (call before the worlds stop). */
  close(): void {
    for (const cancel of this.#inFlight) cancel();
    this.#inFlight.clear();
  }
}

function pair(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}
