/**
 * The divergence checker: the rack leader's comparison of what its rack
 * applied with what the other racks applied, so a rack that diverges is
 * caught, never silent.
 *
 * - **Outcomes.** Every op's reply (src/divergence/outcome.ts) goes into a
 *   running fingerprint per partition (src/divergence/outcome_log.ts). Every
 *   {@linkcode OUTCOME_ROUND_MS}, or as soon as a window's worth of ops was
 *   applied (at most every {@linkcode OUTCOME_ROUND_MS_MIN}), it pulls from
 *   each other rack's leader the hashes of the windows it has not compared
 *   yet and the chain at that rack's last op, and compares them
 *   (src/divergence/outcome_compare.ts).
 * - **Data** (src/divergence/data_rounds.ts). A few keys at a time, digested
 *   by every rack at one log position of their partition: the same keys as of
 *   the same op everywhere, so the data itself is compared, whatever replies
 *   showed. A rack another found different on a key checks it itself.
 * - **A difference** is located (the first op that differs, from the ops
 *   each rack keeps, with both replies) and decided (src/divergence/verdict.ts):
 *   if this rack diverged it halts (src/divergence/guard.ts): it applies
 *   nothing more and serves no reads, and says so in `PYLON INFO`, `/readyz`,
 *   `/metrics` and the log; if another rack did, this one notes it and goes
 *   on (that rack finds it too, and halts itself).
 *
 * It also answers the other racks' requests (outcome summaries, kept ops,
 * digests at a position) and is the applier's {@linkcode OutcomeHook}.
 */

import { getLogger } from "@logtape/logtape";
import { type Clock, realClock, sleep } from "../clock.ts";
import { FrameType } from "../cluster/peer_protocol.ts";
import type { PartitionStatus } from "../applier/applier.ts";
import type { OpReply } from "../applier/batch_plan.ts";
import type { OutcomeHook } from "../applier/outcome_hook.ts";
import type { Op } from "../log/op.ts";
import type { CommandRunner } from "../redis/command_runner.ts";
import { comparedReply, outcomeDigest, showReply } from "./outcome.ts";
import {
  type OutcomeBounds,
  outcomeBounds,
  OutcomeLog,
  type OutcomeRecord,
} from "./outcome_log.ts";
import {
  compareSummary,
  firstCursor,
  type Mismatch,
  pointsFor,
  windowAsk,
} from "./outcome_compare.ts";
import { ApplyStops } from "./stops.ts";
import { ASK_TIMEOUT_MS, DataRounds, type RackPeers } from "./data_rounds.ts";
import { decide, type Verdict } from "./verdict.ts";
import type { DivergenceGuard } from "./guard.ts";
import {
  decodeDataHint,
  decodeDigestAsk,
  decodeRecords,
  decodeRecordsAsk,
  decodeSummary,
  decodeSummaryAsk,
  encodeDataHint,
  encodeDigestAnswer,
  encodeRecords,
  encodeRecordsAsk,
  encodeSummary,
  encodeSummaryAsk,
  type OutcomeSummary,
  type WindowAsk,
} from "./wire.ts";

const log = getLogger(["pylon", "divergence"]);

/** Outcome comparisons with every other rack: at least this often. */
export const OUTCOME_ROUND_MS = 250;
/** ... and at most this often, when a window's worth of ops was applied sooner. */
export const OUTCOME_ROUND_MS_MIN = 50;

const EMPTY = new Uint8Array(0);

export type { RackPeers };

/** What the checker works with. */
export interface CheckerParts {
  rack: string;
  partitions: number;
  /** The db of Pylon's metadata in the rack's Redis. */
  metaDb: number;
  /** This node's applier's partitions while it leads its rack; undefined otherwise. */
  applier(): readonly Readonly<PartitionStatus>[] | undefined;
  /** The other racks; undefined in a world of one rack. */
  peers: RackPeers | undefined;
  guard: DivergenceGuard;
  /** A connection of the checker's own to the rack's master (for SCAN), or undefined. */
  connect(): Promise<CommandRunner | undefined>;
  /** The dbs clients use. */
  dbs(): number[];
  /** Keys digested per second (0: no data digests). */
  dataKeysPerSecond: number;
  clock?: Clock;
}

/** Counters and findings for `PYLON INFO` and `/metrics`. */
export interface DivergenceStatus {
  /** Why this rack halted, when it diverged. */
  diverged: string | undefined;
  outcomeOps: number;
  outcomeWindowsCompared: number;
  outcomeWindowsSkipped: number;
  outcomePointsCompared: number;
  dataRounds: number;
  dataRoundsRetried: number;
  dataKeysCompared: number;
  dataKeysPerSecond: number;
  /** Other racks found diverged, with what was found. */
  peersDiverged: [string, string][];
}

/** What this checker knows of another rack. */
interface RackState {
  /** Per partition, the next window to compare. */
  cursors: (number | undefined)[];
  /** Per partition, the next offset its applier applies, as last heard. */
  positions: (number | undefined)[];
  diverged: boolean;
}

/** A difference with a rack, located as far as the kept ops allow. */
interface Located {
  partition: number;
  mismatch: Mismatch;
  /** The first op that differs, with every rack's record of it that could be had. */
  first: { offset: number; records: Map<string, OutcomeRecord> } | undefined;
  verdict: Verdict<number>;
  /** What the reference rack is, when no majority decided. */
  reference: string;
}

/** The rack leader's divergence checks; see the module's header. */
export class DivergenceChecker implements OutcomeHook {
  #parts: CheckerParts;
  #clock: Clock;
  #logs: (OutcomeLog | undefined)[];
  #bounds: OutcomeBounds;
  #stops: ApplyStops;
  #racks = new Map<string, RackState>();
  #peersDiverged = new Map<string, string>();
  #stats = {
    outcomeOps: 0,
    outcomeWindowsCompared: 0,
    outcomeWindowsSkipped: 0,
    outcomePointsCompared: 0,
  };
  #data: DataRounds | undefined;
  #stopped = new AbortController();
  #loops: Promise<void>[] = [];
  /** Ops recorded since the last outcome round; a window's worth starts one early. */
  #opsSinceRound = 0;
  #wakeOutcomes: (() => void) | undefined;

  constructor(parts: CheckerParts) {
    this.#parts = parts;
    this.#clock = parts.clock ?? realClock;
    this.#bounds = outcomeBounds(parts.partitions);
    this.#logs = Array.from({ length: parts.partitions }, () => undefined);
    this.#stops = new ApplyStops(this.#clock);
    const peers = parts.peers;
    this.#data = peers === undefined ? undefined : new DataRounds({
      rack: parts.rack,
      partitions: parts.partitions,
      metaDb: parts.metaDb,
      applier: parts.applier,
      peers,
      halted: () => parts.guard.reason() !== undefined,
      connect: parts.connect,
      dbs: parts.dbs,
      keysPerSecond: parts.dataKeysPerSecond,
      stops: this.#stops,
      position: (rack, partition) => this.#rack(rack).positions[partition],
      learnPosition: (rack, partition, position) => {
        this.#rack(rack).positions[partition] = position;
      },
      differs: (verdict, what, hint) => this.#conclude(verdict, what, { hint }),
      clock: this.#clock,
    });
  }

  /** Starts the rounds (they do nothing while this node does not lead or has no peers). */
  start(): void {
    if (this.#parts.peers === undefined) return;
    this.#loops.push(this.#outcomeLoop());
    if (this.#parts.dataKeysPerSecond > 0) this.#loops.push(this.#data!.run(this.#stopped.signal));
  }

  async stop(): Promise<void> {
    this.#stopped.abort();
    this.#wakeOutcomes?.();
    this.#stops.clear();
    await Promise.all(this.#loops);
  }

  status(): DivergenceStatus {
    return {
      diverged: this.#parts.guard.reason(),
      ...this.#stats,
      ...(this.#data?.stats() ?? { dataRounds: 0, dataRoundsRetried: 0, dataKeysCompared: 0 }),
      dataKeysPerSecond: this.#parts.dataKeysPerSecond,
      peersDiverged: [...this.#peersDiverged],
    };
  }

  // ---- the applier's hook ----

  applied(
    partition: number,
    first: number,
    ops: readonly (Op | undefined)[],
    replies: readonly OpReply[],
    scriptBody: (sha: string) => Uint8Array | undefined,
  ): void {
    this.#stops.crossed(partition, first, first + ops.length);
    if (this.#parts.peers === undefined) return; // a world of one rack: nothing to compare with
    const outcomes = this.#logs[partition] ??= new OutcomeLog(this.#bounds);
    // Replies come in log order but for skipped ops (first) and ops with none (ticks): a map then.
    let byOp: Map<Op, Uint8Array> | undefined;
    let next = 0;
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i];
      let reply: Uint8Array | undefined;
      if (op !== undefined && byOp === undefined && replies[next]?.op === op) {
        reply = replies[next++]!.reply;
      } else if (op !== undefined) {
        byOp ??= new Map(replies.map((r) => [r.op, r.reply]));
        reply = byOp.get(op);
      }
      const id = op?.id ?? "";
      outcomes.add(first + i, {
        opId: id,
        rack: op?.rack ?? "",
        digest: outcomeDigest(id, comparedReply(op, reply, scriptBody)),
        reply: reply ?? EMPTY,
      });
    }
    this.#stats.outcomeOps += ops.length;
    this.#opsSinceRound += ops.length;
    if (this.#opsSinceRound >= this.#bounds.windowOps) this.#wakeOutcomes?.();
  }

  halted(): string | undefined {
    return this.#parts.guard.reason();
  }

  nextStop(partition: number, position: number): number {
    return this.#stops.next(partition, position);
  }

  atStop(
    partition: number,
    position: number,
    logTimeMs: number,
    connection: CommandRunner,
  ): Promise<void> {
    return this.#stops.runAt(partition, position, logTimeMs, connection);
  }

  // ---- answers to other racks ----

  /** Answers another rack's request of `type` (a divergence frame type). */
  async serve(type: number, payload: Uint8Array): Promise<Uint8Array> {
    switch (type) {
      case FrameType.Outcomes:
        return encodeSummary(this.#summary(decodeSummaryAsk(payload)));
      case FrameType.OutcomeRecords: {
        const ask = decodeRecordsAsk(payload);
        const to = Math.min(ask.to, ask.from + this.#bounds.ringOps);
        return encodeRecords(this.#logs[ask.partition]?.records(ask.from, to) ?? []);
      }
      case FrameType.DataDigest:
        return encodeDigestAnswer(
          await this.#data?.digestHere(decodeDigestAsk(payload)) ?? { kind: "absent" },
        );
      case FrameType.DataHint:
        // Checked here, with every rack, before anything is concluded: first in the next round.
        this.#data?.hint(decodeDataHint(payload));
        return EMPTY;
      default:
        throw new Error(`unknown divergence request ${type}`);
    }
  }

  #summary(asks: WindowAsk[]): OutcomeSummary {
    const applier = this.#parts.applier();
    return {
      leads: applier !== undefined,
      diverged: this.#parts.guard.reason(),
      partitions: asks.slice(0, this.#parts.partitions).map((ask, partition) => {
        const outcomes = this.#logs[partition];
        const windows: (number | undefined)[] = [];
        const last = Math.min(
          ask.fromWindow + Math.min(ask.count, 1_024) - 1,
          outcomes?.lastWindow() ?? -1,
        );
        for (let k = ask.fromWindow; k <= last; k++) windows.push(outcomes!.window(k));
        return {
          position: applier?.[partition]?.position,
          points: pointsFor(outcomes, ask),
          fromWindow: ask.fromWindow,
          windows,
        };
      }),
    };
  }

  // ---- outcome rounds ----

  async #outcomeLoop(): Promise<void> {
    while (!this.#stopped.signal.aborted) {
      const startedAt = this.#clock.now();
      this.#opsSinceRound = 0;
      await this.#compareOutcomes().catch((error) =>
        log.warning("outcome comparison failed: {error}", { error: (error as Error).message })
      );
      const pause = Math.max(0, OUTCOME_ROUND_MS_MIN - (this.#clock.now() - startedAt));
      await sleep(this.#clock, pause, this.#stopped.signal);
      if (this.#opsSinceRound >= this.#bounds.windowOps || this.#stopped.signal.aborted) continue;
      await new Promise<void>((resolve) => {
        const cancel = this.#clock.after(OUTCOME_ROUND_MS - OUTCOME_ROUND_MS_MIN, wake);
        function wake() {
          cancel();
          resolve();
        }
        this.#wakeOutcomes = wake;
        this.#stopped.signal.addEventListener("abort", wake, { once: true });
      });
      this.#wakeOutcomes = undefined;
    }
  }

  /** One round: every other rack's summary, compared; a difference located and decided. */
  async #compareOutcomes(): Promise<void> {
    const peers = this.#parts.peers;
    if (peers === undefined || this.#parts.applier() === undefined) return;
    if (this.#parts.guard.reason() !== undefined) return;
    const leaders = peers.rackLeaders();
    const found = await Promise.all(leaders.map(async (leader) => {
      const state = this.#rack(leader.rack);
      // Never from before the first window this rack holds (it began recording there).
      const asks = this.#logs.map((outcomes, p) =>
        windowAsk(
          outcomes,
          state.cursors[p] = Math.max(state.cursors[p] ?? 0, firstCursor(outcomes)),
        )
      );
      let summary: OutcomeSummary;
      try {
        summary = decodeSummary(
          await peers.ask(leader.id, FrameType.Outcomes, encodeSummaryAsk(asks), ASK_TIMEOUT_MS),
        );
      } catch {
        return []; // asked again next round
      }
      if (!summary.leads) return [];
      summary.partitions.forEach((p, i) => (state.positions[i] = p.position));
      const was = state.diverged;
      state.diverged = summary.diverged !== undefined;
      // Halted there: not compared until it applies again (then from the windows it has).
      if (summary.diverged !== undefined) {
        this.#notePeer(leader.rack, summary.diverged);
        return [];
      }
      if (was) {
        state.cursors = [];
        this.#peersDiverged.delete(leader.rack);
        return [];
      }
      const mismatches: { leader: typeof leader; partition: number; mismatch: Mismatch }[] = [];
      summary.partitions.forEach((theirs, p) => {
        const outcomes = this.#logs[p];
        if (outcomes === undefined || p >= this.#parts.partitions) return;
        const c = compareSummary(outcomes, state.cursors[p]!, theirs);
        this.#stats.outcomeWindowsCompared += c.windowsCompared;
        this.#stats.outcomeWindowsSkipped += c.windowsSkipped;
        if (c.pointCompared) this.#stats.outcomePointsCompared++;
        state.cursors[p] = c.cursor;
        if (c.mismatch !== undefined) {
          mismatches.push({ leader, partition: p, mismatch: c.mismatch });
        }
      });
      return mismatches;
    }));
    for (const { leader, partition, mismatch } of found.flat()) {
      if (this.#parts.guard.reason() !== undefined) return;
      const located = await this.#locate(leader, partition, mismatch);
      if (located === undefined) continue; // asked again next round
      this.#report(located, leader.rack);
      // Past the window found, so it is not reported again.
      const state = this.#rack(leader.rack);
      state.cursors[partition] = Math.max(state.cursors[partition] ?? 0, mismatch.window + 1);
    }
  }

  #rack(rack: string): RackState {
    let state = this.#racks.get(rack);
    if (state === undefined) {
      state = { cursors: [], positions: [], diverged: false };
      this.#racks.set(rack, state);
    }
    return state;
  }

  /**
   * Finds the first op that differs between this rack and `other` in the
   * mismatch's range, and every rack's outcome of it (or, when the ops are no
   * longer kept, of the whole window), and decides who diverged.
   */
  async #locate(
    other: { id: string; rack: string },
    partition: number,
    mismatch: Mismatch,
  ): Promise<Located | undefined> {
    const peers = this.#parts.peers!;
    const outcomes = this.#logs[partition]!;
    const from = mismatch.window * this.#bounds.windowOps;
    const ask = (id: string, range: { from: number; to: number }) =>
      peers.ask(
        id,
        FrameType.OutcomeRecords,
        encodeRecordsAsk({ partition, ...range }),
        ASK_TIMEOUT_MS,
      )
        .then(decodeRecords);
    let theirs: OutcomeRecord[];
    try {
      theirs = await ask(other.id, { from, to: mismatch.upTo });
    } catch {
      return undefined;
    }
    const theirsAt = new Map(theirs.map((r) => [r.offset, r]));
    let first: number | undefined;
    for (let o = from; o <= mismatch.upTo; o++) {
      const a = outcomes.digestAt(o);
      const b = theirsAt.get(o);
      if (a === undefined || b === undefined) break;
      if (a !== b.digest) {
        first = o;
        break;
      }
    }
    const others = peers.rackLeaders().filter((l) => l.rack !== other.rack);
    if (first !== undefined) {
      const offset = first;
      const records = new Map<string, OutcomeRecord>([
        [this.#parts.rack, outcomes.record(offset)!],
        [other.rack, theirsAt.get(offset)!],
      ]);
      await Promise.all(others.map(async (l) => {
        try {
          const [r] = await ask(l.id, { from: offset, to: offset });
          if (r !== undefined && r.offset === offset) records.set(l.rack, r);
        } catch {
          // That rack does not count.
        }
      }));
      const verdict = decide(
        [...records].map(([rack, r]) => ({ rack, value: r.digest })),
        { origin: records.get(this.#parts.rack)!.rack },
      );
      return {
        partition,
        mismatch,
        first: { offset, records },
        verdict,
        reference: "the accepting rack",
      };
    }
    // The ops are no longer kept on one side: the window's hashes decide.
    const window = mismatch.window;
    const mine = outcomes.window(window) ?? outcomes.chainAt(mismatch.upTo);
    const values = [{ rack: this.#parts.rack, value: mine }];
    await Promise.all([other, ...others].map(async (l) => {
      const asks = this.#logs.map((_, p) => ({
        fromWindow: p === partition ? window : 0,
        count: p === partition ? 1 : 0,
        at: undefined,
      }));
      try {
        const s = decodeSummary(
          await peers.ask(l.id, FrameType.Outcomes, encodeSummaryAsk(asks), ASK_TIMEOUT_MS),
        );
        values.push({ rack: l.rack, value: s.partitions[partition]?.windows[0] });
      } catch {
        values.push({ rack: l.rack, value: undefined });
      }
    }));
    // With no majority, the rack that applied these ops first is the reference: the other
    // (it still keeps them) applied them later, catching up or rebuilt, on another footing.
    const mineKept = outcomes.record(from) !== undefined;
    const theirsKept = theirs.length > 0;
    const earlier = mineKept && !theirsKept
      ? other.rack
      : !mineKept && theirsKept
      ? this.#parts.rack
      : undefined;
    const verdict = decide(values, { origin: earlier });
    return {
      partition,
      mismatch,
      first: undefined,
      verdict,
      reference: "the rack that applied these ops first",
    };
  }

  /** Says what was found; halts this rack if it is among the diverged. */
  #report(located: Located, other: string): void {
    const { verdict, first, partition, mismatch, reference } = located;
    if (verdict.diverged.length === 0) return; // another rack set it right in between
    const where = first === undefined
      ? `the outcomes of ops ${mismatch.window * this.#bounds.windowOps}..${mismatch.upTo} of ` +
        `partition ${partition} differ between rack '${this.#parts.rack}' and rack '${other}' ` +
        `(the first op that differs is no longer kept to name it)`
      : describeFirst(partition, first);
    this.#conclude(verdict, where, { reference });
  }

  /**
   * Halts this rack or notes the others, from a verdict on `what`; `hint`
   * tells the others which key to check themselves (they decide for
   * themselves: a rack missing a key never samples it).
   */
  #conclude<V>(
    verdict: Verdict<V>,
    what: string,
    options: { reference?: string; hint?: { db: number; key: Uint8Array } } = {},
  ): void {
    const { hint } = options;
    const racks = verdict.diverged.map((r) => `'${r}'`).join(", ");
    const basis = verdict.basis === "majority"
      ? `${verdict.agreeing} of ${verdict.answered} racks agree`
      : verdict.basis === "origin"
      ? `no majority: ${options.reference ?? "the rack"} '${verdict.referenceRack}' is the ` +
        `reference`
      : `no majority and no way to tell which is right: every rack involved stops`;
    const message = `${what}; rack${verdict.diverged.length > 1 ? "s" : ""} ${racks} ` +
      `differ${verdict.diverged.length > 1 ? "" : "s"} from the world (${basis})`;
    if (verdict.diverged.includes(this.#parts.rack)) {
      this.#parts.guard.halt(`${message}; this rack stops applying and serving reads`);
      return;
    }
    for (const rack of verdict.diverged) {
      if (hint !== undefined) this.#hint(rack, hint);
      this.#notePeer(rack, message);
    }
  }

  /** Another rack diverged (found here, or as it says itself): shown until it applies again. */
  #notePeer(rack: string, message: string): void {
    if (this.#peersDiverged.get(rack) === message) return;
    this.#peersDiverged.set(rack, message);
    log.error("rack {rack} diverged from the world: {message}", { rack, message });
  }

  #hint(rack: string, hint: { db: number; key: Uint8Array }): void {
    const leader = this.#parts.peers?.rackLeaders().find((l) => l.rack === rack);
    if (leader === undefined) return;
    this.#parts.peers!.ask(leader.id, FrameType.DataHint, encodeDataHint(hint), ASK_TIMEOUT_MS)
      .catch(() => {}); // found again in a later pass
  }
}

/** The first op that differs, with each rack's reply. */
function describeFirst(
  partition: number,
  first: { offset: number; records: Map<string, OutcomeRecord> },
): string {
  const any = [...first.records.values()][0]!;
  const replies = [...first.records]
    .map(([rack, r]) => `rack '${rack}' answered ${showReply(r.reply, r.replyLength)}`)
    .join(", ");
  return `op ${any.opId || "(not an op)"} at offset ${first.offset} of partition ${partition}` +
    `${any.rack === "" ? "" : ` (accepted by rack '${any.rack}')`}: ${replies}`;
}
