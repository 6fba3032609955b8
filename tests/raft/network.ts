/**
 * A small in-test network of Raft nodes: each node has a MemoryStorage as its
 * disk (initial members bootstrapped with conf entries 1..n of term 1) and a
 * list of applied entries; messages wait in one FIFO queue until
 * `stabilize()` delivers them; links can be cut (both ways or one way) and
 * nodes isolated, crashed and restarted. `stabilize()` returns a transcript,
 * one line per message, for readable assertions.
 */

import { decodeConfChange } from "../../src/raft/confchange.ts";
import { MemoryStorage } from "../../src/raft/memory_storage.ts";
import { describeMessage } from "../../src/raft/message.ts";
import { SeededRandom } from "../../src/random.ts";
import { RaftNode } from "../../src/raft/raft.ts";
import type { ConfState, Entry, Message, NodeId, RaftConfig } from "../../src/raft/types.ts";

/** Options of every node in a {@linkcode Network}. */
export interface NetworkOptions {
  preVote?: boolean;
  checkQuorum?: boolean;
  electionTicks?: number;
  heartbeatTicks?: number;
  maxInflight?: number;
  maxMessageBytes?: number;
  /** Election jitter per node; default a random source seeded by the node's id. */
  random?: (id: NodeId) => () => number;
}

/** One node: its core, its disk and what it applied. */
export interface TestNode {
  id: NodeId;
  raft: RaftNode;
  storage: MemoryStorage;
  /** Normal entries applied, as text ("" for no-ops); conf entries as "conf <type> <node>". */
  applied: string[];
  down: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Text for an applied entry. */
export function entryText(entry: Entry): string {
  if (entry.type === "conf") {
    const change = decodeConfChange(entry.data);
    return `conf ${change.type} ${change.node}`;
  }
  return decoder.decode(entry.data);
}

/** A set of nodes joined by a message queue the test drives. */
export class Network {
  readonly nodes = new Map<NodeId, TestNode>();
  readonly #options: NetworkOptions;
  #queue: Message[] = [];
  #cut = new Set<string>();

  /** Nodes `voters` (and `learners`), the initial members of a new group. */
  constructor(voters: NodeId[], options: NetworkOptions & { learners?: NodeId[] } = {}) {
    this.#options = options;
    const conf = { voters, learners: options.learners ?? [] };
    for (const id of [...conf.voters, ...conf.learners]) this.addNode(id, conf);
  }

  /** Adds a node: an initial member of `conf`, or (no `conf`) an empty node that joins later. */
  addNode(id: NodeId, conf?: ConfState): TestNode {
    const storage = conf ? MemoryStorage.bootstrap(conf) : new MemoryStorage();
    const node: TestNode = {
      id,
      raft: this.#start(id, storage),
      storage,
      applied: [],
      down: false,
    };
    this.nodes.set(id, node);
    return node;
  }

  /** The node `id`. */
  node(id: NodeId): TestNode {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`No node "${id}"`);
    return node;
  }

  /** The core of node `id`. */
  raft(id: NodeId): RaftNode {
    return this.node(id).raft;
  }

  /** The nodes that believe they lead. */
  leaders(): NodeId[] {
    return [...this.nodes.values()].filter((n) => !n.down && n.raft.role === "leader").map((n) =>
      n.id
    );
  }

  /** Ticks `id` `count` times, collecting what it sends. */
  tick(id: NodeId, count = 1): void {
    for (let i = 0; i < count; i++) {
      this.raft(id).tick();
      this.#collect(this.node(id));
    }
  }

  /** Ticks every running node `count` times (messages wait for `stabilize()`). */
  tickAll(count = 1): void {
    for (let i = 0; i < count; i++) {
      for (const node of this.nodes.values()) if (!node.down) this.tick(node.id);
    }
  }

  /** Lets `count` ticks pass on `ids` (default: every running node), delivering everything after each. */
  run(count: number, ids?: NodeId[]): void {
    for (let i = 0; i < count; i++) {
      for (const node of this.nodes.values()) {
        if (!node.down && (ids === undefined || ids.includes(node.id))) this.tick(node.id);
      }
      this.stabilize();
    }
  }

  /** Makes `id` campaign now. */
  campaign(id: NodeId): void {
    this.raft(id).campaign();
    this.#collect(this.node(id));
  }

  /** Proposes `text` at `id`. */
  propose(id: NodeId, text: string): boolean {
    const ok = this.raft(id).propose(encoder.encode(text));
    this.#collect(this.node(id));
    return ok;
  }

  /** Runs `action` on the core of `id`, then collects what it sends. */
  act<T>(id: NodeId, action: (raft: RaftNode) => T): T {
    const result = action(this.raft(id));
    this.#collect(this.node(id));
    return result;
  }

  /** Drops messages from `from` to `to`. */
  cutOneWay(from: NodeId, to: NodeId): void {
    this.#cut.add(`${from}>${to}`);
  }

  /** Drops messages between `a` and `b`. */
  cut(a: NodeId, b: NodeId): void {
    this.cutOneWay(a, b);
    this.cutOneWay(b, a);
  }

  /** Cuts every link of `id`. */
  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) if (other !== id) this.cut(id, other);
  }

  /** Restores every link. */
  heal(): void {
    this.#cut.clear();
  }

  /** Stops `id`: it keeps only its disk. */
  crash(id: NodeId): void {
    this.node(id).down = true;
  }

  /** Restarts `id` from its disk (its applied list restarts from the snapshot). */
  restart(id: NodeId): void {
    const node = this.node(id);
    node.raft = this.#start(id, node.storage);
    const snapshot = node.storage.snapshot();
    node.applied = snapshot.index > 0 ? [`snapshot ${decoder.decode(snapshot.data)}`] : [];
    node.down = false;
  }

  /** Drops every queued message. */
  dropAll(): void {
    this.#queue = [];
  }

  /** Takes a snapshot of `id` at its applied index and compacts its log up to there. */
  compact(id: NodeId, data = "snapshot"): void {
    const node = this.node(id);
    const status = node.raft.status();
    node.storage.createSnapshot(status.applied, status.conf, encoder.encode(data));
    node.storage.compact(status.applied);
  }

  /** Delivers messages until none are left; returns one line per message. */
  stabilize(): string[] {
    const lines: string[] = [];
    for (const node of this.nodes.values()) if (!node.down) this.#collect(node);
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      for (const m of batch) lines.push(this.#deliver(m));
    }
    return lines;
  }

  #deliver(m: Message): string {
    const line = describeMessage(m);
    const target = this.nodes.get(m.to);
    const ok = target !== undefined && !target.down && !this.#cut.has(`${m.from}>${m.to}`);
    if (m.type === "snapshot") {
      const sender = this.nodes.get(m.from);
      if (sender && !sender.down) {
        sender.raft.reportSnapshot(m.to, ok);
        this.#collect(sender);
      }
    }
    if (!ok) return `${line} (dropped)`;
    target.raft.step(m);
    this.#collect(target);
    return line;
  }

  #collect(node: TestNode): void {
    while (node.raft.hasReady()) {
      const ready = node.raft.ready();
      if (ready.snapshot) {
        node.storage.applySnapshot(ready.snapshot);
        node.applied = [`snapshot ${decoder.decode(ready.snapshot.data)}`];
      }
      node.storage.append(ready.entries);
      if (ready.hardState) node.storage.setHardState(ready.hardState);
      for (const m of ready.messages) this.#queue.push(m);
      for (const entry of ready.committed) node.applied.push(entryText(entry));
      node.raft.advance(ready);
    }
  }

  #start(id: NodeId, storage: MemoryStorage): RaftNode {
    const options = this.#options;
    const config: RaftConfig = {
      id,
      storage,
      electionTicks: options.electionTicks ?? 10,
      heartbeatTicks: options.heartbeatTicks ?? 1,
      random: options.random?.(id) ?? seededBy(id),
      preVote: options.preVote ?? false,
      checkQuorum: options.checkQuorum ?? false,
    };
    if (options.maxInflight !== undefined) config.maxInflight = options.maxInflight;
    if (options.maxMessageBytes !== undefined) config.maxMessageBytes = options.maxMessageBytes;
    return new RaftNode(config);
  }
}

function seededBy(id: NodeId): () => number {
  let seed = 0;
  for (let i = 0; i < id.length; i++) seed = Math.imul(seed ^ id.charCodeAt(i), 16777619) >>> 0;
  const random = new SeededRandom(seed);
  return () => random.next();
}
