/**
 * The world's membership as replicated state: which nodes exist, their rack
 * and peer address, and which node leads each rack (with the rack group's
 * term, so a stale report never overrides a newer one). Changed only by
 * commands committed in the world's Raft group, applied in log order on
 * every node; pure.
 */

import { isRackContract, type RackContract } from "./rack_contract.ts";

/** One node of the world. */
export interface WorldNode {
  id: string;
  rack: string;
  /** Its peer address, `host:port`. */
  peer: string;
}

/** A rack's leader as last reported. */
export interface RackLeader {
  node: string;
  term: number;
}

/** Every node and every rack's leader. */
export interface WorldState {
  nodes: Map<string, WorldNode>;
  rackLeaders: Map<string, RackLeader>;
  /** Nodes removed by command: leaders take them out of their groups (and only these). */
  removed: Set<string>;
  /** What every rack's Redis must meet (src/cluster/rack_contract.ts); the first recorded stays. */
  contract: RackContract | undefined;
}

/** A change to the world, as logged in the world group. */
export type WorldCommand =
  | { op: "addNode"; node: WorldNode }
  | { op: "removeNode"; id: string }
  | { op: "rackLeader"; rack: string; node: string; term: number }
  | { op: "contract"; contract: RackContract; replace?: boolean };

/** A state with the given nodes and no leaders known yet. */
export function worldState(nodes: WorldNode[] = []): WorldState {
  return {
    nodes: new Map(nodes.map((n) => [n.id, n])),
    rackLeaders: new Map(),
    removed: new Set(),
    contract: undefined,
  };
}

/** Applies one committed command; returns a description of what changed ("" if nothing). */
export function applyWorldCommand(state: WorldState, command: WorldCommand): string {
  switch (command.op) {
    case "addNode": {
      const known = state.nodes.get(command.node.id);
      if (
        known !== undefined && known.rack === command.node.rack && known.peer === command.node.peer
      ) return "";
      state.nodes.set(command.node.id, command.node);
      state.removed.delete(command.node.id);
      return `node ${command.node.id} of rack ${command.node.rack} at ${command.node.peer}`;
    }
    case "removeNode": {
      if (!state.nodes.delete(command.id)) return "";
      state.removed.add(command.id);
      for (const [rack, leader] of state.rackLeaders) {
        if (leader.node === command.id) state.rackLeaders.delete(rack);
      }
      return `node ${command.id} removed`;
    }
    case "contract": {
      // Recorded once: a rack proposing other values is one that does not meet it (unless it
      // replaces it as the world's only rack: its Redis changed, no other rack to disagree).
      if (state.contract !== undefined && command.replace !== true) return "";
      if (JSON.stringify(state.contract) === JSON.stringify(command.contract)) return "";
      state.contract = command.contract;
      return `contract for racks' Redis recorded: ${JSON.stringify(command.contract)}`;
    }
    case "rackLeader": {
      const known = state.rackLeaders.get(command.rack);
      if (
        known !== undefined &&
        (known.term > command.term || (known.term === command.term && known.node === command.node))
      ) {
        return "";
      }
      state.rackLeaders.set(command.rack, { node: command.node, term: command.term });
      return `rack ${command.rack} led by ${command.node} (term ${command.term})`;
    }
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The bytes of a command (JSON: these are rare and small). */
export function encodeWorldCommand(command: WorldCommand): Uint8Array {
  return encoder.encode(JSON.stringify(command));
}

/** Parses a command; throws on anything that is not one. */
export function decodeWorldCommand(bytes: Uint8Array): WorldCommand {
  const value = JSON.parse(decoder.decode(bytes)) as WorldCommand;
  const ok = (value.op === "addNode" && typeof value.node?.id === "string" &&
    typeof value.node.rack === "string" &&
    typeof value.node.peer === "string") ||
    (value.op === "removeNode" && typeof value.id === "string") ||
    (value.op === "rackLeader" && typeof value.rack === "string" &&
      typeof value.node === "string" &&
      typeof value.term === "number") ||
    (value.op === "contract" && isRackContract(value.contract) &&
      (value.replace === undefined || typeof value.replace === "boolean"));
  if (!ok) throw new Error(`Not a world command: ${decoder.decode(bytes).slice(0, 200)}`);
  return value;
}

/** The state as snapshot bytes. */
export function encodeWorldState(state: WorldState): Uint8Array {
  return encoder.encode(JSON.stringify({
    nodes: [...state.nodes.values()],
    rackLeaders: [...state.rackLeaders.entries()],
    removed: [...state.removed],
    contract: state.contract,
  }));
}

/** A state from snapshot bytes. */
export function decodeWorldState(bytes: Uint8Array): WorldState {
  if (bytes.length === 0) return worldState();
  const data = JSON.parse(decoder.decode(bytes)) as {
    nodes: WorldNode[];
    rackLeaders: [string, RackLeader][];
    removed?: string[];
    contract?: unknown;
  };
  return {
    nodes: new Map(data.nodes.map((n) => [n.id, n])),
    rackLeaders: new Map(data.rackLeaders),
    removed: new Set(data.removed ?? []),
    contract: isRackContract(data.contract) ? data.contract : undefined,
  };
}
