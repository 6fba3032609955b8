/**
 * One Raft node under a microscope: a core over a MemoryStorage whose log and
 * hard state a test sets up, messages stepped in by hand, and every Ready
 * done by the book (persist, then collect the messages, then apply).
 */

import { MemoryStorage } from "../../src/raft/memory_storage.ts";
import { describeMessage, type MessageInit, newMessage } from "../../src/raft/message.ts";
import { RaftNode } from "../../src/raft/raft.ts";
import type { Entry, Message, NodeId, RaftConfig, Ready } from "../../src/raft/types.ts";

/** How to set a node up. */
export interface Setup {
  /** Default "n1". */
  id?: NodeId;
  /** Default n1, n2, n3. */
  voters?: NodeId[];
  learners?: NodeId[];
  /** Terms of the stored entries 1, 2, ... */
  log?: number[];
  term?: number;
  vote?: NodeId;
  commit?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  electionTicks?: number;
  heartbeatTicks?: number;
  /** Election jitter; default 0 (timeouts are exactly electionTicks). */
  random?: () => number;
  maxInflight?: number;
  maxMessageBytes?: number;
}

/** Entry `index` of `term`, with one byte of data (so it is not a no-op). */
export function entry(index: number, term: number): Entry {
  return { index, term, type: "normal", data: new Uint8Array([index & 0xff]) };
}

/** Entries with `terms`, the first at index `from`. */
export function entries(from: number, terms: number[]): Entry[] {
  return terms.map((term, i) => entry(from + i, term));
}

/** A node, its disk, and what it sent and applied. */
export class Harness {
  readonly raft: RaftNode;
  readonly storage: MemoryStorage;
  readonly id: NodeId;
  /** Every Ready done, in order. */
  readonly readies: Ready[] = [];
  /** Committed entries applied so far. */
  readonly applied: Entry[] = [];

  constructor(setup: Setup = {}, storage?: MemoryStorage) {
    this.id = setup.id ?? "n1";
    if (storage) {
      this.storage = storage;
    } else {
      this.storage = new MemoryStorage({
        voters: setup.voters ?? ["n1", "n2", "n3"],
        learners: setup.learners ?? [],
      });
      this.storage.append(entries(1, setup.log ?? []));
      this.storage.setHardState({
        term: setup.term ?? 0,
        vote: setup.vote ?? "",
        commit: setup.commit ?? 0,
      });
    }
    const config: RaftConfig = {
      id: this.id,
      storage: this.storage,
      electionTicks: setup.electionTicks ?? 10,
      heartbeatTicks: setup.heartbeatTicks ?? 1,
      random: setup.random ?? (() => 0),
      preVote: setup.preVote ?? false,
      checkQuorum: setup.checkQuorum ?? false,
    };
    if (setup.maxInflight !== undefined) config.maxInflight = setup.maxInflight;
    if (setup.maxMessageBytes !== undefined) config.maxMessageBytes = setup.maxMessageBytes;
    this.raft = new RaftNode(config);
  }

  /** A node that has just won the election of the term after `setup.term` (votes from n2). */
  static leader(setup: Setup = {}): Harness {
    const harness = new Harness(setup);
    harness.raft.campaign();
    if (harness.raft.role === "pre-candidate") {
      harness.step({ type: "preVoteResponse", from: "n2", term: harness.raft.term + 1 });
    }
    harness.step({ type: "voteResponse", from: "n2", term: harness.raft.term });
    if (harness.raft.role !== "leader") throw new Error("The harness leader did not win");
    harness.drain();
    return harness;
  }

  /** Steps a message to this node (`to` is filled in). */
  step(init: Omit<MessageInit, "to">): void {
    this.raft.step(newMessage({ ...init, to: this.id }));
  }

  /** Does every pending Ready; returns the messages they sent. */
  drain(): Message[] {
    const sent: Message[] = [];
    while (this.raft.hasReady()) {
      const ready = this.raft.ready();
      this.readies.push(ready);
      if (ready.snapshot) this.storage.applySnapshot(ready.snapshot);
      this.storage.append(ready.entries);
      if (ready.hardState) this.storage.setHardState(ready.hardState);
      sent.push(...ready.messages);
      this.applied.push(...ready.committed);
      this.raft.advance(ready);
    }
    return sent;
  }

  /** `drain()`, described one line per message. */
  sent(): string[] {
    return this.drain().map(describeMessage);
  }

  /** Ticks `count` times, then `sent()`. */
  tick(count = 1): string[] {
    for (let i = 0; i < count; i++) this.raft.tick();
    return this.sent();
  }

  /** The terms of the stored log, from index 1 (compacted entries as 0). */
  storedTerms(): number[] {
    const terms: number[] = [];
    for (let index = 1; index <= this.storage.lastIndex(); index++) {
      terms.push(index < this.storage.firstIndex() ? 0 : this.storage.term(index));
    }
    return terms;
  }
}
