/**
 * The async shell around one pure Raft node: ticks it on a clock (the real
 * one, or a simulation's: src/manual_clock.ts), feeds it messages and
 * proposals, and carries out each Ready bundle in order —
 * persist (one fsync), then send (one batch per destination, so heartbeats
 * ride together), then apply committed entries, then advance. Proposals
 * resolve when their entry is applied in the term they were made in, and
 * fail when another entry takes their index.
 */

import { RaftNode } from "./raft.ts";
import { encodeMessages } from "./message_codec.ts";
import type {
  ConfChange,
  ConfState,
  DurableStorage,
  Entry,
  Message,
  NodeId,
  RaftStatus,
  SoftState,
} from "./types.ts";
import { fatal } from "../observe/fatal.ts";
import { failpoint } from "../failpoints.ts";
import { type Clock, realClock } from "../clock.ts";

export type { DurableStorage } from "./types.ts";

/** Options of {@linkcode RaftGroup}. */
export interface RaftGroupOptions {
  /** The group's name on the wire (`world`, `rack:<name>`). */
  group: string;
  id: NodeId;
  storage: DurableStorage;
  /** Sends an encoded batch to a node; false when it cannot be sent now (Raft retries by itself). */
  send: (to: NodeId, batch: Uint8Array) => boolean;
  /** Applies a committed entry that carries data, in log order. */
  apply?: (data: Uint8Array, index: number) => void;
  /** The state machine's snapshot, taken when the log is compacted. */
  snapshot?: () => Uint8Array;
  /** Role or leader changed. */
  onSoftState?: (soft: SoftState, term: number) => void;
  tickMs: number;
  electionTicks: number;
  heartbeatTicks: number;
  random: () => number;
  /** Entries applied since the last compaction before the log is compacted. */
  compactEvery?: number;
  /** Ticks and proposal timeouts (default: the real clock). */
  clock?: Clock;
}

/** A proposal that did not make it (not leader, lost its index, timed out). */
export class ProposalError extends Error {
  override name = "ProposalError";
  /** The leader this node knows of, to retry there ("" if none). */
  readonly leader: NodeId;

  constructor(message: string, leader: NodeId) {
    super(message);
    this.leader = leader;
  }
}

interface Waiting {
  index: number;
  term: number;
  resolve: () => void;
  reject: (error: Error) => void;
  cancelTimeout: () => void;
}

/** One Raft group this node belongs to. */
export class RaftGroup {
  readonly group: string;
  #node: RaftNode;
  #options: RaftGroupOptions;
  #clock: Clock;
  #stopTicking: () => void = () => {};
  /** The Ready loop while it runs. */
  #pumping: Promise<void> | undefined;
  #stopped = false;
  #waiting: Waiting[] = [];
  #applied: number;
  #sinceCompaction = 0;
  #soft: SoftState = { role: "follower", leader: "" };

  constructor(options: RaftGroupOptions) {
    this.group = options.group;
    this.#options = options;
    this.#clock = options.clock ?? realClock;
    const snapshotIndex = options.storage.snapshot().index;
    this.#applied = snapshotIndex;
    this.#node = new RaftNode({
      id: options.id,
      storage: options.storage,
      electionTicks: options.electionTicks,
      heartbeatTicks: options.heartbeatTicks,
      random: options.random,
      preVote: true,
      checkQuorum: true,
      applied: snapshotIndex,
    });
  }

  /** Starts ticking; a group whose only voter is this node campaigns at once. */
  start(): void {
    this.#stopTicking = this.#clock.every(this.#options.tickMs, () => {
      this.#node.tick();
      this.#kick();
    });
    const conf = this.#node.status().conf;
    if (conf.voters.length === 1 && conf.voters[0] === this.#options.id) this.#node.campaign();
    this.#kick();
  }

  /** Stops ticking and fails waiting proposals; the storage stays open (close it after). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopTicking();
    for (const w of this.#waiting.splice(0)) {
      w.cancelTimeout();
      w.reject(new ProposalError("the node is stopping", ""));
    }
    await this.#pumping;
  }

  /** Role and leader as last handed out. */
  get soft(): SoftState {
    return this.#soft;
  }

  status(): RaftStatus {
    return { ...this.#node.status(), applied: this.#applied };
  }

  /**
   * Messages for this group from a peer. A message the core cannot take
   * (one that contradicts the committed log) breaks Raft's invariants: the
   * node stops rather than run on with a log it cannot trust.
   */
  receive(messages: Message[]): void {
    if (this.#stopped) return;
    try {
      for (const m of messages) {
        if (m.to !== this.#options.id) continue;
        failpoint("raft.step");
        this.#node.step(m);
      }
    } catch (error) {
      this.#stopped = true;
      this.#stopTicking();
      fatal(`raft group ${this.group}: a message broke an invariant`, error);
    }
    this.#kick();
  }

  /** Proposes `data`; resolves once it is applied here. */
  propose(data: Uint8Array, timeoutMs: number): Promise<void> {
    return this.#await(() => this.#node.propose(data), timeoutMs);
  }

  /** Proposes a membership change; resolves once it is applied here. */
  proposeConfChange(change: ConfChange, timeoutMs: number): Promise<void> {
    return this.#await(() => this.#node.proposeConfChange(change), timeoutMs);
  }

  /** Leader: hands leadership to `to`. */
  transferLeadership(to: NodeId): boolean {
    const ok = this.#node.transferLeadership(to);
    this.#kick();
    return ok;
  }

  /** Starts an election now. */
  campaign(): void {
    this.#node.campaign();
    this.#kick();
  }

  /** The membership this node sees now. */
  conf(): ConfState {
    return this.#node.status().conf;
  }

  #await(append: () => boolean, timeoutMs: number): Promise<void> {
    if (this.#stopped) return Promise.reject(new ProposalError("the node is stopping", ""));
    if (!append()) {
      const leader = this.#node.status().leader;
      return Promise.reject(
        new ProposalError(
          leader === this.#options.id
            ? "the leader cannot take this proposal now (a transfer or membership change is in progress)"
            : `not the leader of ${this.group}${
              leader === "" ? " (no leader now)" : `; ${leader} is`
            }`,
          leader === this.#options.id ? "" : leader,
        ),
      );
    }
    const { lastIndex, term } = this.#node.status();
    const promise = new Promise<void>((resolve, reject) => {
      const waiting: Waiting = {
        index: lastIndex,
        term,
        resolve,
        reject,
        cancelTimeout: this.#clock.after(timeoutMs, () => {
          this.#waiting = this.#waiting.filter((w) => w !== waiting);
          reject(new ProposalError(`no commit within ${timeoutMs} ms`, this.#node.status().leader));
        }),
      };
      this.#waiting.push(waiting);
    });
    this.#kick();
    return promise;
  }

  #kick(): void {
    if (this.#pumping !== undefined || this.#stopped) return;
    this.#pumping = this.#pump().finally(() => {
      this.#pumping = undefined;
      // Work that came in after the loop's last check.
      if (this.#node.hasReady()) this.#kick();
    });
  }

  /** Carries out Ready bundles until there is nothing left to do. */
  async #pump(): Promise<void> {
    try {
      while (!this.#stopped && this.#node.hasReady()) {
        const ready = this.#node.ready();
        // 1. Persist: nothing below may be sent or applied before this is durable.
        failpoint("raft.save");
        await this.#options.storage.save(ready.hardState, ready.entries, ready.snapshot);
        // 2. Send, one batch per destination.
        this.#send(ready.messages);
        // 3. Apply.
        if (ready.snapshot !== undefined) {
          this.#applied = Math.max(this.#applied, ready.snapshot.index);
        }
        for (const entry of ready.committed) this.#apply(entry);
        if (ready.softState !== undefined) {
          const changed = ready.softState.role !== this.#soft.role ||
            ready.softState.leader !== this.#soft.leader;
          this.#soft = ready.softState;
          if (changed) this.#options.onSoftState?.(ready.softState, this.#node.status().term);
        }
        // 4. Done.
        this.#node.advance(ready);
        await this.#maybeCompact();
      }
    } catch (error) {
      // A storage failure leaves the log's state unknown: stop the node; the restart reads the WAL.
      this.#stopped = true;
      this.#stopTicking();
      fatal(`raft group ${this.group}`, error);
    }
  }

  #send(messages: Message[]): void {
    const byNode = new Map<NodeId, Message[]>();
    for (const m of messages) {
      const list = byNode.get(m.to);
      if (list === undefined) byNode.set(m.to, [m]);
      else list.push(m);
    }
    for (const [to, batch] of byNode) {
      const sent = this.#options.send(to, encodeMessages(this.group, batch));
      if (!sent) this.#node.reportUnreachable(to);
      for (const m of batch) if (m.type === "snapshot") this.#node.reportSnapshot(to, sent);
    }
  }

  #apply(entry: Entry): void {
    this.#applied = entry.index;
    this.#sinceCompaction++;
    if (entry.type === "normal" && entry.data.length > 0) {
      // A throw here reaches the pump, which stops the node: skipping an entry would let the
      // replicated state drift from the other nodes'.
      this.#options.apply?.(entry.data, entry.index);
    }
    const still: Waiting[] = [];
    for (const w of this.#waiting) {
      if (w.index > entry.index) {
        still.push(w);
        continue;
      }
      w.cancelTimeout();
      if (w.index === entry.index && w.term === entry.term) w.resolve();
      else {w.reject(
          new ProposalError("leadership changed before the proposal committed", this.#soft.leader),
        );}
    }
    this.#waiting = still;
  }

  /** Compacts the log once enough is applied and no membership change is in flight. */
  async #maybeCompact(): Promise<void> {
    const every = this.#options.compactEvery ?? 10_000;
    if (this.#sinceCompaction < every) return;
    const status = this.#node.status();
    // Everything applied: the membership in force is the one at `applied`.
    if (status.lastIndex !== this.#applied) return;
    this.#sinceCompaction = 0;
    const data = this.#options.snapshot?.() ?? new Uint8Array(0);
    await this.#options.storage.createSnapshot(this.#applied, status.conf, data);
    await this.#options.storage.compact(Math.max(0, this.#applied - 100));
  }
}
