/**
 * The pure Raft core (after Ongaro & Ousterhout's paper and dissertation, in
 * the shape of etcd's raft): ticks, messages and proposals go in; Ready
 * bundles come out. No clock, socket, file or Math.random — election jitter
 * comes from `config.random`.
 *
 * Roles are switched by swapping the step and tick functions. Features:
 * pre-vote, check-quorum with a leader lease, log replication with conflict
 * hints and flow control (probe/replicate/snapshot, an inflight window),
 * commitment of current-term entries only with a no-op at the start of each
 * term, leadership transfer, single-server membership changes with voters and
 * learners, and snapshots.
 *
 * Design choices (see also `membership.ts` and `confchange.ts`):
 * - A conf entry takes effect as soon as it is appended to a node's log,
 *   committed or not, and reverts if it is truncated (dissertation §4.1). A
 *   leader accepts a conf change only when an entry of its own term is
 *   committed (the fix of the single-server change bug) and every earlier
 *   conf entry is applied; each change adds or removes at most one voter.
 * - A leader that removes (or demotes) itself keeps leading without counting
 *   itself until the change commits, then tells the followers the commit,
 *   hands off to a caught-up voter with timeoutNow, and steps down.
 * - Leadership transfer: the leader stops accepting proposals, brings the
 *   target up to date, sends it timeoutNow, and gives up after an election
 *   timeout. The target campaigns at once, skipping pre-vote, and its vote
 *   requests carry `transfer` so leader leases do not ignore them.
 * - The leader's own log counts toward commitment once appended; this is safe
 *   because Ready makes the driver persist entries before sending anything,
 *   so no follower can acknowledge an entry the leader has not persisted.
 *
 * Driver contract: call `ready()` only when `hasReady()`, do what the bundle
 * says in the order types.ts gives, then `advance()` it; `tick()`, `step()`
 * and proposals may come in between, but not a second `ready()`.
 */

import { encodeConfChange, refuseConfChange } from "./confchange.ts";
import { Membership } from "./membership.ts";
import { type MessageInit, newMessage } from "./message.ts";
import { Progress } from "./progress.ts";
import { committedIndex, hasQuorum, type VoteResult, voteResult } from "./quorum.ts";
import { RaftLog } from "./raft_log.ts";
import {
  CompactedError,
  type ConfChange,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type RaftConfig,
  type RaftStatus,
  type Ready,
  type Role,
  type SoftState,
} from "./types.ts";

/** Default bound of one append message's entries, in bytes of data. */
export const MESSAGE_BYTES_MAX_DEFAULT = 1024 * 1024;
/** Default bound of append messages in flight to one follower. */
export const INFLIGHT_MAX_DEFAULT = 256;
/** Bound of the committed entries one Ready hands out, in bytes of data (at least one entry). */
export const APPLY_BYTES_MAX = 16 * 1024 * 1024;
/** A leader refuses proposals while this many of its entries are uncommitted. */
export const UNCOMMITTED_ENTRIES_MAX = 4096;

const EMPTY = new Uint8Array(0);

/** One Raft node's protocol state machine. */
export class RaftNode {
  readonly id: NodeId;
  readonly #log: RaftLog;
  readonly #membership: Membership;
  readonly #electionTicks: number;
  readonly #heartbeatTicks: number;
  readonly #random: () => number;
  readonly #preVote: boolean;
  readonly #checkQuorum: boolean;
  readonly #maxMessageBytes: number;
  readonly #maxInflight: number;

  #term = 0;
  #vote: NodeId = "";
  #lead: NodeId = "";
  #role: Role = "follower";
  #stepRole: (m: Message) => void = this.#stepFollower;
  #tickRole: () => void = this.#tickElection;

  /** Ticks since the last valid leader contact (follower) or check-quorum round (leader). */
  #electionElapsed = 0;
  #heartbeatElapsed = 0;
  #randomizedElectionTimeout = 0;
  /** Candidate: votes (or pre-votes) received. */
  #votes = new Map<NodeId, boolean>();
  /** Leader: every member's progress (its own too, when it is a member). */
  #progress = new Map<NodeId, Progress>();
  /** Leader: the node leadership is being transferred to ("" when none). */
  #transferee: NodeId = "";
  /** Leader: the index of its no-op, the first entry of its term. */
  #termStartIndex = 0;

  #messages: Message[] = [];
  #prevSoftState: SoftState = { role: "follower", leader: "" };
  #prevHardState: HardState;
  #outstanding: Ready | undefined;

  constructor(config: RaftConfig) {
    if (config.id === "") throw new RangeError("A Raft node needs a non-empty id");
    if (!Number.isInteger(config.heartbeatTicks) || config.heartbeatTicks < 1) {
      throw new RangeError(
        `heartbeatTicks must be a positive integer, got "${config.heartbeatTicks}"`,
      );
    }
    if (!Number.isInteger(config.electionTicks) || config.electionTicks <= config.heartbeatTicks) {
      throw new RangeError(
        `electionTicks "${config.electionTicks}" must be an integer above heartbeatTicks "${config.heartbeatTicks}"`,
      );
    }
    this.id = config.id;
    this.#electionTicks = config.electionTicks;
    this.#heartbeatTicks = config.heartbeatTicks;
    this.#random = config.random;
    this.#preVote = config.preVote;
    this.#checkQuorum = config.checkQuorum;
    this.#maxMessageBytes = config.maxMessageBytes ?? MESSAGE_BYTES_MAX_DEFAULT;
    this.#maxInflight = config.maxInflight ?? INFLIGHT_MAX_DEFAULT;

    const storage = config.storage;
    const { hardState, conf } = storage.initialState();
    this.#log = new RaftLog(storage);
    const first = this.#log.firstIndex();
    const last = this.#log.lastIndex();
    // `conf` is in effect somewhere in [first - 1, commit]; replaying the
    // log's conf entries on top of it is idempotent (see confchange.ts).
    this.#membership = new Membership(conf, first - 1);
    if (last >= first) this.#membership.observe(storage.entries(first, last + 1, Infinity));
    const snapshotIndex = storage.snapshot().index;
    const committed = Math.max(hardState.commit, snapshotIndex, first - 1);
    this.#log.restoreIndexes(committed, config.applied ?? Math.max(snapshotIndex, first - 1));
    this.#membership.settle(committed);
    this.#term = hardState.term;
    this.#vote = hardState.vote;
    this.#prevHardState = { ...hardState };
    this.#becomeFollower(this.#term, "");
  }

  /** The current term. */
  get term(): number {
    return this.#term;
  }

  /** The current role. */
  get role(): Role {
    return this.#role;
  }

  /** The leader this node knows of ("" when none). */
  get leader(): NodeId {
    return this.#lead;
  }

  /** Advances logical time by one tick: elections and heartbeats are counted in ticks. */
  tick(): void {
    this.#tickRole();
  }

  /** Handles one message from another node. */
  step(m: Message): void {
    if (m.to !== this.id) throw new Error(`A message to "${m.to}" was stepped into "${this.id}"`);
    if (m.term > this.#term) {
      if (m.type === "preVote" || m.type === "vote") {
        const inLease = this.#checkQuorum && this.#lead !== "" &&
          this.#electionElapsed < this.#electionTicks;
        // Dissertation §4.2.3: a node that hears from a leader ignores
        // campaigns unless the leader itself asked for one (transfer).
        if (inLease && !m.transfer) return;
      }
      if (m.type === "preVote") {
        // A pre-vote never changes the voter's term.
      } else if (m.type === "preVoteResponse" && !m.reject) {
        // Granted for the term we would campaign at; it changes when we win.
      } else if (m.type === "append" || m.type === "heartbeat" || m.type === "snapshot") {
        this.#becomeFollower(m.term, m.from);
      } else {
        this.#becomeFollower(m.term, "");
      }
    } else if (m.term < this.#term) {
      if ((this.#checkQuorum || this.#preVote) && (m.type === "append" || m.type === "heartbeat")) {
        // A stale leader (e.g. back from a partition) learns our term from
        // this and steps down; without it, it could go on forever when our
        // term rose only by pre-vote-free campaigns it never saw.
        this.#send({ type: "appendResponse", to: m.from, term: this.#term });
      } else if (m.type === "preVote") {
        this.#send({ type: "preVoteResponse", to: m.from, term: this.#term, reject: true });
      }
      return;
    }
    if (m.type === "preVote" || m.type === "vote") {
      this.#handleVoteRequest(m);
      return;
    }
    this.#stepRole(m);
  }

  /** Starts an election now (with a pre-vote round if configured). */
  campaign(): void {
    this.#hup(false);
  }

  /** Appends `data` to the log if this node is a leader not transferring leadership. */
  propose(data: Uint8Array): boolean {
    if (data.length === 0) throw new RangeError("A proposal needs data (empty entries are no-ops)");
    if (!this.#acceptsProposals()) return false;
    if (this.#log.lastIndex() - this.#log.committed >= UNCOMMITTED_ENTRIES_MAX) return false;
    this.#appendEntries([{ index: 0, term: 0, type: "normal", data }]);
    this.#bcastAppend();
    return true;
  }

  /**
   * Appends a membership change if this node is a leader that may change
   * membership now: not transferring, an entry of its term committed, no
   * earlier change unapplied, and `change` a single-server change.
   */
  proposeConfChange(change: ConfChange): boolean {
    if (!this.#acceptsProposals()) return false;
    if (this.#log.committed < this.#termStartIndex) return false;
    if (this.#membership.index > this.#log.applied) return false;
    if (refuseConfChange(this.#membership.conf, change) !== undefined) return false;
    this.#appendEntries([{ index: 0, term: 0, type: "conf", data: encodeConfChange(change) }]);
    this.#bcastAppend();
    return true;
  }

  /**
   * Leader: hands leadership to voter `to` — once it has the whole log, it is
   * told to campaign at once. Proposals are refused meanwhile; the transfer is
   * abandoned after an election timeout. False when this cannot start.
   */
  transferLeadership(to: NodeId): boolean {
    if (this.#role !== "leader" || to === this.id || !this.#membership.isVoter(to)) return false;
    const progress = this.#progress.get(to);
    if (progress === undefined) return false;
    if (this.#transferee === to) return true;
    this.#transferee = to;
    // The transfer must finish within one election timeout.
    this.#electionElapsed = 0;
    if (progress.match === this.#log.lastIndex()) this.#sendTimeoutNow(to);
    else this.#sendAppend(to, true);
    return true;
  }

  /** Driver: the snapshot sent to `to` was delivered (`ok`) or failed. */
  reportSnapshot(to: NodeId, ok: boolean): void {
    const progress = this.#role === "leader" ? this.#progress.get(to) : undefined;
    if (progress === undefined || progress.state !== "snapshot") return;
    if (!ok) progress.pendingSnapshot = 0;
    progress.becomeProbe();
    // Wait for the follower's answer (or a heartbeat response) before the next append.
    progress.probeSent = true;
  }

  /** Driver: a message to `to` could not be sent; appends in flight are probably lost. */
  reportUnreachable(to: NodeId): void {
    const progress = this.#role === "leader" ? this.#progress.get(to) : undefined;
    if (progress?.state === "replicate") progress.becomeProbe();
  }

  /** True when there is something for the driver to do. */
  hasReady(): boolean {
    if (this.#outstanding) return false;
    return this.#messages.length > 0 || this.#log.hasUnstableEntries() ||
      this.#log.unstableSnapshot !== undefined || this.#log.hasNextCommitted() ||
      !sameSoftState(this.#softState(), this.#prevSoftState) ||
      !sameHardState(this.#hardState(), this.#prevHardState);
  }

  /** What the driver must do now; `advance()` it when done. */
  ready(): Ready {
    if (this.#outstanding) {
      throw new Error("ready() was called before the previous Ready was advanced");
    }
    const softState = this.#softState();
    const hardState = this.#hardState();
    const ready: Ready = {
      softState: sameSoftState(softState, this.#prevSoftState) ? undefined : softState,
      hardState: sameHardState(hardState, this.#prevHardState) ? undefined : hardState,
      snapshot: this.#log.unstableSnapshot,
      entries: this.#log.unstableEntries(),
      committed: this.#log.nextCommitted(APPLY_BYTES_MAX),
      messages: this.#messages,
    };
    this.#messages = [];
    this.#prevSoftState = softState;
    this.#prevHardState = hardState;
    this.#outstanding = ready;
    return ready;
  }

  /** The driver did everything `ready` asked. */
  advance(ready: Ready): void {
    if (ready !== this.#outstanding) {
      throw new Error("advance() got a Ready that is not outstanding");
    }
    this.#outstanding = undefined;
    if (ready.snapshot) {
      this.#log.stableSnapshotTo(ready.snapshot.index);
      this.#log.appliedTo(ready.snapshot.index);
    }
    const lastEntry = ready.entries[ready.entries.length - 1];
    if (lastEntry) this.#log.stableTo(lastEntry.index, lastEntry.term);
    const lastCommitted = ready.committed[ready.committed.length - 1];
    if (lastCommitted) this.#log.appliedTo(lastCommitted.index);
  }

  /** The node's state, for `PYLON INFO` and tests. */
  status(): RaftStatus {
    const match: Record<NodeId, number> = {};
    if (this.#role === "leader") {
      for (const [id, progress] of this.#progress) if (id !== this.id) match[id] = progress.match;
    }
    const conf = this.#membership.conf;
    return {
      id: this.id,
      term: this.#term,
      vote: this.#vote,
      role: this.#role,
      leader: this.#lead,
      commit: this.#log.committed,
      applied: this.#log.applied,
      lastIndex: this.#log.lastIndex(),
      conf: { voters: [...conf.voters], learners: [...conf.learners] },
      match,
    };
  }

  // ---- roles ----

  #reset(term: number): void {
    if (term !== this.#term) {
      this.#term = term;
      this.#vote = "";
    }
    this.#lead = "";
    this.#electionElapsed = 0;
    this.#heartbeatElapsed = 0;
    this.#randomizedElectionTimeout = this.#electionTicks +
      Math.floor(this.#random() * this.#electionTicks);
    this.#transferee = "";
    this.#votes.clear();
    this.#progress.clear();
  }

  #becomeFollower(term: number, lead: NodeId): void {
    this.#reset(term);
    this.#lead = lead;
    this.#role = "follower";
    this.#stepRole = this.#stepFollower;
    this.#tickRole = this.#tickElection;
  }

  #becomePreCandidate(): void {
    if (this.#role === "leader") throw new Error("A leader cannot become a pre-candidate");
    // Neither the term nor the vote changes (dissertation §9.6).
    this.#votes.clear();
    this.#lead = "";
    this.#role = "pre-candidate";
    this.#stepRole = this.#stepCandidate;
    this.#tickRole = this.#tickElection;
  }

  #becomeCandidate(): void {
    if (this.#role === "leader") throw new Error("A leader cannot become a candidate");
    this.#reset(this.#term + 1);
    this.#vote = this.id;
    this.#role = "candidate";
    this.#stepRole = this.#stepCandidate;
    this.#tickRole = this.#tickElection;
  }

  #becomeLeader(): void {
    if (this.#role !== "candidate") throw new Error(`A ${this.#role} cannot become leader`);
    this.#reset(this.#term);
    this.#lead = this.id;
    this.#role = "leader";
    this.#stepRole = this.#stepLeader;
    this.#tickRole = this.#tickHeartbeat;
    // Check-quorum counts followers active once they answer this leader.
    this.#syncProgress(false);
    const self = this.#progress.get(this.id);
    if (self) self.recentActive = true;
    // §8: a no-op of the new term lets the leader commit, and so learn, what
    // earlier terms committed.
    this.#termStartIndex = this.#log.lastIndex() + 1;
    this.#appendEntries([{ index: 0, term: 0, type: "normal", data: EMPTY }]);
    this.#bcastAppend();
  }

  /**
   * A voter may campaign. So may a node whose removal (or demotion) is in
   * its log but not committed: its log may be the only complete one, and the
   * voters of the older membership would wait for its vote forever. It counts
   * votes in the new membership, leaves itself out, and steps down once the
   * change commits.
   */
  #promotable(): boolean {
    if (this.#log.unstableSnapshot !== undefined) return false;
    const membership = this.#membership;
    return membership.isVoter(this.id) ||
      (membership.pending && membership.settled.voters.includes(this.id));
  }

  #acceptsProposals(): boolean {
    return this.#role === "leader" && this.#transferee === "";
  }

  #tickElection(): void {
    this.#electionElapsed++;
    if (this.#promotable() && this.#electionElapsed >= this.#randomizedElectionTimeout) {
      this.#electionElapsed = 0;
      this.#hup(false);
    }
  }

  #tickHeartbeat(): void {
    this.#heartbeatElapsed++;
    this.#electionElapsed++;
    if (this.#electionElapsed >= this.#electionTicks) {
      this.#electionElapsed = 0;
      if (this.#checkQuorum) {
        const active = (id: NodeId) =>
          id === this.id || this.#progress.get(id)?.recentActive === true;
        if (!hasQuorum(this.#membership.conf.voters, active)) {
          this.#becomeFollower(this.#term, "");
          return;
        }
        for (const [id, progress] of this.#progress) {
          if (id !== this.id) progress.recentActive = false;
        }
      }
      // A transfer that did not finish within an election timeout is abandoned.
      this.#transferee = "";
    }
    if (this.#heartbeatElapsed >= this.#heartbeatTicks) {
      this.#heartbeatElapsed = 0;
      this.#bcastHeartbeat();
    }
  }

  #hup(transfer: boolean): void {
    if (this.#role === "leader" || !this.#promotable()) return;
    if (this.#preVote && !transfer) this.#campaign("preVote", false);
    else this.#campaign("vote", transfer);
  }

  #campaign(type: "preVote" | "vote", transfer: boolean): void {
    let term: number;
    if (type === "preVote") {
      this.#becomePreCandidate();
      term = this.#term + 1;
    } else {
      this.#becomeCandidate();
      term = this.#term;
    }
    if (this.#poll(this.id, true) === "won") {
      // A group of one voter.
      if (type === "preVote") this.#campaign("vote", false);
      else this.#becomeLeader();
      return;
    }
    const index = this.#log.lastIndex();
    const logTerm = this.#log.lastTerm();
    for (const voter of this.#membership.conf.voters) {
      if (voter !== this.id) this.#send({ type, to: voter, term, index, logTerm, transfer });
    }
  }

  #poll(id: NodeId, granted: boolean): VoteResult {
    if (!this.#votes.has(id)) this.#votes.set(id, granted);
    return voteResult(this.#membership.conf.voters, this.#votes);
  }

  #handleVoteRequest(m: Message): void {
    const responseType = m.type === "vote" ? "voteResponse" : "preVoteResponse";
    // §5.2: one vote per term, first come first served; a pre-vote for a
    // later term promises nothing.
    const canVote = this.#vote === m.from || (this.#vote === "" && this.#lead === "") ||
      (m.type === "preVote" && m.term > this.#term);
    // §5.4.1: only for a candidate whose log is at least as up to date.
    if (canVote && this.#log.isUpToDate(m.index, m.logTerm)) {
      this.#send({ type: responseType, to: m.from, term: m.term });
      if (m.type === "vote") {
        this.#electionElapsed = 0;
        this.#vote = m.from;
      }
    } else {
      this.#send({ type: responseType, to: m.from, term: this.#term, reject: true });
    }
  }

  #stepFollower(m: Message): void {
    switch (m.type) {
      case "append":
        this.#electionElapsed = 0;
        this.#lead = m.from;
        this.#handleAppend(m);
        return;
      case "heartbeat":
        this.#electionElapsed = 0;
        this.#lead = m.from;
        this.#handleHeartbeat(m);
        return;
      case "snapshot":
        this.#electionElapsed = 0;
        this.#lead = m.from;
        this.#handleSnapshot(m);
        return;
      case "timeoutNow":
        this.#hup(true);
        return;
      default:
        return;
    }
  }

  #stepCandidate(m: Message): void {
    switch (m.type) {
      case "append":
        this.#becomeFollower(m.term, m.from);
        this.#handleAppend(m);
        return;
      case "heartbeat":
        this.#becomeFollower(m.term, m.from);
        this.#handleHeartbeat(m);
        return;
      case "snapshot":
        this.#becomeFollower(m.term, m.from);
        this.#handleSnapshot(m);
        return;
      case "preVoteResponse":
      case "voteResponse": {
        const expected = this.#role === "pre-candidate" ? "preVoteResponse" : "voteResponse";
        if (m.type !== expected) return;
        const result = this.#poll(m.from, !m.reject);
        if (result === "won") {
          if (this.#role === "pre-candidate") this.#campaign("vote", false);
          else this.#becomeLeader();
        } else if (result === "lost") {
          this.#becomeFollower(this.#term, "");
        }
        return;
      }
      default:
        return;
    }
  }

  #stepLeader(m: Message): void {
    const progress = this.#progress.get(m.from);
    if (progress === undefined) return;
    if (m.type === "appendResponse") {
      progress.recentActive = true;
      if (m.reject) this.#handleAppendRejected(m, progress);
      else this.#handleAppendAccepted(m, progress);
    } else if (m.type === "heartbeatResponse") {
      progress.recentActive = true;
      progress.probeSent = false;
      if (progress.state === "replicate" && progress.inflights.full()) {
        progress.inflights.freeFirstOne();
      }
      if (progress.match < this.#log.lastIndex()) this.#sendAppend(m.from, true);
    }
  }

  #handleAppendRejected(m: Message, progress: Progress): void {
    // The follower's hint is its last index with a term at most the probe's;
    // skip back over our entries of later terms too.
    const hint = m.logTerm > 0
      ? this.#log.findConflictByTerm(m.rejectHint, m.logTerm)
      : m.rejectHint;
    if (progress.maybeDecrTo(m.index, hint)) {
      if (progress.state === "replicate") progress.becomeProbe();
      this.#sendAppend(m.from, true);
    }
  }

  #handleAppendAccepted(m: Message, progress: Progress): void {
    const wasPaused = progress.isPaused();
    const updated = progress.maybeUpdate(m.index);
    if (!updated && !(progress.state === "probe" && progress.match === m.index)) return;
    if (progress.state === "probe") {
      progress.becomeReplicate();
    } else if (progress.state === "snapshot" && progress.match >= progress.pendingSnapshot) {
      progress.becomeProbe();
      progress.becomeReplicate();
    } else if (progress.state === "replicate") {
      progress.inflights.freeLE(m.index);
    }
    if (this.#maybeCommit()) {
      if (!this.#afterCommit()) return;
      this.#bcastAppend();
    } else if (wasPaused) {
      this.#sendAppend(m.from, true);
    }
    // Send as much as the flow control now allows.
    while (this.#sendAppend(m.from, false));
    if (m.from === this.#transferee && progress.match === this.#log.lastIndex()) {
      this.#sendTimeoutNow(m.from);
    }
  }

  // ---- follower handling ----

  #handleAppend(m: Message): void {
    const committed = this.#log.committed;
    if (m.index < committed) {
      this.#send({ type: "appendResponse", to: m.from, term: this.#term, index: committed });
      return;
    }
    // §5.3: accept only after the entry preceding the new ones.
    if (this.#log.matchTerm(m.index, m.logTerm)) {
      const lastNew = m.index + m.entries.length;
      const conflict = this.#log.findConflict(m.entries);
      if (conflict !== 0) {
        if (conflict <= committed) {
          throw new Error(
            `Entry "${conflict}" conflicts with the committed log (commit "${committed}")`,
          );
        }
        const fresh = m.entries.slice(conflict - m.index - 1);
        this.#log.append(fresh);
        this.#membership.truncateFrom(conflict);
        this.#membership.observe(fresh);
      }
      this.#commitTo(Math.min(m.commit, lastNew));
      this.#send({ type: "appendResponse", to: m.from, term: this.#term, index: lastNew });
      return;
    }
    const hint = this.#log.findConflictByTerm(Math.min(m.index, this.#log.lastIndex()), m.logTerm);
    this.#send({
      type: "appendResponse",
      to: m.from,
      term: this.#term,
      index: m.index,
      reject: true,
      rejectHint: hint,
      logTerm: this.#log.termOrZero(hint),
    });
  }

  #handleHeartbeat(m: Message): void {
    this.#commitTo(m.commit);
    this.#send({ type: "heartbeatResponse", to: m.from, term: this.#term });
  }

  #handleSnapshot(m: Message): void {
    const snapshot = m.snapshot;
    if (snapshot === undefined) {
      throw new Error(`A snapshot message from "${m.from}" has no snapshot`);
    }
    if (snapshot.index > this.#log.committed) {
      if (this.#log.matchTerm(snapshot.index, snapshot.term)) {
        // §7: the snapshot is a prefix of our log; keep what follows it.
        this.#commitTo(snapshot.index);
      } else {
        // §7: new information; the whole log is superseded.
        this.#log.restore(snapshot);
        this.#membership.restore(snapshot.conf, snapshot.index);
        this.#send({
          type: "appendResponse",
          to: m.from,
          term: this.#term,
          index: this.#log.lastIndex(),
        });
        return;
      }
    }
    this.#send({
      type: "appendResponse",
      to: m.from,
      term: this.#term,
      index: this.#log.committed,
    });
  }

  // ---- leader machinery ----

  #appendEntries(entries: Entry[]): void {
    const last = this.#log.lastIndex();
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      entry.index = last + 1 + i;
      entry.term = this.#term;
    }
    this.#log.append(entries);
    // A new member gets an election timeout before check-quorum counts it out.
    if (this.#membership.observe(entries)) this.#syncProgress(true);
    this.#progress.get(this.id)?.maybeUpdate(this.#log.lastIndex());
    if (this.#maybeCommit()) this.#afterCommit();
  }

  /** §5.3, §5.4.2: commit what a majority has, if it is of the current term. */
  #maybeCommit(): boolean {
    const index = committedIndex(
      this.#membership.conf.voters,
      (id) => this.#progress.get(id)?.match ?? 0,
    );
    if (index <= this.#log.committed || this.#log.term(index) !== this.#term) return false;
    return this.#commitTo(index);
  }

  /** Moves the commit index up; conf entries it covers can no longer revert. */
  #commitTo(index: number): boolean {
    if (!this.#log.commitTo(index)) return false;
    this.#membership.settle(this.#log.committed);
    return true;
  }

  /** After the leader's commit index moved; false when it stepped down. */
  #afterCommit(): boolean {
    if (this.#membership.isVoter(this.id) || this.#membership.pending) return true;
    // Dissertation §4.2.2: the change that removed us is committed. Tell the
    // followers, hand off to a voter that has everything, and step down.
    this.#bcastAppend();
    const last = this.#log.lastIndex();
    for (const voter of this.#membership.conf.voters) {
      if (this.#progress.get(voter)?.match === last) {
        this.#sendTimeoutNow(voter);
        break;
      }
    }
    this.#becomeFollower(this.#term, "");
    return false;
  }

  /** Makes the progress map match the membership (leader); new members count as `active`. */
  #syncProgress(active: boolean): void {
    const conf = this.#membership.conf;
    for (const id of this.#progress.keys()) {
      if (!conf.voters.includes(id) && !conf.learners.includes(id)) this.#progress.delete(id);
    }
    const last = this.#log.lastIndex();
    const sync = (id: NodeId, isLearner: boolean) => {
      const known = this.#progress.get(id);
      if (known) {
        known.isLearner = isLearner;
        return;
      }
      const progress = new Progress(last + 1, { inflightMax: this.#maxInflight, isLearner });
      if (id === this.id) progress.match = last;
      progress.recentActive = active;
      this.#progress.set(id, progress);
    };
    for (const id of conf.voters) sync(id, false);
    for (const id of conf.learners) sync(id, true);
    if (this.#transferee !== "" && !conf.voters.includes(this.#transferee)) this.#transferee = "";
  }

  #bcastAppend(): void {
    for (const id of this.#progress.keys()) if (id !== this.id) this.#sendAppend(id, true);
  }

  #bcastHeartbeat(): void {
    const committed = this.#log.committed;
    for (const [id, progress] of this.#progress) {
      if (id === this.id) continue;
      // A follower may commit only what it is known to hold.
      const commit = Math.min(progress.match, committed);
      this.#send({ type: "heartbeat", to: id, term: this.#term, commit });
    }
  }

  /** Sends entries (or a snapshot) to `to` if its flow control allows; true if something was sent. */
  #sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const progress = this.#progress.get(to);
    if (progress === undefined || progress.isPaused()) return false;
    const prevIndex = progress.next - 1;
    let prevTerm: number;
    let entries: Entry[];
    try {
      prevTerm = this.#log.term(prevIndex);
      entries = this.#log.entriesFrom(progress.next, this.#maxMessageBytes);
    } catch (error) {
      if (error instanceof CompactedError) return this.#sendSnapshot(to, progress);
      throw error;
    }
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.#send({
      type: "append",
      to,
      term: this.#term,
      index: prevIndex,
      logTerm: prevTerm,
      entries,
      commit: this.#log.committed,
    });
    const last = entries[entries.length - 1];
    if (progress.state === "replicate" && last) {
      progress.optimisticUpdate(last.index);
      progress.inflights.add(last.index);
    } else if (progress.state === "probe") {
      progress.probeSent = true;
    }
    return true;
  }

  #sendSnapshot(to: NodeId, progress: Progress): boolean {
    // A follower that does not answer would only make us send it again.
    if (!progress.recentActive) return false;
    const snapshot = this.#log.snapshot();
    if (snapshot.index === 0) throw new Error(`The log is compacted but storage has no snapshot`);
    this.#send({ type: "snapshot", to, term: this.#term, snapshot });
    progress.becomeSnapshot(snapshot.index);
    return true;
  }

  #sendTimeoutNow(to: NodeId): void {
    this.#send({ type: "timeoutNow", to, term: this.#term });
  }

  #send(init: Omit<MessageInit, "from">): void {
    this.#messages.push(newMessage({ ...init, from: this.id }));
  }

  #softState(): SoftState {
    return { role: this.#role, leader: this.#lead };
  }

  #hardState(): HardState {
    return { term: this.#term, vote: this.#vote, commit: this.#log.committed };
  }
}

function sameSoftState(a: SoftState, b: SoftState): boolean {
  return a.role === b.role && a.leader === b.leader;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
