/**
 * This node's part in the world's two kinds of Raft groups:
 *
 * - its rack's group (every node of the rack): the leader is the rack
 *   leader, the one node that applies the log to the rack's Redis;
 * - the world group (every node): its replicated state is the world's
 *   membership — nodes, their racks and peer addresses, and which node leads
 *   each rack.
 *
 * Membership is driven by the world state: admin commands change it (on the
 * world leader, forwarded there from any node), every node connects to the
 * nodes it lists, and leaders bring their group's Raft membership in line —
 * a new node joins as a learner and becomes a voter once it has the log; a
 * removed node is removed. Rack leaders report themselves to the world.
 */

import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { ProposalError, RaftGroup } from "../raft/driver.ts";
import { FileStorage } from "../raft/file_storage.ts";
import type { DurableStorage } from "../raft/types.ts";
import { BOOTSTRAP_TERM, bootstrapEntries } from "../raft/confchange.ts";
import { decodeMessages } from "../raft/message_codec.ts";
import type { ConfState, RaftStatus, SoftState } from "../raft/types.ts";
import { SeededRandom } from "../random.ts";
import { type Clock, realClock, sleep } from "../clock.ts";
import { Backoff, backoffSchedule } from "../backoff.ts";
import { failpoint } from "../failpoints.ts";
import { ignored } from "../observe/ignored.ts";
import { parseHostPort } from "../net/address.ts";
import type { PeerAddress } from "./peer_client.ts";
import {
  applyWorldCommand,
  decodeWorldCommand,
  decodeWorldState,
  encodeWorldCommand,
  encodeWorldState,
  type WorldCommand,
  type WorldNode,
  type WorldState,
  worldState,
} from "./world_state.ts";

const log = getLogger(["pylon", "cluster", "world"]);

/**
 * How a node's world reaches the other nodes: the peer links (src/cluster/
 * peers.ts), or an in-memory network (src/cluster/memory_network.ts) for
 * worlds of several nodes in one process.
 */
export interface WorldTransport {
  /** Sends a batch of Raft messages to node `to`; false if no link to it is up. */
  sendRaft(to: string, batch: Uint8Array): boolean;
  /** Asks node `to` to propose `data` to `group`; rejects with its reason if it does not. */
  propose(to: string, group: string, data: Uint8Array, timeoutMs: number): Promise<void>;
  /** A node joined the world. */
  add(peer: PeerAddress): void;
  /** A node left the world. */
  remove(id: string): void;
}

/** Opens the durable storage of this node's `rack` or `world` group. */
export type OpenGroupStorage = (group: "rack" | "world") => Promise<DurableStorage>;

/** Options of {@linkcode World}. */
export interface WorldOptions {
  nodeId: string;
  rack: string;
  /** Where Raft state is kept (`<data-dir>/raft`). */
  dir: string;
  /** The nodes of the world at first start (this one included); empty when joining. */
  founders: WorldNode[];
  peers: WorldTransport | undefined;
  /** Each group's storage (default: files under `dir`). */
  storage?: OpenGroupStorage;
  /** Where election timeouts come from (default: seeded from the system's random source). */
  random?: SeededRandom;
  tickMs: number;
  electionTicks: number;
  /** Called when this node becomes or stops being its rack's leader. */
  onRackLeader: (leading: boolean, term: number) => void;
  /**
   * Ticks, timeouts, reconciliation and retries (default: the real clock); a
   * simulation's clock with a seeded `random` and in-memory storage and
   * network makes a world replay exactly.
   */
  clock?: Clock;
  /** What a test or simulation watches (default: nothing). */
  observer?: WorldObserver;
}

/** What a test or simulation may watch a {@linkcode World} do. */
export interface WorldObserver {
  /** One of this node's groups (`world`, `rack:<name>`) changed role or leader. */
  softState?(group: string, soft: SoftState, term: number): void;
  /** The world group applied the entry at `index`, which changed the state as `change` says. */
  worldChange?(change: string, index: number): void;
}

/**
 * Opens a group's storage. A founder's new log starts with the founding
 * membership as conf entries (every founder writes the same ones: voters
 * sorted), so a node that joins later learns the whole membership from the
 * log; a joining node (no founders) starts empty.
 */
async function bootstrapGroup(
  storage: DurableStorage,
  founders: string[],
): Promise<DurableStorage> {
  if (founders.length > 0 && storage.lastIndex() === 0 && storage.snapshot().index === 0) {
    const entries = bootstrapEntries({ voters: [...founders].sort(), learners: [] });
    await storage.save(
      { term: BOOTSTRAP_TERM, vote: "", commit: entries.length },
      entries,
      undefined,
    );
  }
  return storage;
}

/** A node's view of one group, for `PYLON INFO`. */
export interface GroupStatus extends RaftStatus {
  group: string;
}

const PROPOSE_TIMEOUT_MS = 10_000;
const RECONCILE_MS = 500;
/** How often a forwarded proposal whose answer was lost looks for its effect here. */
const APPLIED_POLL_MS = 50;
/**
 * A new rack leader reports itself to the world up to 5 times, 500 ms apart;
 * after that, reconciliation starts the reports again while the world does
 * not record it (the world group may have no leader for a while).
 */
const RACK_LEADER_REPORT = backoffSchedule("rack leader report", [500], { retriesMax: 4 });

/** The world and rack Raft groups of this node. */
export class World {
  readonly options: WorldOptions;
  readonly state: WorldState;
  #rack: RaftGroup | undefined;
  #world: RaftGroup | undefined;
  #storages: DurableStorage[] = [];
  #clock: Clock;
  #stopReconciling: () => void = () => {};
  /** Aborted by stop(): ends the waits of retries and forwarded proposals. */
  #stopping = new AbortController();
  #reconciling = false;
  #leadingRack = false;
  /** The rack group's term when this node last became its leader. */
  #rackTerm = 0;
  /** A report of this node as its rack's leader is under way. */
  #reporting = false;
  /** The rack term the world group committed this node's report for. */
  #reportedTerm = -1;

  constructor(options: WorldOptions) {
    this.options = options;
    this.#clock = options.clock ?? realClock;
    // The state holds only what the world group committed; founders are logged by its first leader.
    this.state = worldState();
  }

  /** Opens both groups' storage and starts them. */
  async start(): Promise<void> {
    const { nodeId, rack, founders } = this.options;
    const random = this.options.random ??
      new SeededRandom(crypto.getRandomValues(new Uint32Array(1))[0]!);
    const open = this.options.storage ??
      ((group: "rack" | "world") => FileStorage.open(join(this.options.dir, group)));
    const rackMembers = founders.filter((n) => n.rack === rack).map((n) => n.id);
    const rackStorage = await bootstrapGroup(await open("rack"), rackMembers);
    const worldStorage = await bootstrapGroup(await open("world"), founders.map((n) => n.id));
    this.#storages = [rackStorage, worldStorage];
    const restored = decodeWorldState(worldStorage.snapshot().data);
    if (worldStorage.snapshot().index > 0) {
      this.state.nodes = restored.nodes;
      this.state.rackLeaders = restored.rackLeaders;
      this.state.removed = restored.removed;
      this.state.contract = restored.contract;
    }
    const common = {
      id: nodeId,
      send: (to: string, batch: Uint8Array) => this.options.peers?.sendRaft(to, batch) ?? false,
      tickMs: this.options.tickMs,
      electionTicks: this.options.electionTicks,
      heartbeatTicks: 1,
      random: () => random.next(),
      clock: this.#clock,
    };
    this.#makeRack = () =>
      new RaftGroup({
        ...common,
        group: `rack:${rack}`,
        storage: rackStorage,
        onSoftState: (soft, term) => {
          this.options.observer?.softState?.(`rack:${rack}`, soft, term);
          const leading = soft.role === "leader";
          if (leading === this.#leadingRack) return;
          this.#leadingRack = leading;
          log.info("rack {rack}: {what} (term {term})", {
            rack,
            what: leading
              ? "this node leads"
              : soft.leader === ""
              ? "no leader"
              : `${soft.leader} leads`,
            term,
          });
          this.options.onRackLeader(leading, term);
          if (leading) {
            this.#rackTerm = term;
            void this.#reportRackLeader();
          }
        },
      });
    this.#rack = this.#makeRack();
    this.#world = new RaftGroup({
      ...common,
      group: "world",
      storage: worldStorage,
      apply: (data, index) => this.#applyWorld(data, index),
      onSoftState: (soft, term) => this.options.observer?.softState?.("world", soft, term),
      snapshot: () => encodeWorldState(this.state),
    });
    for (const node of [...this.state.nodes.values(), ...founders]) this.#connect(node);
    this.#rack.start();
    this.#world.start();
    this.#stopReconciling = this.#clock.every(RECONCILE_MS, () => void this.#reconcile());
  }

  async stop(): Promise<void> {
    this.#stopReconciling();
    this.#stopping.abort();
    await this.#rack?.stop();
    await this.#world?.stop();
    for (const s of this.#storages) await s.close();
  }

  /** Whether this node leads its rack now. */
  get leadsRack(): boolean {
    return this.#leadingRack;
  }

  /** The rack leader this node knows of ("" if none). */
  get rackLeader(): string {
    return this.#rack?.soft.leader ?? "";
  }

  /** Builds this node's rack group on its storage (again, when a new rack forms). */
  #makeRack: (() => RaftGroup) | undefined;

  /**
   * A node added to the world (`PYLON NODE ADD`) as the first node of a new
   * rack has no rack group to join: no leader exists to add it. The first
   * node of its rack in the world's state (the same on every node) forms the
   * group alone; later nodes of that rack are added by it as usual.
   */
  async #formNewRack(): Promise<void> {
    const rack = this.#rack;
    if (rack === undefined || this.#makeRack === undefined) return;
    const conf = rack.conf();
    if (conf.voters.length > 0 || conf.learners.length > 0) return;
    const first = [...this.state.nodes.values()].find((n) => n.rack === this.options.rack);
    if (first?.id !== this.options.nodeId) return;
    log.info("rack {rack}: this node is the first of a new rack; it forms the rack's group", {
      rack: this.options.rack,
    });
    await rack.stop();
    await bootstrapGroup(this.#storages[0]!, [this.options.nodeId]);
    this.#rack = this.#makeRack();
    this.#rack.start();
  }

  /** Both groups' state. */
  status(): GroupStatus[] {
    const out: GroupStatus[] = [];
    if (this.#rack) out.push({ group: this.#rack.group, ...this.#rack.status() });
    if (this.#world) out.push({ group: this.#world.group, ...this.#world.status() });
    return out;
  }

  /** Messages from a peer; `from` is the peer the link authenticated. */
  receive(from: string, batch: Uint8Array): void {
    let decoded;
    try {
      decoded = decodeMessages(batch);
    } catch (error) {
      log.warning("dropping a malformed Raft batch from {from}: {error}", {
        from,
        error: String(error),
      });
      return;
    }
    // A node speaks only for itself.
    const messages = decoded.messages.filter((m) => m.from === from);
    if (decoded.group === "world") this.#world?.receive(messages);
    else if (decoded.group === this.#rack?.group) this.#rack.receive(messages);
  }

  /**
   * Proposes a world command here if this node leads the world group, else
   * on the leader through its peer link; resolves once it is applied there.
   */
  async propose(command: WorldCommand): Promise<void> {
    const data = encodeWorldCommand(command);
    try {
      await this.#world!.propose(data, PROPOSE_TIMEOUT_MS);
    } catch (error) {
      const leader = error instanceof ProposalError ? error.leader : "";
      if (leader === "" || this.options.peers === undefined) throw error;
      try {
        await this.options.peers.propose(leader, "world", data, PROPOSE_TIMEOUT_MS);
      } catch (forwarded) {
        // The answer can be lost after the change was made (removing the leader itself drops the
        // link to it here): the change counts as made once this node has applied it too.
        if (!await this.#applied(command, 2_000)) throw forwarded;
      }
    }
  }

  /** Waits up to `timeoutMs` for `command`'s effect to show in this node's world state. */
  async #applied(command: WorldCommand, timeoutMs: number): Promise<boolean> {
    const done = () =>
      command.op === "addNode"
        ? this.state.nodes.get(command.node.id)?.peer === command.node.peer
        : command.op === "removeNode"
        ? !this.state.nodes.has(command.id) && this.state.removed.has(command.id)
        : command.op === "contract"
        ? JSON.stringify(this.state.contract) === JSON.stringify(command.contract) ||
          (command.replace !== true && this.state.contract !== undefined)
        : (this.state.rackLeaders.get(command.rack)?.term ?? -1) >= command.term;
    const deadline = this.#clock.now() + timeoutMs;
    while (!done()) {
      if (this.#clock.now() >= deadline || this.#stopping.signal.aborted) return false;
      await sleep(this.#clock, APPLIED_POLL_MS, this.#stopping.signal);
    }
    return true;
  }

  /** A peer asks this node to propose to `group`; the error text if it cannot. */
  async proposeForPeer(group: string, data: Uint8Array): Promise<string | undefined> {
    if (group !== "world") return `cannot propose to group '${group}' here`;
    try {
      decodeWorldCommand(data);
      await this.#world!.propose(data, PROPOSE_TIMEOUT_MS);
      return undefined;
    } catch (error) {
      return (error as Error).message;
    }
  }

  /** Hands rack leadership to `to` (run on the rack leader). */
  transferRackLeadership(to: string): boolean {
    return this.#rack?.transferLeadership(to) ?? false;
  }

  #applyWorld(data: Uint8Array, index: number): void {
    failpoint("world.apply");
    const command = decodeWorldCommand(data);
    const before = command.op === "removeNode" ? this.state.nodes.get(command.id) : undefined;
    const changed = applyWorldCommand(this.state, command);
    if (changed === "") return;
    log.info("world: {change}", { change: changed });
    this.options.observer?.worldChange?.(changed, index);
    if (command.op === "addNode") this.#connect(command.node);
    if (command.op === "removeNode" && before !== undefined && command.id !== this.options.nodeId) {
      this.options.peers?.remove(command.id);
    }
  }

  #connect(node: WorldNode): void {
    if (node.id === this.options.nodeId) return;
    this.options.peers?.add({
      id: node.id,
      rack: node.rack,
      address: parseHostPort(node.peer, "peer"),
    });
  }

  /**
   * Whether the world records (or has committed) this node as its rack's
   * leader in its present term, or a later leader.
   */
  #rackLeaderRecorded(): boolean {
    if (this.#reportedTerm === this.#rackTerm) return true;
    const known = this.state.rackLeaders.get(this.options.rack);
    return known !== undefined &&
      (known.term > this.#rackTerm ||
        (known.term === this.#rackTerm && known.node === this.options.nodeId));
  }

  async #reportRackLeader(): Promise<void> {
    if (this.#reporting) return;
    this.#reporting = true;
    try {
      const backoff = new Backoff(RACK_LEADER_REPORT);
      while (this.#leadingRack && !this.#stopping.signal.aborted && !this.#rackLeaderRecorded()) {
        const term = this.#rackTerm;
        try {
          await this.propose({
            op: "rackLeader",
            rack: this.options.rack,
            node: this.options.nodeId,
            term,
          });
          this.#reportedTerm = term;
          return;
        } catch (error) {
          const delay = backoff.next();
          if (delay === undefined) return ignored("rack_leader_report", error);
          await sleep(this.#clock, delay, this.#stopping.signal);
        }
      }
    } finally {
      this.#reporting = false;
    }
  }

  /** Leaders bring their group's membership in line with the world state, one change at a time. */
  async #reconcile(): Promise<void> {
    // A rack leader the world does not record yet (its reports found no world leader) reports again.
    if (this.#leadingRack && !this.#rackLeaderRecorded()) void this.#reportRackLeader();
    if (this.#reconciling) return;
    this.#reconciling = true;
    try {
      await this.#formNewRack();
      if (this.#world?.soft.role === "leader") {
        // The founders (this node's configuration) go into the world's log first, once.
        const unlogged = this.options.founders.find((n) =>
          !this.state.nodes.has(n.id) && !this.state.removed.has(n.id)
        );
        if (unlogged !== undefined) {
          const command = encodeWorldCommand({ op: "addNode", node: unlogged });
          await this.#world.propose(command, PROPOSE_TIMEOUT_MS);
          return;
        }
      }
      const all = [...this.state.nodes.values()];
      if (this.#world?.soft.role === "leader") await this.#align(this.#world, all.map((n) => n.id));
      if (this.#rack?.soft.role === "leader") {
        await this.#align(
          this.#rack,
          all.filter((n) => n.rack === this.options.rack).map((n) => n.id),
        );
      }
    } catch (error) {
      log.debug("membership change not made yet: {error}", { error: String(error) });
    } finally {
      this.#reconciling = false;
    }
  }

  async #align(group: RaftGroup, wanted: string[]): Promise<void> {
    if (wanted.length === 0) return;
    const conf: ConfState = group.conf();
    const status = group.status();
    const members = new Set([...conf.voters, ...conf.learners]);
    const missing = wanted.find((id) => !members.has(id));
    if (missing !== undefined) {
      log.info("{group}: adding {node} as a learner", { group: group.group, node: missing });
      await group.proposeConfChange({ type: "addLearner", node: missing }, PROPOSE_TIMEOUT_MS);
      return;
    }
    // A learner that has the log becomes a voter.
    const ready = conf.learners.find((id) =>
      wanted.includes(id) && (status.match[id] ?? 0) >= status.commit
    );
    if (ready !== undefined) {
      log.info("{group}: promoting {node} to voter", { group: group.group, node: ready });
      await group.proposeConfChange({ type: "addVoter", node: ready }, PROPOSE_TIMEOUT_MS);
      return;
    }
    // Only a node removed by command leaves a group: a member the state does not list yet stays.
    const gone = [...members].find((id) => this.state.removed.has(id));
    if (gone !== undefined) {
      log.info("{group}: removing {node}", { group: group.group, node: gone });
      await group.proposeConfChange({ type: "removeNode", node: gone }, PROPOSE_TIMEOUT_MS);
    }
  }
}
