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
 * - **Data.** Every {@linkcode DATA_ROUND_MS} it takes the next keys of its
 *   own Redis (SCAN, every client db in turn) and asks every rack to digest
 *   them at one log position of their partition (src/divergence/data_digest.ts
 *   and stops.ts): the same keys as of the same op everywhere, so the data
 *   itself is compared, whatever replies showed.
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
import { keyHashSlot } from "../command/slot.ts";
import { slotPartition } from "../command/partition.ts";
import { FrameType } from "../cluster/peer_protocol.ts";
import type { PartitionStatus } from "../applier/applier.ts";
import type { OpReply } from "../applier/batch_plan.ts";
import type { OutcomeHook } from "../applier/outcome_hook.ts";
import type { Op } from "../log/op.ts";
import type { CommandRunner } from "../redis/command_runner.ts";
import { encodeCommand } from "../resp/encoder.ts";
import { arrayItems, bulkPayload, frameText, isErrorFrame } from "../resp/frames.ts";
import { comparedReply, outcomeDigest, showReply } from "./outcome.ts";
import { outcomeBounds, OutcomeLog, type OutcomeRecord } from "./outcome_log.ts";
import { compareSummary, firstCursor, type Mismatch, windowAsk } from "./outcome_compare.ts";
import { ApplyStops, type StopResult } from "./stops.ts";
import { decide, type Verdict } from "./verdict.ts";
import type { DivergenceGuard } from "./guard.ts";
import { ABSENT, describeDigest, DIGEST_LIMITS, digestKeys, NOT_DIGESTED } from "./data_digest.ts";
import {
  decodeDataHint,
  decodeDigestAnswer,
  decodeDigestAsk,
  decodeRecords,
  decodeRecordsAsk,
  decodeSummary,
  decodeSummaryAsk,
  type DigestAnswer,
  encodeDataHint,
  encodeDigestAnswer,
  encodeDigestAsk,
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
/** Data digest rounds: one chunk of keys every this often. */
export const DATA_ROUND_MS = 250;
/** How long a rack waits to reach a digest's position. */
export const DIGEST_WAIT_MS = 5_000;
/** How long a peer may take to answer a summary or records request. */
const ASK_TIMEOUT_MS = 3_000;
/** Keys carried to the next data round at most (the budget left them out, a round was retried). */
const CARRY_KEYS_MAX = 1_000;
/** Racks further behind than this are not asked for digests (they catch up first). */
const DIGEST_LAG_OPS_MAX = 10_000;
/** How far ahead of the furthest rack a digest position is taken, at most. */
const MARGIN_OPS_MAX = 100_000;

const EMPTY = new Uint8Array(0);
const utf8 = new TextDecoder();

/** The other racks as the checker reaches them (src/cluster/peers.ts). */
export interface RackPeers {
  /** Each other rack's leader, as probes last said. */
  rackLeaders(): { id: string; rack: string }[];
  /** A request answered with a payload (rejects with the peer's error or when it does not answer). */
  ask(to: string, type: number, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
}

/** What the checker works with. */
export interface CheckerParts {
  rack: string;
  partitions: number;
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
  #bounds;
  #stops: ApplyStops;
  #racks = new Map<string, RackState>();
  #peersDiverged = new Map<string, string>();
  #stats = {
    outcomeOps: 0,
    outcomeWindowsCompared: 0,
    outcomeWindowsSkipped: 0,
    outcomePointsCompared: 0,
    dataRounds: 0,
    dataRoundsRetried: 0,
    dataKeysCompared: 0,
  };
  #stopped = new AbortController();
  #loops: Promise<void>[] = [];
  /** Ops recorded since the last outcome round; a window's worth starts one early. */
  #opsSinceRound = 0;
  #wakeOutcomes: (() => void) | undefined;
  #outcomeRound: Promise<void> | undefined;
  // Data rounds: where SCAN is, and keys to ask again.
  #scan = { dbIndex: 0, cursor: "0" };
  #carry: { db: number; key: Uint8Array }[] = [];
  #margins: number[];
  /** Whether the last digest round of each partition found a rack past its position. */
  #passedLast: boolean[];
  #connection: CommandRunner | undefined;

  constructor(parts: CheckerParts) {
    this.#parts = parts;
    this.#clock = parts.clock ?? realClock;
    this.#bounds = outcomeBounds(parts.partitions);
    this.#logs = Array.from({ length: parts.partitions }, () => undefined);
    this.#stops = new ApplyStops(this.#clock);
    this.#margins = Array.from({ length: parts.partitions }, () => 0);
    this.#passedLast = Array.from({ length: parts.partitions }, () => false);
  }

  /** Starts the rounds (they do nothing while this node does not lead or has no peers). */
  start(): void {
    if (this.#parts.peers === undefined) return;
    this.#loops.push(this.#outcomeLoop());
    if (this.#parts.dataKeysPerSecond > 0) this.#loops.push(this.#dataLoop());
  }

  async stop(): Promise<void> {
    this.#stopped.abort();
    this.#wakeOutcomes?.();
    this.#stops.clear();
    this.#connection?.close();
    await Promise.all(this.#loops);
  }

  status(): DivergenceStatus {
    return {
      diverged: this.#parts.guard.reason(),
      ...this.#stats,
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
    const byOp = new Map<Op, Uint8Array>();
    for (const { op, reply } of replies) byOp.set(op, reply);
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i];
      const reply = op === undefined ? undefined : byOp.get(op);
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
        return encodeDigestAnswer(await this.#digestHere(decodeDigestAsk(payload)));
      case FrameType.DataHint: {
        // Checked here, with every rack, before anything is concluded: first in the next round.
        const hint = decodeDataHint(payload);
        if (!this.#carry.some((c) => c.db === hint.db && sameBytes(c.key, hint.key))) {
          this.#carry.unshift(hint);
          this.#carry.length = Math.min(this.#carry.length, CARRY_KEYS_MAX);
        }
        return EMPTY;
      }
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
          point: outcomes?.latest(),
          fromWindow: ask.fromWindow,
          windows,
        };
      }),
    };
  }

  /** Digests keys here when this rack's applier stands at the asked position. */
  async #digestHere(ask: ReturnType<typeof decodeDigestAsk>): Promise<DigestAnswer> {
    const status = this.#parts.applier()?.[ask.partition];
    if (status === undefined || this.#parts.guard.reason() !== undefined) return { kind: "absent" };
    return answerOf(
      await this.#stops.add(ask.partition, ask.position, {
        current: status.position,
        timeoutMs: DIGEST_WAIT_MS,
        work: (connection, logTimeMs) =>
          digestKeys(connection, { db: ask.db, keys: ask.keys, logTimeMs, limits: ask.limits }),
      }),
    );
  }

  // ---- outcome rounds ----

  async #outcomeLoop(): Promise<void> {
    while (!this.#stopped.signal.aborted) {
      const startedAt = this.#clock.now();
      this.#opsSinceRound = 0;
      this.#outcomeRound = this.#compareOutcomes().catch((error) =>
        log.warning("outcome comparison failed: {error}", { error: (error as Error).message })
      );
      await this.#outcomeRound;
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

  // ---- data rounds ----

  async #dataLoop(): Promise<void> {
    while (!this.#stopped.signal.aborted) {
      try {
        await this.#dataRound();
      } catch (error) {
        this.#connection?.close();
        this.#connection = undefined;
        log.warning("data digest round failed: {error}", { error: (error as Error).message });
      }
      await sleep(this.#clock, DATA_ROUND_MS, this.#stopped.signal);
    }
  }

  /** Keys per round, from the rate. */
  #chunk(): number {
    return Math.max(1, Math.ceil(this.#parts.dataKeysPerSecond * DATA_ROUND_MS / 1_000));
  }

  /** One round: the next keys, digested at a position on every rack, compared. */
  async #dataRound(): Promise<void> {
    const peers = this.#parts.peers;
    const applier = this.#parts.applier();
    if (peers === undefined || applier === undefined || this.#parts.guard.reason() !== undefined) {
      return;
    }
    const leaders = peers.rackLeaders();
    if (leaders.length === 0) return;
    const sample = await this.#sample();
    if (sample === undefined) return;
    const groups = new Map<number, Uint8Array[]>();
    for (const key of sample.keys) {
      const p = this.#parts.partitions === 1
        ? 0
        : slotPartition(keyHashSlot(key), this.#parts.partitions);
      groups.set(p, [...(groups.get(p) ?? []), key]);
    }
    this.#stats.dataRounds++;
    await Promise.all(
      [...groups].map(([partition, keys]) =>
        this.#digestGroup(partition, sample.db, keys, leaders)
      ),
    );
  }

  /** The keys of the next round: carried ones first, else the next SCAN of a client db. */
  async #sample(): Promise<{ db: number; keys: Uint8Array[] } | undefined> {
    const chunk = this.#chunk();
    if (this.#carry.length > 0) {
      const db = this.#carry[0]!.db;
      const same = this.#carry.filter((c) => c.db === db).slice(0, chunk);
      this.#carry = this.#carry.filter((c) => !same.includes(c));
      return { db, keys: same.map((c) => c.key) };
    }
    const dbs = this.#parts.dbs();
    if (dbs.length === 0) return undefined;
    const connection = await this.#connect();
    if (connection === undefined) return undefined;
    // At most one pass over the dbs for a non-empty chunk.
    for (let tries = 0; tries <= dbs.length; tries++) {
      const db = dbs[this.#scan.dbIndex % dbs.length]!;
      const [selected, reply] = await connection.run([
        encodeCommand(["SELECT", String(db)]),
        encodeCommand(["SCAN", this.#scan.cursor, "COUNT", String(chunk)]),
      ]);
      if (isErrorFrame(selected!)) throw new Error(`SELECT ${db}: ${frameText(selected!)}`);
      if (isErrorFrame(reply!)) throw new Error(`SCAN: ${frameText(reply!)}`);
      const [cursor, keys] = arrayItems(reply!) ?? [];
      this.#scan.cursor = utf8.decode(bulkPayload(cursor!) ?? EMPTY);
      if (this.#scan.cursor === "0") this.#scan.dbIndex = (this.#scan.dbIndex + 1) % dbs.length;
      const found = (arrayItems(keys!) ?? []).map((k) => (bulkPayload(k) ?? EMPTY).slice());
      if (found.length > 0) return { db, keys: found };
    }
    return undefined;
  }

  async #connect(): Promise<CommandRunner | undefined> {
    if (this.#connection !== undefined && !this.#connection.closed) return this.#connection;
    this.#connection = await this.#parts.connect();
    return this.#connection;
  }

  /** Digests `keys` of `db` (all of partition `partition`) on every rack at one position, and compares. */
  async #digestGroup(
    partition: number,
    db: number,
    keys: Uint8Array[],
    all: { id: string; rack: string }[],
  ): Promise<void> {
    const peers = this.#parts.peers!;
    const current = this.#parts.applier()?.[partition]?.position;
    if (current === undefined) return this.#carryOver(db, keys);
    const known = (l: { rack: string }) => this.#rack(l.rack).positions[partition];
    const furthest = Math.max(current, ...all.map((l) => known(l) ?? 0));
    // A rack catching up far behind would not reach the position in time: it is asked later.
    const leaders = all.filter((l) => (known(l) ?? furthest) >= furthest - DIGEST_LAG_OPS_MAX);
    if (leaders.length === 0) return this.#carryOver(db, keys);
    const position = furthest + this.#margins[partition]!;
    const limits = DIGEST_LIMITS;
    const mine = this.#stops.add(partition, position, {
      current,
      timeoutMs: DIGEST_WAIT_MS,
      work: (connection, logTimeMs) => digestKeys(connection, { db, keys, logTimeMs, limits }),
    }).then(answerOf);
    const payload = encodeDigestAsk({ partition, position, db, limits, keys });
    const answers = await Promise.all([
      mine,
      ...leaders.map((l) =>
        peers.ask(l.id, FrameType.DataDigest, payload, DIGEST_WAIT_MS + ASK_TIMEOUT_MS)
          .then(decodeDigestAnswer)
          .catch((error): DigestAnswer => ({ kind: "failed", error: (error as Error).message }))
      ),
    ]);
    const racks = [this.#parts.rack, ...leaders.map((l) => l.rack)];
    answers.forEach((a, i) => {
      if (a.kind === "passed" && i > 0) this.#rack(racks[i]!).positions[partition] = a.position;
    });
    // A rack already past the position: once more from the positions just learnt, then further
    // ahead each time; otherwise nearer (a position too far ahead is not reached in time).
    const passed = answers.some((a) => a.kind === "passed");
    const margin = this.#margins[partition]!;
    this.#margins[partition] = !passed
      ? Math.floor(margin / 2)
      : this.#passedLast[partition]
      ? Math.min(MARGIN_OPS_MAX, Math.max(1, margin * 2))
      : margin;
    this.#passedLast[partition] = passed;
    const own = answers[0]!;
    if (passed || own.kind !== "done") {
      this.#stats.dataRoundsRetried++;
      return this.#carryOver(db, keys);
    }
    const left: Uint8Array[] = [];
    const differing: { key: Uint8Array; verdict: Verdict<string> }[] = [];
    keys.forEach((key, i) => {
      if (own.digests[i] === NOT_DIGESTED) {
        left.push(key);
        return;
      }
      const values = answers.map((a, r) => ({
        rack: racks[r]!,
        value: a.kind === "done" && a.digests[i] !== NOT_DIGESTED ? a.digests[i] : undefined,
      }));
      if (values.filter((v) => v.value !== undefined).length < 2) return;
      this.#stats.dataKeysCompared++;
      const verdict = decide(values);
      if (verdict.diverged.length > 0) differing.push({ key, verdict });
    });
    this.#carryOver(db, left);
    const found = differing[0];
    if (found === undefined) return;
    const holds = racks
      .map((rack, r) => {
        const a = answers[r]!;
        return a.kind === "done"
          ? `rack '${rack}' has ${describeDigest(a.digests[keys.indexOf(found.key)] ?? ABSENT)}`
          : undefined;
      })
      .filter((s) => s !== undefined)
      .join("; ");
    const more = differing.length > 1
      ? ` (and ${differing.length - 1} more keys of this round)`
      : "";
    this.#conclude(
      found.verdict,
      `key ${showKey(found.key)} of db ${db} differs at log position ${position} of partition ` +
        `${partition}${more}: ${holds}`,
      { hint: { db, key: found.key } },
    );
  }

  #carryOver(db: number, keys: Uint8Array[]): void {
    for (const key of keys) {
      if (this.#carry.length >= CARRY_KEYS_MAX) return;
      this.#carry.push({ db, key });
    }
  }
}

/** A stop's result as a peer's answer. */
function answerOf(result: StopResult<string[]>): DigestAnswer {
  switch (result.kind) {
    case "done":
      return { kind: "done", digests: result.value };
    case "passed":
      return { kind: "passed", position: result.position };
    case "timeout":
      return { kind: "timeout" };
    case "failed":
      return { kind: "failed", error: result.error };
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

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** A key for a message: quoted, cut at 100 characters. */
function showKey(key: Uint8Array): string {
  const text = utf8.decode(key.subarray(0, 100));
  return JSON.stringify(text) + (key.length > 100 ? "..." : "");
}
