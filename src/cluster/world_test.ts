/**
 * A world of five nodes in two racks in one process: real Worlds and Raft
 * groups on in-memory storage and an in-memory network that drops, delays and
 * cuts links — on real timers, and on a manual clock where a seed replays a
 * whole scenario exactly.
 */

import assert from "node:assert/strict";
import { MemoryStorage } from "../raft/memory_storage.ts";
import { decodeMessages } from "../raft/message_codec.ts";
import type { Message } from "../raft/types.ts";
import { SeededRandom } from "../random.ts";
import { ManualClock } from "../manual_clock.ts";
import { waitFor } from "../../tests/harness/wait.ts";
import { MemoryNetwork, type NetworkEvent } from "./memory_network.ts";
import { World } from "./world.ts";
import { decodeWorldCommand, type WorldCommand, type WorldNode } from "./world_state.ts";

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

// A seeded scenario on the manual clock, recorded as a transcript.

/** Virtual time between two looks at the world while a scenario waits for something. */
const STEP_MS = 50;

/** One run's record: every batch's fate, every role or leader change, every applied world change. */
type Transcript = string[];

function describeMessage(m: Message): string {
  const parts = [`${m.type} t${m.term}`];
  if (m.index !== 0 || m.logTerm !== 0) parts.push(`i${m.index}/${m.logTerm}`);
  if (m.entries.length > 0) {
    parts.push(`[${m.entries.map((e) => `${e.index}:${e.term}${e.type === "conf" ? "c" : ""}`)}]`);
  }
  if (m.commit !== 0) parts.push(`c${m.commit}`);
  if (m.reject) parts.push(`reject hint ${m.rejectHint}`);
  if (m.snapshot !== undefined) parts.push(`snapshot ${m.snapshot.index}`);
  if (m.transfer) parts.push("transfer");
  return parts.join(" ");
}

function describeEvent(event: NetworkEvent): string {
  const head = `${event.atMs} ${event.kind} ${event.from}->${event.to}`;
  if (event.carries === "proposal") {
    return `${head} proposal ${JSON.stringify(decodeWorldCommand(event.batch))}`;
  }
  const { group, messages } = decodeMessages(event.batch);
  return `${head} ${group}: ${messages.map(describeMessage).join("; ")}`;
}

/**
 * Counts what reads the host's time or randomness, or sets a real timer,
 * while `body` runs (each still works: the count is what the test checks).
 */
async function hostTimeReads<T>(body: () => Promise<T>): Promise<{ result: T; reads: string[] }> {
  const reads: string[] = [];
  const spied: [object, string][] = [
    [performance, "now"],
    [Date, "now"],
    [Math, "random"],
    [crypto, "getRandomValues"],
    [globalThis, "setTimeout"],
    [globalThis, "setInterval"],
  ];
  const originals = spied.map(([target, name]) => (target as Record<string, unknown>)[name]);
  spied.forEach(([target, name], i) => {
    const original = originals[i] as (...args: unknown[]) => unknown;
    (target as Record<string, unknown>)[name] = function (this: unknown, ...args: unknown[]) {
      if (reads.length < 5) {
        reads.push(`${name}() from ${new Error().stack?.split("\n").slice(2, 5).join(" <")}`);
      } else reads.push(name);
      return original.apply(this, args);
    };
  });
  try {
    return { result: await body(), reads };
  } finally {
    spied.forEach(([target, name], i) => {
      (target as Record<string, unknown>)[name] = originals[i];
    });
  }
}

/** A world on the manual clock, and what a scenario does with it. */
interface SimWorld {
  clock: ManualClock;
  random: SeededRandom;
  network: MemoryNetwork;
  worlds: Map<string, World>;
  /** Adds a line to the transcript, at the present time. */
  note(line: string): void;
  /** A new node's World (started by the caller). */
  open(node: WorldNode, founders: WorldNode[]): World;
  /** Advances the clock until `probe` gives a value; fails past `withinMs` of virtual time. */
  until<T>(what: string, probe: () => T | undefined, withinMs?: number): Promise<T>;
  /**
   * Starts a world command on node `from` without awaiting it (the clock must
   * move for it to commit); the probe returned gives true once it committed,
   * and starts it again when it failed (no world leader then), as an operator would.
   */
  command(from: string, change: WorldCommand): () => true | undefined;
  /** True once `check` holds on every node of `ids`. */
  knowsAll(ids: string[], check: (w: World) => boolean): true | undefined;
}

/**
 * Runs `scenario` on five founders on a manual clock, everything drawn from
 * `seed`, and returns its transcript; every World is stopped after it, and
 * none may leave a timer behind.
 */
async function onManualClock(
  seed: number,
  scenario: (sim: SimWorld) => Promise<void>,
): Promise<Transcript> {
  const random = new SeededRandom(seed);
  const clock = new ManualClock();
  const transcript: Transcript = [];
  const note = (line: string) => transcript.push(`${clock.now()} ${line}`);
  const network = new MemoryNetwork(random, {
    clock,
    trace: (event) => transcript.push(describeEvent(event)),
  });
  const worlds = new Map<string, World>();
  const sim: SimWorld = {
    clock,
    random,
    network,
    worlds,
    note,
    open(node, founders) {
      const storages = { rack: new MemoryStorage(), world: new MemoryStorage() };
      const world = new World({
        nodeId: node.id,
        rack: node.rack,
        dir: "",
        founders,
        peers: network.transport(node.id),
        storage: (group) => Promise.resolve(storages[group]),
        random: new SeededRandom(random.nextU32()),
        tickMs: 100,
        electionTicks: 10,
        onRackLeader: (leading, term) => note(`${node.id} rack leader: ${leading} (term ${term})`),
        clock,
        observer: {
          softState: (group, soft, term) =>
            note(`${node.id} ${group}: ${soft.role}, leader '${soft.leader}', term ${term}`),
          worldChange: (change, index) => note(`${node.id} world #${index}: ${change}`),
        },
      });
      network.attach(node.id, world);
      worlds.set(node.id, world);
      return world;
    },
    async until(what, probe, withinMs = 30_000) {
      const deadline = clock.now() + withinMs;
      for (let value = probe();; value = probe()) {
        if (value !== undefined) {
          note(`reached: ${what}`);
          return value;
        }
        if (clock.now() >= deadline) {
          throw new Error(`seed ${seed}: no ${what} within ${withinMs} ms`);
        }
        await clock.advance(STEP_MS);
      }
    },
    command(from, change) {
      let outcome: "committed" | "failed" | undefined;
      const start = () => {
        note(`${from} proposes ${JSON.stringify(change)}`);
        outcome = undefined;
        worlds.get(from)!.propose(change).then(
          () => {
            outcome = "committed";
            note(`${from}'s proposal committed`);
          },
          (error: Error) => {
            outcome = "failed";
            note(`${from}'s proposal failed: ${error.message}`);
          },
        );
      };
      start();
      return () => {
        if (outcome === "failed") start();
        return outcome === "committed" ? true : undefined;
      };
    },
    knowsAll: (ids, check) => ids.every((id) => check(worlds.get(id)!)) ? true : undefined,
  };
  for (const node of FOUNDERS) sim.open(node, FOUNDERS);
  try {
    for (const world of worlds.values()) await world.start();
    await scenario(sim);
    note("end");
  } catch (error) {
    throw new Error(
      `${(error as Error).message}; the last lines but heartbeats:\n${
        transcript.filter((line) => !/heartbeat/.test(line)).slice(-60).join("\n")
      }`,
    );
  } finally {
    network.close();
    for (const world of worlds.values()) await world.stop();
  }
  assert.equal(clock.timers, 0, "stopped worlds and a closed network leave no timer behind");
  return transcript;
}

/** Until every founder knows all founders and a leader for each rack; returns those leaders. */
async function settled(sim: SimWorld): Promise<{ east: string; west: string }> {
  const all = FOUNDERS.map((n) => n.id);
  const east = await sim.until("an east leader", () => rackLeader(sim.worlds, "east", all));
  const west = await sim.until("a west leader", () => rackLeader(sim.worlds, "west", all));
  await sim.until(
    "every node to know all nodes and both rack leaders",
    () =>
      sim.knowsAll(all, (w) =>
        w.state.nodes.size === FOUNDERS.length &&
        w.state.rackLeaders.get("east")?.node === east &&
        w.state.rackLeaders.get("west")?.node === west),
  );
  return { east, west };
}

/**
 * The scenario of seed `seed` on a manual clock: five founders elect rack and
 * world leaders; the network then drops and delays batches at random; the
 * east rack leader is cut off, replaced, and the cut healed; the west rack
 * leader hands its rack to its peer; a sixth node joins west; an east
 * follower is removed. Which nodes are named for the commands, the drop rate
 * and every delay come from the seed.
 */
function replay(seed: number): Promise<Transcript> {
  return onManualClock(seed, async (sim) => {
    const { clock, network, random, worlds, note, until, knowsAll } = sim;
    const all = FOUNDERS.map((n) => n.id);
    const { east } = await settled(sim);

    network.dropRate = random.int(1, 10) / 100;
    network.delayMs = [1, random.int(5, 40)];
    note(`faults: drop ${network.dropRate}, delay ${network.delayMs}`);

    // A partition: the east leader alone on one side.
    note(`isolate ${east}`);
    network.isolate(east);
    const rest = all.filter((id) => id !== east);
    const eastIds = FOUNDERS.filter((n) => n.rack === "east").map((n) => n.id);
    const nextEast = await until("a new east leader", () => rackLeader(worlds, "east", rest));
    await until(
      "the world to record the new east leader",
      () => knowsAll(rest, (w) => w.state.rackLeaders.get("east")?.node === nextEast),
    );
    await clock.advance(random.int(0, 2_000));
    note("heal");
    network.heal();
    await until(
      "the cut-off leader to follow the new one",
      () => knowsAll(eastIds, (w) => w.rackLeader === nextEast),
    );

    // A transfer: west's leader hands the rack to its peer. Its timeoutNow can be lost, which
    // ends the transfer after an election timeout: then it is asked again, as an operator would.
    const westIds = ["w1", "w2"];
    const westNow = await until("one west leader", () => rackLeader(worlds, "west", westIds));
    const westNext = westIds.find((id) => id !== westNow)!;
    let askedAt = -Infinity;
    await until("west led by the other node", () => {
      const leader = rackLeader(worlds, "west", westIds);
      if (leader === westNext) return true;
      if (leader === undefined || clock.now() - askedAt < 2_000) return undefined;
      askedAt = clock.now();
      note(`${leader} transfers rack west to ${westNext}`);
      assert.ok(worlds.get(leader)!.transferRackLeadership(westNext), "the transfer was refused");
      return undefined;
    });

    // Membership: a node joins west through a command given to any node.
    const joining: WorldNode = { id: "w3", rack: "west", peer: "127.0.0.1:6" };
    await sim.open(joining, []).start();
    await until(
      "the addition to commit",
      sim.command(random.pick(all), { op: "addNode", node: joining }),
    );
    const six = [...all, "w3"];
    await until(
      "every node, the new one too, to know six nodes",
      () => knowsAll(six, (w) => w.state.nodes.size === 6),
    );
    await until(
      "w3 to vote in the world group and its rack's, as every node sees it",
      () =>
        knowsAll(
          six,
          (w) => w.status().every((g) => g.group === "rack:east" || g.conf.voters.includes("w3")),
        ),
    );

    // Membership: an east follower is removed.
    const eastLeader = worlds.get(nextEast)!.rackLeader;
    const gone = random.pick(FOUNDERS.filter((n) => n.rack === "east" && n.id !== eastLeader)).id;
    const remover = random.pick(six.filter((id) => id !== gone));
    await until("the removal to commit", sim.command(remover, { op: "removeNode", id: gone }));
    const left = six.filter((id) => id !== gone);
    await until(
      "every remaining node to know five nodes",
      () => knowsAll(left, (w) => w.state.nodes.size === 5 && !w.state.nodes.has(gone)),
    );
    await clock.advance(2_000);
  });
}

/** The first line where two transcripts differ, for a readable failure. */
function firstDifference(a: Transcript, b: Transcript): string | undefined {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) return `line ${i + 1}: ${JSON.stringify(a[i])} vs ${JSON.stringify(b[i])}`;
  }
  return undefined;
}

Deno.test("a seeded five-node world replays exactly on the manual clock, and another seed differs", async () => {
  const { result: first, reads } = await hostTimeReads(() => replay(7));
  assert.deepEqual(reads, [], "the world read the host's clock or randomness, or set a real timer");
  const second = await replay(7);
  assert.equal(firstDifference(first, second), undefined, "the same seed replayed differently");
  assert.equal(second.length, first.length);
  const other = await replay(8);
  assert.notEqual(firstDifference(first, other), undefined, "another seed gave the same run");
  // The transcript holds what the scenario promises to exercise.
  for (
    const pattern of [
      / delivered e\d->w\d world: /,
      / dropped /,
      / (cut|lost) /,
      / rack:east: leader, /,
      / rack leader: false /,
      / world #\d+: rack west led by /,
      / world #\d+: node w3 of rack west/,
      / world #\d+: node e\d removed/,
      / timeoutNow /,
      / proposal /,
    ]
  ) {
    assert.ok(first.some((line) => pattern.test(line)), `no line matches ${pattern}`);
  }
});

Deno.test("a rack leader elected while the world has no leader is recorded once it has one", async () => {
  // East's leader is cut off, and east from west: east elects a new rack leader, but no side
  // holds a majority of the world group (2 + 1 + 2 of 5) until east and west meet again, long
  // after the new leader's first reports gave up.
  await onManualClock(3, async (sim) => {
    const { network, worlds, note, until } = sim;
    const { east } = await settled(sim);
    const eastIds = FOUNDERS.filter((n) => n.rack === "east").map((n) => n.id);
    const westIds = FOUNDERS.filter((n) => n.rack === "west").map((n) => n.id);
    note(`isolate ${east}, cut east from west`);
    network.isolate(east);
    for (const e of eastIds) for (const w of westIds) network.cut(e, w);
    const rest = eastIds.filter((id) => id !== east);
    const next = await until("a new east leader", () => rackLeader(worlds, "east", rest));
    await sim.clock.advance(10_000);
    for (const world of worlds.values()) {
      const group = world.status().find((g) => g.group === "world")!;
      assert.equal(group.leader, "", `${world.options.nodeId} sees a world leader`);
      assert.notEqual(world.state.rackLeaders.get("east")?.node, next);
    }
    note("east meets west again");
    for (const e of rest) for (const w of westIds) network.mend(e, w);
    await until(
      "the world to record the new east leader",
      () =>
        sim.knowsAll([...rest, ...westIds], (w) => w.state.rackLeaders.get("east")?.node === next),
      10_000,
    );
  });
});
