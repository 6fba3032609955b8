/**
 * Deterministic simulation of a Raft group: many nodes in one process, a
 * simulated clock and network, every choice drawn from one seeded random
 * source — so a seed replays exactly.
 *
 * A scenario draws its shape from the seed (group size, how it was started,
 * pre-vote and check-quorum, flow-control bounds, fault rates; three in ten
 * are "churn": many short crashes and partitions), runs a fault phase, then a
 * calm phase. Time advances in units; in each unit crashed nodes may restart,
 * Readies left in progress are finished, faults are injected, clients
 * propose, every running node ticks (a few clocks skip or double a tick), and
 * the messages due are delivered in a random order. Every tick, delivery and
 * fault is one step; after each, the driver work it caused is done and the
 * safety properties are checked (see checker.ts).
 *
 * The driver is the one types.ts describes, with two twists: some Readies
 * stay in progress for a unit or two while the node keeps stepping messages
 * (a driver with asynchronous fsync), and a node may crash before persisting
 * a Ready, in the middle of appending its entries (a torn write keeps a
 * prefix), or after persisting it but before sending its messages. A node
 * restarts from what it persisted.
 *
 * Faults: message loss, duplication, delay and reordering; partitions
 * (split, isolated node, one-way links); crashes and restarts; membership
 * changes (learners added, promoted, demoted, removed; voters added and
 * removed, the leader included; a node whose removal is applied is shut down
 * for good); leadership transfers; snapshots and compaction.
 *
 * The calm phase heals the network and restarts every node; a leader must
 * then get a proposal applied by every member, and the group must never go
 * {@linkcode CALM_STALL_UNITS_MAX} units without progress.
 */

import { SeededRandom } from "../../random.ts";
import { applyConfChange, copyConf, decodeConfChange } from "../confchange.ts";
import { MemoryStorage } from "../memory_storage.ts";
import { describeMessage } from "../message.ts";
import { RaftNode } from "../raft.ts";
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  NodeId,
  Ready,
  Snapshot,
} from "../types.ts";
import { SafetyChecker, SafetyViolation } from "./checker.ts";

/** Hooks for planting bugs (tests of the checker) and for tracing. */
export interface ScenarioOptions {
  /** Rewrites each message a node sends. */
  mutateMessage?: (m: Message) => Message;
  /** Makes an empty disk whose membership before its first entry is `initialConf`. */
  newStorage?: (initialConf: ConfState) => MemoryStorage;
  /** Keep the last this many trace lines for the failure report (0: none). */
  traceLines?: number;
}

/** What a scenario injected. */
export interface FaultCounts {
  dropped: number;
  duplicated: number;
  partitions: number;
  crashes: number;
  tornWrites: number;
  restarts: number;
  confChanges: number;
  transfers: number;
  compactions: number;
  snapshotsSent: number;
}

/** What the faults made the protocol do (coverage, not faults). */
export interface EventCounts {
  /** Snapshots followers installed. */
  installs: number;
  /** Conflicting suffixes followers truncated. */
  truncations: number;
  /** Conf changes that removed or demoted the leader proposing them. */
  selfRemovals: number;
}

/** Where and why a scenario failed. */
export interface ScenarioFailure {
  step: number;
  unit: number;
  message: string;
  trace: string[];
}

/** The outcome of one scenario. */
export interface ScenarioReport {
  seed: number;
  /** The scenario's shape, drawn from the seed. */
  shape: string;
  steps: number;
  units: number;
  /** Times a node became leader. */
  elections: number;
  /** Entries committed (the highest commit index reached). */
  commits: number;
  faults: FaultCounts;
  events: EventCounts;
  failure: ScenarioFailure | undefined;
}

/**
 * Calm units in which no node's log grows and nothing is applied before the
 * group counts as stalled (liveness, not throughput: with tiny flow-control
 * bounds, a follower catching up on a long tail of earlier-term entries
 * commits nothing for a long time, but its log grows).
 */
export const CALM_STALL_UNITS_MAX = 300;
/** Time units the calm phase may take at most to apply a proposal on every member. */
export const CALM_UNITS_MAX = 5000;
/** Units between probe proposals in the calm phase. */
const PROBE_INTERVAL_UNITS = 40;
/** Voters at most (membership changes keep to it). */
const VOTERS_MAX = 5;
/** Nodes a scenario may add beyond its initial ones. */
const ADDED_NODES_MAX = 4;

interface Shape {
  voters: number;
  learners: number;
  preVote: boolean;
  checkQuorum: boolean;
  electionTicks: number;
  heartbeatTicks: number;
  maxInflight: number;
  maxMessageBytes: number;
  faultUnits: number;
  drop: number;
  duplicate: number;
  delayMax: number;
  crash: number;
  crashInReady: number;
  /** Founders' logs begin with conf entries (else every disk starts with the initial membership). */
  bootstrapEntries: boolean;
  /** A crashed node restarts within this many units. */
  downUnitsMax: number;
  /** A partition heals within this many units. */
  partitionUnitsMax: number;
  /** Chance that a Ready is done a unit or two after it is taken. */
  slowReady: number;
  partition: number;
  confChange: number;
  transfer: number;
  compact: number;
  propose: number;
}

interface SimNode {
  id: NodeId;
  storage: MemoryStorage;
  /** Undefined while the node is down. */
  raft: RaftNode | undefined;
  random: SeededRandom;
  /** The state machine: last applied index, a digest of everything applied, membership. */
  applied: number;
  digest: number;
  conf: ConfState;
  probes: Set<string>;
  retired: boolean;
  restartAt: number;
  /** A Ready taken but not yet done (a slow fsync), and the unit it will be. */
  readyInProgress: Ready | undefined;
  /** The node's term when it was handed its latest Ready. */
  readyTerm: number;
  readyDoneAt: number;
}

interface Flight {
  at: number;
  order: number;
  m: Message;
  /** Lost on the way: it is not delivered, but the sender's transport may notice at `at`. */
  lost: boolean;
}

type CrashPoint = "before persisting" | "torn append" | "before sending";

const encoder = new TextEncoder();

/** A failed scenario's report for people: what broke, where, and how to replay it. */
export function describeFailure(report: ScenarioReport): string[] {
  const failure = report.failure;
  if (failure === undefined) return [];
  return [
    `FAILED seed=${report.seed} step=${failure.step} unit=${failure.unit}: ${failure.message}`,
    `shape ${report.shape}`,
    ...failure.trace.map((line) => `  ${line}`),
    `replay with PYLON_SEED=${report.seed} deno task sim`,
  ];
}

/** Runs the scenario of `seed`; never throws — a failure is in the report. */
export function runScenario(seed: number, options: ScenarioOptions = {}): ScenarioReport {
  return new Simulation(seed, options).run();
}

class Simulation {
  readonly #seed: number;
  readonly #rng: SeededRandom;
  readonly #shape: Shape;
  /** The shape as drawn (the calm phase changes some of it). */
  readonly #shapeText: string;
  readonly #options: ScenarioOptions;
  readonly #checker = new SafetyChecker();
  readonly #nodes = new Map<NodeId, SimNode>();
  #flights: Flight[] = [];
  #cut = new Set<string>();
  #healAt = Infinity;
  #unit = 0;
  #steps = 0;
  #elections = 0;
  #proposals = 0;
  #added = 0;
  #calm = false;
  #toRetire: NodeId[] = [];
  #initialConf: ConfState = { voters: [], learners: [] };
  #freshLeader: SimNode | undefined;
  #trace: string[] = [];
  readonly #faults: FaultCounts = {
    dropped: 0,
    duplicated: 0,
    partitions: 0,
    crashes: 0,
    tornWrites: 0,
    restarts: 0,
    confChanges: 0,
    transfers: 0,
    compactions: 0,
    snapshotsSent: 0,
  };

  readonly #events: EventCounts = { installs: 0, truncations: 0, selfRemovals: 0 };

  constructor(seed: number, options: ScenarioOptions) {
    this.#seed = seed;
    this.#rng = new SeededRandom(seed);
    this.#options = options;
    this.#shape = drawShape(this.#rng);
    this.#shapeText = describeShape(this.#shape);
  }

  run(): ScenarioReport {
    let failure: ScenarioFailure | undefined;
    try {
      const voters = range(this.#shape.voters, (i) => `n${i + 1}`);
      const learners = range(this.#shape.learners, (i) => `n${this.#shape.voters + i + 1}`);
      this.#initialConf = { voters, learners };
      for (const id of [...voters, ...learners]) this.#addNode(id, true);

      for (let u = 0; u < this.#shape.faultUnits; u++) this.#runUnit();
      this.#calmDown();
    } catch (error) {
      // An assertion of the core (or of storage) failing is as much a bug as
      // a broken property.
      const message = error instanceof SafetyViolation
        ? error.message
        : error instanceof Error
        ? `threw ${error.name}: ${error.message}\n${error.stack ?? ""}`
        : `threw ${String(error)}`;
      failure = { step: this.#steps, unit: this.#unit, message, trace: this.#trace };
    }
    return {
      seed: this.#seed,
      shape: this.#shapeText,
      steps: this.#steps,
      units: this.#unit,
      elections: this.#elections,
      commits: this.#checker.committedMax,
      faults: this.#faults,
      events: this.#events,
      failure,
    };
  }

  // ---- time ----

  #runUnit(): void {
    this.#unit++;
    for (const node of this.#nodes.values()) {
      if (!node.raft && !node.retired && node.restartAt <= this.#unit) {
        this.#restart(node);
        this.#faults.restarts++;
        this.#stepDone(`restart ${node.id}`);
      }
    }
    if (this.#healAt <= this.#unit) {
      this.#cut.clear();
      this.#healAt = Infinity;
      this.#stepDone("heal");
    }
    this.#finishSlowReadies();
    if (!this.#calm) this.#injectFaults();
    if (this.#rng.chance(this.#shape.compact)) this.#compact();
    // Clients stop in the calm phase: only its probes are proposed.
    if (!this.#calm && this.#rng.chance(this.#shape.propose)) this.#propose();
    this.#tickAll();
    this.#deliverDue();
  }

  #tickAll(): void {
    const nodes = [...this.#nodes.values()];
    const start = this.#rng.int(0, nodes.length - 1);
    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[(start + i) % nodes.length]!;
      // A few clocks run slow or fast.
      const skew = this.#rng.next();
      const ticks = skew < 0.02 ? 0 : skew < 0.04 ? 2 : 1;
      for (let t = 0; t < ticks; t++) {
        if (!node.raft) break;
        node.raft.tick();
        this.#process(node);
        this.#stepDone(`tick ${node.id}`);
      }
    }
  }

  #deliverDue(): void {
    const due: Flight[] = [];
    const later: Flight[] = [];
    for (const flight of this.#flights) (flight.at <= this.#unit ? due : later).push(flight);
    if (due.length === 0) return;
    this.#flights = later;
    due.sort((a, b) => a.at - b.at || a.order - b.order);
    for (const flight of due) this.#deliver(flight.m, flight.lost);
  }

  #deliver(m: Message, lost: boolean): void {
    const target = this.#nodes.get(m.to);
    const reachable = !lost && target?.raft !== undefined && !this.#cut.has(`${m.from}>${m.to}`);
    const sender = this.#nodes.get(m.from);
    if (m.type === "snapshot" && sender?.raft) {
      // The transport reports how a snapshot went.
      sender.raft.reportSnapshot(m.to, reachable);
      this.#process(sender);
    } else if (!reachable && sender?.raft && this.#rng.chance(0.3)) {
      sender.raft.reportUnreachable(m.to);
      this.#process(sender);
    }
    if (!reachable || !target?.raft) {
      this.#stepDone(`lost ${this.#traceOn() ? describeMessage(m) : ""}`);
      return;
    }
    target.raft.step(m);
    this.#process(target);
    this.#stepDone(this.#traceOn() ? describeMessage(m) : "");
  }

  #stepDone(what: string): void {
    this.#steps++;
    if (this.#traceOn()) this.#note(what);
    for (const id of this.#toRetire) this.#retire(id);
    this.#toRetire.length = 0;
    for (const node of this.#nodes.values()) {
      const raft = node.raft;
      if (raft?.role !== "leader") continue;
      // A leader counts once its own vote is durable: a group of one voter
      // wins in memory at once, and a crash before the Ready that persists
      // the vote erases that win (nothing of it was sent or applied).
      const stored = node.storage.hardState();
      if (stored.term === raft.term && stored.vote === node.id) {
        this.#checker.leader(raft.term, node.id);
      }
    }
  }

  // ---- the driver: Ready bundles ----

  /**
   * Does the node's Ready bundles. Some are done at once; others (as a
   * driver with asynchronous fsync would) are left in progress for a unit or
   * two while the node keeps taking ticks and messages.
   */
  #process(node: SimNode): void {
    const raft = node.raft;
    if (!raft) return;
    while (node.readyInProgress === undefined && raft.hasReady()) {
      const ready = raft.ready();
      node.readyTerm = raft.term;
      if (this.#rng.chance(this.#shape.slowReady)) {
        node.readyInProgress = ready;
        node.readyDoneAt = this.#unit + this.#rng.int(1, 2);
        return;
      }
      if (!this.#finish(node, raft, ready)) return;
    }
  }

  /** Finishes the Ready in progress of every node whose time has come. */
  #finishSlowReadies(): void {
    for (const node of this.#nodes.values()) {
      const ready = node.readyInProgress;
      if (ready === undefined || !node.raft || node.readyDoneAt > this.#unit) continue;
      node.readyInProgress = undefined;
      if (this.#finish(node, node.raft, ready)) this.#process(node);
      this.#stepDone(`ready done ${node.id}`);
    }
  }

  /** Persists, sends, applies and advances `ready`, unless the node crashes on the way (false). */
  #finish(node: SimNode, raft: RaftNode, ready: Ready): boolean {
    const crash = this.#crashPoint();
    if (crash === "before persisting") return this.#crash(node, crash);
    if (ready.snapshot) {
      this.#checker.snapshotTerm(node.id, ready.snapshot.index, ready.snapshot.term);
      node.storage.applySnapshot(ready.snapshot);
      this.#events.installs++;
    }
    if (crash === "torn append") {
      this.#persistEntries(node, ready.entries.slice(0, this.#rng.int(0, ready.entries.length)));
      this.#faults.tornWrites++;
      return this.#crash(node, crash);
    }
    this.#persistEntries(node, ready.entries);
    if (ready.hardState) this.#persistHardState(node, ready.hardState);
    if (crash === "before sending") return this.#crash(node, crash);
    if (ready.softState?.role === "leader") this.#becameLeader(node, node.readyTerm);
    for (const m of ready.messages) this.#send(m);
    if (ready.snapshot) this.#restoreState(node, ready.snapshot);
    for (const entry of ready.committed) this.#apply(node, entry);
    raft.advance(ready);
    return true;
  }

  #crashPoint(): CrashPoint | undefined {
    if (this.#calm || !this.#rng.chance(this.#shape.crashInReady)) return undefined;
    return this.#rng.pick<CrashPoint>(["before persisting", "torn append", "before sending"]);
  }

  /** Writes `entries`, then checks what the disk holds for them (log matching). */
  #persistEntries(node: SimNode, entries: readonly Entry[]): void {
    const storage = node.storage;
    const first = entries[0];
    const last = entries[entries.length - 1];
    if (first === undefined || last === undefined) return;
    if (
      first.index <= storage.lastIndex() && first.index >= storage.firstIndex() &&
      storage.term(first.index) !== first.term
    ) this.#events.truncations++;
    storage.append(entries);
    const lo = Math.max(first.index, storage.firstIndex());
    const hi = Math.min(last.index, storage.lastIndex());
    if (lo > hi) return;
    let prevTerm = storage.term(lo - 1);
    for (const entry of storage.entries(lo, hi + 1, Infinity)) {
      this.#checker.persisted(node.id, entry.index, entry.term, entryKey(entry), prevTerm);
      prevTerm = entry.term;
    }
  }

  #persistHardState(node: SimNode, hardState: HardState): void {
    const storage = node.storage;
    const before = storage.hardState().commit;
    storage.setHardState(hardState);
    const from = Math.max(before + 1, storage.firstIndex());
    if (hardState.commit < from) return;
    for (const entry of storage.entries(from, hardState.commit + 1, Infinity)) {
      this.#checker.committed(node.id, entry.index, entry.term, entryKey(entry));
    }
  }

  /** `node` became leader in `term` (when it was handed the Ready that says so). */
  #becameLeader(node: SimNode, term: number): void {
    this.#elections++;
    this.#freshLeader = node;
    this.#checker.leader(term, node.id);
    const storage = node.storage;
    const last = storage.lastIndex();
    this.#checker.becameLeader(
      node.id,
      storage.firstIndex(),
      (index) => index <= last ? storage.term(index) : undefined,
    );
  }

  #send(sent: Message): void {
    const m = this.#options.mutateMessage ? this.#options.mutateMessage(sent) : sent;
    if (m.type === "snapshot") this.#faults.snapshotsSent++;
    const lost = this.#rng.chance(this.#shape.drop);
    if (lost) this.#faults.dropped++;
    this.#flights.push({
      at: this.#unit + this.#rng.int(0, this.#shape.delayMax),
      order: this.#rng.next(),
      m,
      lost,
    });
    if (!lost && this.#rng.chance(this.#shape.duplicate)) {
      this.#faults.duplicated++;
      this.#flights.push({
        at: this.#unit + this.#rng.int(0, this.#shape.delayMax),
        order: this.#rng.next(),
        m,
        lost: false,
      });
    }
  }

  // ---- the state machine ----

  #apply(node: SimNode, entry: Entry): void {
    if (entry.index !== node.applied + 1) {
      throw new SafetyViolation(
        `"${node.id}" was handed entry ${entry.index} to apply after ${node.applied}`,
      );
    }
    const key = `${entry.term}:${entryKey(entry)}`;
    node.digest = mix(node.digest, `${entry.index}|${key}`);
    node.applied = entry.index;
    this.#checker.applied(node.id, entry.index, key, node.digest);
    if (entry.type === "conf") {
      const change = decodeConfChange(entry.data);
      node.conf = applyConfChange(node.conf, change);
      if (change.type === "removeNode") this.#toRetire.push(change.node);
    } else if (entry.data[0] === PROBE_MARK) {
      node.probes.add(latin1(entry.data));
    }
  }

  #restoreState(node: SimNode, snapshot: Snapshot): void {
    const { index, digest } = decodeState(snapshot.data);
    if (index !== snapshot.index) {
      throw new SafetyViolation(
        `snapshot ${snapshot.index} of "${node.id}" holds the state at ${index}`,
      );
    }
    node.applied = index;
    node.digest = digest;
    node.conf = copyConf(snapshot.conf);
    this.#checker.stateAt(node.id, index, digest);
  }

  // ---- nodes ----

  /** Starts a node: a founder (initial member) or one that joins later. */
  #addNode(id: NodeId, founder: boolean): SimNode {
    // Either every disk starts with the initial membership "before index 1"
    // (what the initial members agreed on), or the founders' logs begin with
    // it as conf entries and every other disk starts empty.
    const before = this.#shape.bootstrapEntries ? { voters: [], learners: [] } : this.#initialConf;
    const storage = this.#options.newStorage?.(before) ?? new MemoryStorage(before);
    if (founder && this.#shape.bootstrapEntries) {
      MemoryStorage.bootstrap(this.#initialConf, storage);
    }
    const node: SimNode = {
      id,
      storage,
      raft: undefined,
      random: new SeededRandom(this.#rng.nextU32()),
      applied: 0,
      digest: 0,
      conf: { voters: [], learners: [] },
      probes: new Set(),
      retired: false,
      restartAt: Infinity,
      readyInProgress: undefined,
      readyDoneAt: Infinity,
      readyTerm: 0,
    };
    this.#nodes.set(id, node);
    this.#restart(node);
    return node;
  }

  #restart(node: SimNode): void {
    const shape = this.#shape;
    node.raft = new RaftNode({
      id: node.id,
      storage: node.storage,
      electionTicks: shape.electionTicks,
      heartbeatTicks: shape.heartbeatTicks,
      random: () => node.random.next(),
      preVote: shape.preVote,
      checkQuorum: shape.checkQuorum,
      maxInflight: shape.maxInflight,
      maxMessageBytes: shape.maxMessageBytes,
    });
    node.restartAt = Infinity;
    const snapshot = node.storage.snapshot();
    if (snapshot.index > 0) {
      this.#restoreState(node, snapshot);
    } else {
      node.applied = 0;
      node.digest = 0;
      node.conf = copyConf(snapshot.conf);
    }
  }

  #crash(node: SimNode, why: string): false {
    node.raft = undefined;
    node.readyInProgress = undefined;
    node.restartAt = this.#unit + this.#rng.int(2, this.#shape.downUnitsMax);
    this.#faults.crashes++;
    if (this.#traceOn()) this.#note(`crash ${node.id} (${why})`);
    return false;
  }

  /** A node whose removal is applied is shut down for good, as an operator would. */
  #retire(id: NodeId): void {
    const node = this.#nodes.get(id);
    if (!node || node.retired) return;
    node.retired = true;
    node.raft = undefined;
    node.readyInProgress = undefined;
    node.restartAt = Infinity;
    if (this.#traceOn()) this.#note(`retire ${id}`);
  }

  #running(): SimNode[] {
    return [...this.#nodes.values()].filter((node) => node.raft !== undefined);
  }

  #leaders(): SimNode[] {
    return this.#running().filter((node) => node.raft?.role === "leader");
  }

  // ---- faults and clients ----

  #injectFaults(): void {
    const shape = this.#shape;
    if (this.#healAt === Infinity && this.#rng.chance(shape.partition)) {
      this.#partition();
      this.#stepDone("partition");
    }
    if (this.#rng.chance(shape.crash)) {
      const leaders = this.#leaders();
      const running = this.#running();
      const pool = leaders.length > 0 && this.#rng.chance(0.4) ? leaders : running;
      if (pool.length > 0) {
        this.#crash(this.#rng.pick(pool), "at random");
        this.#stepDone("crash");
      }
    }
    // A leader that has just won is tempted to change membership before its
    // no-op commits (which it must refuse).
    const fresh = this.#freshLeader;
    this.#freshLeader = undefined;
    if (fresh?.raft?.role === "leader" && this.#rng.chance(Math.min(0.5, shape.confChange * 10))) {
      this.#changeMembership(fresh);
    } else if (this.#rng.chance(shape.confChange)) {
      this.#changeMembership(undefined);
    }
    if (this.#rng.chance(shape.transfer)) this.#transfer();
  }

  #partition(): void {
    const ids = [...this.#nodes.keys()];
    const kind = this.#rng.int(0, 2);
    if (kind === 0) {
      // A split into two sides.
      const side = new Set(ids.filter(() => this.#rng.chance(0.5)));
      for (const a of ids) {
        for (const b of ids) if (side.has(a) !== side.has(b)) this.#cut.add(`${a}>${b}`);
      }
    } else if (kind === 1) {
      // One node (often the leader) alone.
      const leaders = this.#leaders();
      const alone = leaders.length > 0 && this.#rng.chance(0.5)
        ? this.#rng.pick(leaders).id
        : this.#rng.pick(ids);
      for (const other of ids) {
        if (other !== alone) this.#cut.add(`${alone}>${other}`).add(`${other}>${alone}`);
      }
    } else {
      // Some links fail in one direction only.
      const count = this.#rng.int(1, ids.length);
      for (let i = 0; i < count; i++) {
        this.#cut.add(`${this.#rng.pick(ids)}>${this.#rng.pick(ids)}`);
      }
    }
    this.#healAt = this.#unit + this.#rng.int(3, this.#shape.partitionUnitsMax);
    this.#faults.partitions++;
  }

  #propose(): void {
    const leaders = this.#leaders();
    if (leaders.length === 0) return;
    const leader = this.#rng.pick(leaders);
    leader.raft!.propose(encoder.encode(`p${++this.#proposals}`));
    this.#process(leader);
    this.#stepDone(`propose at ${leader.id}`);
  }

  /** Proposes a random membership change at `at` (default: a random leader). */
  #changeMembership(at: SimNode | undefined): void {
    const leaders = this.#leaders();
    if (leaders.length === 0) return;
    const leader = at ?? this.#rng.pick(leaders);
    const conf = leader.raft!.status().conf;
    const options: ConfChange[] = [];
    const fresh = `n${this.#nodes.size + 1}`;
    if (this.#added < ADDED_NODES_MAX) {
      options.push({ type: "addLearner", node: fresh });
      if (conf.voters.length < VOTERS_MAX && this.#rng.chance(0.3)) {
        options.push({ type: "addVoter", node: fresh });
      }
    }
    for (const learner of conf.learners) {
      options.push({ type: "removeNode", node: learner });
      if (conf.voters.length < VOTERS_MAX) options.push({ type: "addVoter", node: learner });
    }
    if (conf.voters.length > 1) {
      for (const voter of conf.voters) {
        options.push({ type: "removeNode", node: voter }, { type: "addLearner", node: voter });
      }
    }
    if (options.length === 0) return;
    const change = this.#rng.pick(options);
    if (!leader.raft!.proposeConfChange(change)) return;
    this.#faults.confChanges++;
    if (change.node === leader.id) this.#events.selfRemovals++;
    if (change.node === fresh) {
      this.#added++;
      this.#addNode(fresh, false);
    }
    this.#process(leader);
    this.#stepDone(`conf ${change.type} ${change.node} at ${leader.id}`);
  }

  #transfer(): void {
    const leaders = this.#leaders();
    if (leaders.length === 0) return;
    const leader = this.#rng.pick(leaders);
    const others = leader.raft!.status().conf.voters.filter((id) => id !== leader.id);
    if (others.length === 0) return;
    const to = this.#rng.pick(others);
    if (leader.raft!.transferLeadership(to)) this.#faults.transfers++;
    this.#process(leader);
    this.#stepDone(`transfer ${leader.id} to ${to}`);
  }

  #compact(): void {
    const running = this.#running();
    if (running.length === 0) return;
    const node = this.#rng.pick(running);
    const storage = node.storage;
    if (node.applied <= storage.snapshot().index) return;
    storage.createSnapshot(node.applied, node.conf, encodeState(node.applied, node.digest));
    // Keep a few entries behind the snapshot for followers that are just behind.
    storage.compact(Math.max(storage.firstIndex() - 1, node.applied - this.#rng.int(0, 4)));
    this.#faults.compactions++;
    this.#stepDone(`compact ${node.id} to ${node.applied}`);
  }

  // ---- calm phase: liveness ----

  #calmDown(): void {
    this.#calm = true;
    this.#cut.clear();
    this.#healAt = Infinity;
    // Calm: nothing lost, delays short next to the election timeout, disks fast.
    this.#shape.drop = 0;
    this.#shape.duplicate = 0;
    this.#shape.delayMax = Math.min(this.#shape.delayMax, 1);
    this.#shape.slowReady = Math.min(this.#shape.slowReady, 0.2);
    for (const node of this.#nodes.values()) {
      if (!node.raft && !node.retired) node.restartAt = this.#unit + 1;
    }
    let probe = "";
    let probedAt = -Infinity;
    let progress = -1;
    let progressAt = this.#unit;
    for (let u = 0; u < CALM_UNITS_MAX && this.#unit - progressAt <= CALM_STALL_UNITS_MAX; u++) {
      this.#runUnit();
      const progressNow = this.#running().reduce(
        (sum, node) => sum + node.applied + node.storage.lastIndex(),
        0,
      );
      if (progressNow > progress) {
        progress = progressNow;
        progressAt = this.#unit;
      }
      // The leader of the highest term (a node left out of the group may
      // campaign alone at ever higher terms; it is no member to wait for).
      const leader = this.#leaders().sort((a, b) => b.raft!.term - a.raft!.term)[0];
      if (leader === undefined) continue;
      if (probe !== "" && this.#appliedEverywhere(leader, probe)) return;
      if (this.#unit - probedAt >= PROBE_INTERVAL_UNITS || probe === "") {
        const next = `${String.fromCharCode(PROBE_MARK)}probe${this.#unit}`;
        if (leader.raft!.propose(encoder.encode(next))) {
          probe = next;
          probedAt = this.#unit;
          this.#process(leader);
          this.#stepDone(`probe at ${leader.id}`);
        }
      }
    }
    const states = [...this.#nodes.values()].map((node) => {
      if (node.retired) return `${node.id} retired`;
      const status = node.raft?.status();
      return status
        ? `${node.id} ${status.role} term=${status.term} commit=${status.commit} last=${status.lastIndex} voters=${status.conf.voters} learners=${status.conf.learners}`
        : `${node.id} down`;
    });
    const why = this.#unit - progressAt > CALM_STALL_UNITS_MAX
      ? `no log grew and nothing was applied for ${CALM_STALL_UNITS_MAX} calm units`
      : `no proposal applied by every member within ${CALM_UNITS_MAX} calm units`;
    throw new SafetyViolation(`liveness: ${why} (${states.join("; ")})`);
  }

  #appliedEverywhere(leader: SimNode, probe: string): boolean {
    const conf = leader.raft!.status().conf;
    for (const id of [...conf.voters, ...conf.learners]) {
      if (!this.#nodes.get(id)?.probes.has(probe)) return false;
    }
    return true;
  }

  // ---- tracing ----

  #traceOn(): boolean {
    return (this.#options.traceLines ?? 0) > 0;
  }

  #note(line: string): void {
    this.#trace.push(`step ${this.#steps} unit ${this.#unit}: ${line}`);
    if (this.#trace.length > (this.#options.traceLines ?? 0)) this.#trace.shift();
  }
}

/** Marks probe proposals of the calm phase. */
const PROBE_MARK = 0x01;

/**
 * A scenario's shape. Three in ten are "churn": small messages and many
 * short crashes and partitions, so leaders come and go with partly
 * replicated logs (Figure 8 of the paper needs that).
 */
function drawShape(rng: SeededRandom): Shape {
  const shape: Shape = {
    voters: rng.pick([1, 2, 3, 3, 3, 4, 5, 5]),
    learners: rng.pick([0, 0, 0, 1]),
    preVote: rng.chance(0.75),
    checkQuorum: rng.chance(0.75),
    electionTicks: 10,
    heartbeatTicks: rng.pick([1, 2, 3]),
    maxInflight: rng.pick([1, 2, 4, 256]),
    maxMessageBytes: rng.pick([1, 8, 64, 1024 * 1024]),
    faultUnits: rng.int(150, 400),
    drop: rng.pick([0, 0.01, 0.05, 0.15]),
    duplicate: rng.pick([0, 0.01, 0.05]),
    delayMax: rng.pick([0, 1, 2, 4]),
    crash: rng.pick([0, 0.003, 0.01, 0.02]),
    crashInReady: rng.pick([0, 0.001, 0.004]),
    bootstrapEntries: rng.chance(0.5),
    downUnitsMax: 80,
    partitionUnitsMax: 80,
    slowReady: rng.pick([0, 0, 0.2, 0.6]),
    partition: rng.pick([0, 0.005, 0.02]),
    confChange: rng.pick([0, 0.01, 0.04]),
    transfer: rng.pick([0, 0.005, 0.02]),
    compact: rng.pick([0, 0.01, 0.05]),
    propose: rng.pick([0.1, 0.3, 0.6]),
  };
  if (rng.chance(0.3)) {
    shape.voters = rng.pick([3, 4, 5]);
    shape.maxMessageBytes = rng.pick([1, 8]);
    shape.drop = rng.pick([0.05, 0.15, 0.3]);
    shape.crash = rng.pick([0.03, 0.06]);
    shape.downUnitsMax = 30;
    shape.partition = rng.pick([0.02, 0.05]);
    shape.partitionUnitsMax = 40;
    shape.propose = rng.pick([0.3, 0.6, 1]);
  }
  return shape;
}

function describeShape(shape: Shape): string {
  return Object.entries(shape).map(([key, value]) => `${key}=${value}`).join(" ");
}

function range<T>(count: number, make: (i: number) => T): T[] {
  return Array.from({ length: count }, (_, i) => make(i));
}

function latin1(data: Uint8Array): string {
  return String.fromCharCode(...data);
}

/** An entry's content: type and data. */
function entryKey(entry: Entry): string {
  return `${entry.type === "conf" ? "c" : "n"}:${latin1(entry.data)}`;
}

/** FNV-1a of `text` continuing from `digest`. */
function mix(digest: number, text: string): number {
  let h = (digest ^ 0x811c9dc5) >>> 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0;
  return h;
}

function encodeState(index: number, digest: number): Uint8Array {
  return encoder.encode(`${index}:${digest}`);
}

function decodeState(data: Uint8Array): { index: number; digest: number } {
  const [index, digest] = new TextDecoder().decode(data).split(":");
  return { index: Number(index), digest: Number(digest) };
}
