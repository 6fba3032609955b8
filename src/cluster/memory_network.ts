/**
 * Peer links in memory, for worlds of several nodes in one process: Raft
 * batches and proposals between {@linkcode World}s, with what real links do on
 * a bad day, on demand — messages dropped or delayed, links cut between two
 * nodes, a node cut off from all others.
 */

import type { SeededRandom } from "../random.ts";
import { PeerUnavailable } from "./peer_client.ts";
import type { World, WorldTransport } from "./world.ts";

/** Links between the worlds of one process. */
export class MemoryNetwork {
  /** Share of Raft batches lost on the way (0 to 1). */
  dropRate = 0;
  /** A batch arrives this many milliseconds after it was sent, at random in the range. */
  delayMs: [number, number] = [0, 2];
  #random: SeededRandom;
  #worlds = new Map<string, World>();
  #cut = new Set<string>();
  #timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(random: SeededRandom) {
    this.#random = random;
  }

  /** Makes node `id` reachable as `world`. */
  attach(id: string, world: World): void {
    this.#worlds.set(id, world);
  }

  /** Node `id`'s side of the links. */
  transport(id: string): WorldTransport {
    return {
      sendRaft: (to, batch) => {
        const target = this.#worlds.get(to);
        if (target === undefined || !this.linked(id, to)) return false;
        if (this.#random.chance(this.dropRate)) return true;
        const timer = setTimeout(() => {
          this.#timers.delete(timer);
          // A link cut while the batch was on its way loses it.
          if (this.linked(id, to)) target.receive(id, batch);
        }, this.#random.int(this.delayMs[0], this.delayMs[1]));
        this.#timers.add(timer);
        return true;
      },
      propose: async (to, group, data) => {
        const target = this.#worlds.get(to);
        if (target === undefined || !this.linked(id, to)) {
          throw new PeerUnavailable(`no link to ${to}`);
        }
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
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }
}

function pair(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}
