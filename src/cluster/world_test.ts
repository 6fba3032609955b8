/**
 * A world of five nodes in two racks in one process: real Worlds and Raft
 * groups on in-memory storage and an in-memory network that drops, delays and
 * cuts links.
 */

import assert from "node:assert/strict";
import { MemoryStorage } from "../raft/memory_storage.ts";
import { SeededRandom } from "../random.ts";
import { waitFor } from "../../tests/harness/wait.ts";
import { MemoryNetwork } from "./memory_network.ts";
import { World } from "./world.ts";
import type { WorldNode } from "./world_state.ts";

const FOUNDERS: WorldNode[] = [
  { id: "e1", rack: "east", peer: "127.0.0.1:1" },
  { id: "e2", rack: "east", peer: "127.0.0.1:2" },
  { id: "e3", rack: "east", peer: "127.0.0.1:3" },
  { id: "w1", rack: "west", peer: "127.0.0.1:4" },
  { id: "w2", rack: "west", peer: "127.0.0.1:5" },
];

async function withWorld(
  seed: number,
  body: (worlds: Map<string, World>, network: MemoryNetwork) => Promise<void>,
): Promise<void> {
  const random = new SeededRandom(seed);
  const network = new MemoryNetwork(random);
  const worlds = new Map<string, World>();
  for (const node of FOUNDERS) {
    const storages = { rack: new MemoryStorage(), world: new MemoryStorage() };
    const world = new World({
      nodeId: node.id,
      rack: node.rack,
      dir: "",
      founders: FOUNDERS,
      peers: network.transport(node.id),
      storage: (group) => Promise.resolve(storages[group]),
      random: new SeededRandom(random.nextU32()),
      tickMs: 10,
      electionTicks: 10,
      onRackLeader: () => {},
    });
    network.attach(node.id, world);
    worlds.set(node.id, world);
  }
  try {
    for (const world of worlds.values()) await world.start();
    await body(worlds, network);
  } finally {
    network.close();
    for (const world of worlds.values()) await world.stop();
  }
}

/** The one node of `rack` that leads it, once every node of the rack agrees. */
function rackLeader(worlds: Map<string, World>, rack: string, among: string[]): string | undefined {
  const members = FOUNDERS.filter((n) => n.rack === rack && among.includes(n.id));
  const leading = members.filter((n) => worlds.get(n.id)!.leadsRack);
  if (leading.length !== 1) return undefined;
  const leader = leading[0]!.id;
  return members.every((n) => worlds.get(n.id)!.rackLeader === leader) ? leader : undefined;
}

Deno.test("an in-memory world elects one leader per rack and every node learns them", async () => {
  await withWorld(1, async (worlds) => {
    const all = FOUNDERS.map((n) => n.id);
    const east = await waitFor("an east leader", () => rackLeader(worlds, "east", all));
    const west = await waitFor("a west leader", () => rackLeader(worlds, "west", all));
    await waitFor(
      "every node's world state to name both rack leaders and all nodes",
      () =>
        [...worlds.values()].every((w) =>
            w.state.nodes.size === FOUNDERS.length &&
            w.state.rackLeaders.get("east")?.node === east &&
            w.state.rackLeaders.get("west")?.node === west
          )
          ? true
          : undefined,
    );
  });
});

Deno.test("a rack leader cut off from the world is replaced, and steps down", async () => {
  await withWorld(2, async (worlds, network) => {
    network.dropRate = 0.1;
    network.delayMs = [0, 5];
    const all = FOUNDERS.map((n) => n.id);
    const old = await waitFor("an east leader", () => rackLeader(worlds, "east", all));
    network.isolate(old);
    const rest = all.filter((id) => id !== old);
    const next = await waitFor("a new east leader", () => rackLeader(worlds, "east", rest));
    assert.notEqual(next, old);
    await waitFor(
      "the cut-off leader to step down",
      () => worlds.get(old)!.leadsRack ? undefined : true,
    );
    await waitFor(
      "the world to record the new east leader",
      () =>
        rest.every((id) => worlds.get(id)!.state.rackLeaders.get("east")?.node === next)
          ? true
          : undefined,
    );
    network.heal();
    await waitFor(
      "the old leader to learn the new one",
      () => worlds.get(old)!.state.rackLeaders.get("east")?.node === next ? true : undefined,
    );
  });
});
