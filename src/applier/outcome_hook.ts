/**
 * What the applier tells the divergence checker (src/divergence/), and what
 * it asks of it: the seam between them, so neither reaches into the other.
 *
 * - After every batch Redis applied, the batch's ops (in log order, from
 *   offset `first`) and their replies: the checker fingerprints them.
 * - Before every batch, whether the rack must stop applying (it diverged
 *   from the world); the applier then applies nothing until that clears.
 * - Stops: a position where the applier must stand still between two
 *   batches, to let the checker read the rack's data there (the data digest
 *   at an exact log position). Batches never run across a stop.
 */

import type { Op } from "../log/op.ts";
import type { CommandRunner } from "../redis/command_runner.ts";
import type { OpReply } from "./batch_plan.ts";

/** The divergence checker as the applier sees it. */
export interface OutcomeHook {
  /**
   * A batch was applied: `ops` from offset `first` (undefined for records
   * that are not ops) and the replies Redis gave (in any order);
   * `scriptBody` finds a kept script body by sha.
   */
  applied(
    partition: number,
    first: number,
    ops: readonly (Op | undefined)[],
    replies: readonly OpReply[],
    scriptBody: (sha: string) => Uint8Array | undefined,
  ): void;
  /** Why this rack must not apply now (it diverged), or undefined. */
  halted(): string | undefined;
  /** The first stop at or after `position` (Infinity: none). */
  nextStop(partition: number, position: number): number;
  /**
   * The applier stands at `position` with log time `logTimeMs`, between
   * batches: what waits there runs on `connection` (which it may leave in
   * another db; it changes no protocol and writes nothing).
   */
  atStop(
    partition: number,
    position: number,
    logTimeMs: number,
    connection: CommandRunner,
  ): Promise<void>;
}
