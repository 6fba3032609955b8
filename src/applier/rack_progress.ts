/**
 * How far this rack's Redis has applied the log, per partition, as this node
 * knows it: from its own applier when it leads, and otherwise from the
 * position the applier stores in the rack's Redis (read on demand, one read
 * in flight at a time). Reads use it for read-your-writes (a connection's
 * reads wait until the rack applied its writes), and reply recovery uses it to
 * notice writes another node applied.
 */

/** Positions a read needs: partition → the position (next offset) the rack must have reached. */
export type Need = ReadonlyMap<number, number>;

/** Reads a partition's stored position from the rack's Redis (undefined: none stored). */
export type ReadPosition = (partition: number) => Promise<number | undefined>;

/** Polls while something waits for the rack to reach a position. */
const POLL_MS = 10;

/** This rack's applied positions. */
export class RackProgress {
  readonly partitions: number;
  #positions: (number | undefined)[];
  #read: ReadPosition;
  #refreshing: Promise<void> | undefined;
  /** Bumped by {@linkcode invalidate}: reads begun before it do not count. */
  #generation = 0;

  constructor(partitions: number, read: ReadPosition) {
    this.partitions = partitions;
    this.#positions = new Array(partitions).fill(undefined);
    this.#read = read;
  }

  /** The last known position of `partition` (everything below it is applied). */
  position(partition: number): number | undefined {
    return this.#positions[partition];
  }

  /** Records a position this node learnt (its applier applied up to it). */
  advance(partition: number, position: number): void {
    const known = this.#positions[partition];
    if (known === undefined || position > known) this.#positions[partition] = position;
  }

  /**
   * Records a position read now, which may be lower than before: a Redis that
   * restarted empty or a failover to a replica that lagged starts over.
   */
  reset(partition: number, position: number | undefined): void {
    this.#positions[partition] = position ?? 0;
  }

  /** Forgets every position (the rack's Redis restarted or failed over): the next need reads it. */
  invalidate(): void {
    this.#generation++;
    this.#positions.fill(undefined);
  }

  /** Whether every position in `need` is reached, as last known. */
  satisfies(need: Need): boolean {
    for (const [partition, position] of need) {
      if ((this.#positions[partition] ?? -1) < position) return false;
    }
    return true;
  }

  /** Reads every partition's position from the rack's Redis (calls made meanwhile share it). */
  refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      const generation = this.#generation;
      try {
        const read = await Promise.all(
          Array.from({ length: this.partitions }, (_, p) => this.#read(p)),
        );
        // Read from a Redis that has since been left (a failover, a restart): not this rack's now.
        if (generation === this.#generation) read.forEach((position, p) => this.reset(p, position));
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  /**
   * Waits until `need` is reached, reading the rack's positions; false at the
   * deadline, also when a read is still waiting for a Redis that does not
   * answer (a long script runs there).
   */
  async reached(need: Need, timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (true) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          this.refresh(),
          new Promise((resolve) => timer = setTimeout(resolve, deadline - performance.now())),
        ]);
      } catch {
        // Redis unreachable now: the deadline decides.
      } finally {
        clearTimeout(timer);
      }
      if (this.satisfies(need)) return true;
      if (performance.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
}
