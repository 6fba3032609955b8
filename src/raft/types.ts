/**
 * The vocabulary of Pylon's Raft (after Ongaro & Ousterhout, and etcd's
 * raft): messages, log entries, persistent and volatile state, the Ready
 * bundle the pure core hands its driver, and the read interface of storage.
 *
 * The core (src/raft/raft.ts) never touches a clock, a socket, a file or
 * Math.random: ticks, messages, proposals and a seeded random source come in;
 * Ready bundles come out.
 */

/** A node's id (unique in the group; Pylon uses the node id). */
export type NodeId = string;

/** What an entry carries. */
export type EntryType = "normal" | "conf";

/** One log entry. Index and term start at 1; index 0 / term 0 mean "before the log". */
export interface Entry {
  index: number;
  term: number;
  type: EntryType;
  /** `normal`: application bytes (empty for the leader's no-op); `conf`: an encoded {@linkcode ConfChange}. */
  data: Uint8Array;
}

/** A membership change, one server at a time (Raft dissertation §4.1). */
export interface ConfChange {
  type: "addVoter" | "addLearner" | "removeNode";
  node: NodeId;
}

/** The group's membership. Learners receive the log but neither vote nor count for commitment. */
export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

/** A point-in-time image of the state machine, replacing the log up to `index`. */
export interface Snapshot {
  index: number;
  term: number;
  conf: ConfState;
  data: Uint8Array;
}

/** What must be on stable storage before messages that depend on it are sent. */
export interface HardState {
  term: number;
  /** Who this node voted for in `term` ("" for nobody). */
  vote: NodeId;
  commit: number;
}

/** Roles (pre-candidate is a candidate asking for pre-votes before raising its term). */
export type Role = "follower" | "pre-candidate" | "candidate" | "leader";

/** Volatile state worth reporting; not persisted. */
export interface SoftState {
  role: Role;
  /** The leader this node knows of ("" when none). */
  leader: NodeId;
}

/** Message types between nodes. */
export type MessageType =
  | "preVote"
  | "preVoteResponse"
  | "vote"
  | "voteResponse"
  | "append"
  | "appendResponse"
  | "heartbeat"
  | "heartbeatResponse"
  | "snapshot"
  | "timeoutNow";

/**
 * One message. Field meanings by type:
 * - preVote/vote: `index`/`logTerm` are the candidate's last log index/term;
 *   a preVote carries the term the candidate would campaign at.
 * - append: `index`/`logTerm` identify the entry preceding `entries`;
 *   `commit` is the leader's commit index.
 * - appendResponse: `index` is the follower's last matching index on success;
 *   on `reject`, `rejectHint` is the follower's last index (a conflict hint).
 * - heartbeat: `commit` is min(leader commit, follower's known match).
 * - snapshot: `snapshot` is set.
 * - timeoutNow: the target should campaign at once (leadership transfer).
 */
export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  index: number;
  logTerm: number;
  entries: Entry[];
  commit: number;
  reject: boolean;
  rejectHint: number;
  snapshot: Snapshot | undefined;
  /** A vote asked for because of a leadership transfer (it bypasses the leader lease). */
  transfer: boolean;
}

/**
 * Everything the driver must do, in this order:
 * 1. persist `snapshot` (if any), then `entries` (appending, truncating any
 *    conflicting suffix) and `hardState` (if any) — with fsync;
 * 2. only then send `messages` (they may promise things that must survive a crash);
 * 3. apply `committed` entries to the state machine, in order (they are
 *    already durable on a quorum; applying before step 1 finishes is allowed
 *    for entries that were persisted in an earlier Ready);
 * 4. call `advance(ready)`.
 */
export interface Ready {
  /** Changed since the last Ready (undefined if not). */
  softState: SoftState | undefined;
  /** Changed since the last Ready (undefined if not); persist before sending. */
  hardState: HardState | undefined;
  /** A snapshot received from the leader; persist before the entries. */
  snapshot: Snapshot | undefined;
  /** New entries to append to stable storage; persist before sending. */
  entries: Entry[];
  /** Committed entries not yet applied; apply in order. */
  committed: Entry[];
  /** Outgoing messages; send after persisting. */
  messages: Message[];
}

/** A read of a compacted part of the log. */
export class CompactedError extends Error {
  override name = "CompactedError";
}

/** A read past what storage holds. */
export class UnavailableError extends Error {
  override name = "UnavailableError";
}

/**
 * The core's read view of stable storage (the driver writes it from Ready
 * bundles). Contracts: indexes in (snapshot index, lastIndex()] are readable;
 * reading at or below the snapshot index throws {@linkcode CompactedError}
 * (except `term(snapshot index)`, which returns the snapshot's term); reading
 * past lastIndex throws {@linkcode UnavailableError}. Returned arrays are the
 * caller's to keep; entries must not be mutated by either side.
 */
export interface RaftStorage {
  /** The persisted hard state and membership at startup. */
  initialState(): { hardState: HardState; conf: ConfState };
  /** Entries [lo, hi), at least one if lo < hi, then up to about `maxBytes` of data. */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** The term of entry `index`. */
  term(index: number): number;
  /** Index of the first entry still in the log (snapshot index + 1). */
  firstIndex(): number;
  lastIndex(): number;
  /** The latest snapshot (index 0 if none). */
  snapshot(): Snapshot;
}

/**
 * Storage a driver writes Ready bundles to and that keeps them across
 * restarts: {@linkcode FileStorage} on disk, `MemoryStorage` in one process
 * (simulations, in-memory worlds). Both pass tests/raft/storage/contract.ts.
 */
export interface DurableStorage extends RaftStorage {
  /** Persists a Ready bundle: `snapshot` (resetting the log), then `entries`, then `hardState`. */
  save(
    hardState: HardState | undefined,
    entries: Entry[],
    snapshot: Snapshot | undefined,
  ): Promise<void>;
  /** Records a snapshot of the state machine applied up to `index`, with membership `conf`. */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot | Promise<Snapshot>;
  /** Drops entries up to `index`, which the snapshot must cover. */
  compact(index: number): void | Promise<void>;
  close(): Promise<void>;
}

/** Configuration of a Raft node. */
export interface RaftConfig {
  id: NodeId;
  storage: RaftStorage;
  /** Ticks without hearing from a leader before campaigning; randomized in [n, 2n). */
  electionTicks: number;
  /** Ticks between a leader's heartbeats. */
  heartbeatTicks: number;
  /** A seeded random source in [0, 1): randomized election timeouts come from it. */
  random: () => number;
  /** Ask for pre-votes before raising the term (Raft dissertation §9.6). */
  preVote: boolean;
  /** A leader that has not heard from a quorum for an election timeout steps down. */
  checkQuorum: boolean;
  /** The last entry the state machine applied (on restart). */
  applied?: number;
  /** Bound of one append message's entries, in bytes of data. */
  maxMessageBytes?: number;
  /** Append messages in flight per follower before waiting for responses. */
  maxInflight?: number;
}

/** A node's state, for `PYLON INFO` and tests. */
export interface RaftStatus {
  id: NodeId;
  term: number;
  vote: NodeId;
  role: Role;
  leader: NodeId;
  commit: number;
  applied: number;
  lastIndex: number;
  conf: ConfState;
  /** Leader only: per follower, the highest index known to be replicated. */
  match: Record<NodeId, number>;
}
