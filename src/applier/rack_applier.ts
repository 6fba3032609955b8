/**
 * The applier's life on one node: it runs while this node leads its rack (as
 * the rack's Raft group decides) and the node is allowed to apply, and stops
 * the moment leadership is lost. A new applier starts from the position
 * stored in the rack's Redis, so a stop and a start never lose or repeat an
 * op (the position fence deals with one that still runs elsewhere). A
 * rebuild holds it stopped while it replaces the rack's Redis
 * (src/rebuild/rebuilder.ts), and releases it to start from the positions
 * it loaded.
 */

import type { Applier, PartitionStatus } from "./applier.ts";

/** Starts and stops the applier with rack leadership. */
export class RackApplier {
  #make: () => Applier;
  #enabled: boolean;
  #current: Applier | undefined;
  #leading = false;
  #held = false;

  /** `make` builds a fresh applier; `enabled` false (`--applier off`) never applies. */
  constructor(make: () => Applier, options: { enabled: boolean }) {
    this.#make = make;
    this.#enabled = options.enabled;
  }

  /** Leadership changed: apply while leading. */
  lead(leading: boolean): void {
    this.#leading = leading;
    if (leading) this.#start();
    else void this.stop();
  }

  /** Stops applying until {@linkcode release}, whatever leadership does meanwhile. */
  async hold(): Promise<void> {
    this.#held = true;
    await this.stop();
  }

  /** Applies again (a fresh applier, from the stored positions) if this node still leads. */
  release(): void {
    this.#held = false;
    if (this.#leading) this.#start();
  }

  /** The partitions' progress while applying; undefined when this node does not apply. */
  status(): PartitionStatus[] | undefined {
    return this.#current?.status();
  }

  /** As {@linkcode status}, not copied. */
  liveStatus(): readonly Readonly<PartitionStatus>[] | undefined {
    return this.#current?.liveStatus();
  }

  /** Stops applying (after the batch in flight). */
  async stop(): Promise<void> {
    const stopping = this.#current;
    this.#current = undefined;
    await stopping?.stop();
  }

  #start(): void {
    if (!this.#enabled || this.#held || this.#current !== undefined) return;
    this.#current = this.#make();
    this.#current.start();
  }
}
