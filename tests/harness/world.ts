/**
 * A world for tests: racks that share one Kafka topic, each with its own
 * Redis (standalone, or a Sentinel rack) and a Pylon node, all peered with a
 * world secret.
 */

import { freePort } from "./ports.ts";
import { type PylonProcess, startPylon } from "./pylon.ts";
import { type RedisOptions, type RedisServer, startRedis } from "./redis.ts";
import { type SentinelRack, startRack } from "./rack.ts";
import { uniqueTopic } from "./kafka.ts";

/** A rack's name, its node's id and peer port, known before it starts. */
export interface RackSlot {
  name: string;
  nodeId: string;
  peerPort: number;
}

/** One rack of a test world. */
export interface WorldRack extends RackSlot {
  redis: RedisServer | SentinelRack;
  pylon: PylonProcess;
}

/** How one rack of a world differs from the others. */
export interface RackSetup {
  /** Its Redis's options (a standalone Redis only). */
  redis?: RedisOptions;
  /** More flags for its node. */
  args?: string[];
  /** More environment for its node (e.g. a shifted clock). */
  env?: Record<string, string>;
}

/** Options of {@linkcode startWorld}. */
export interface WorldOptions {
  brokers: string[];
  racks: number;
  /** Each rack's Redis is a Sentinel rack (master, replica, three Sentinels). */
  sentinel?: boolean;
  /** More flags for every node. */
  args?: string[];
  /** Per rack, in order, how it differs from the others. */
  setups?: RackSetup[];
  /** More flags for one rack's node (its own admin port, ...). */
  rackArgs?: (slot: RackSlot) => string[];
}

/** A running world. */
export class World implements AsyncDisposable {
  readonly racks: WorldRack[] = [];
  readonly topic: string;
  readonly secret: string;
  readonly brokers: string[];
  readonly args: string[];
  readonly rackArgs: (slot: RackSlot) => string[];

  constructor(
    brokers: string[],
    args: string[],
    rackArgs: (slot: RackSlot) => string[] = () => [],
  ) {
    this.brokers = brokers;
    this.args = args;
    this.rackArgs = rackArgs;
    this.topic = uniqueTopic("world");
    this.secret = `secret-${crypto.randomUUID()}`;
  }

  /** Where the rack's Redis master is now. */
  async master(rack: WorldRack): Promise<RedisServer> {
    return "sentinels" in rack.redis ? await rack.redis.master() : rack.redis;
  }

  /**
   * Flags that make a node of this world, peered with `others` (dialled at
   * `via`'s address for a node id it names, e.g. a relay, else directly).
   */
  nodeArgs(self: RackSlot, others: RackSlot[], via?: ReadonlyMap<string, string>): string[] {
    return [
      "--node-id",
      self.nodeId,
      "--rack",
      self.name,
      "--log",
      `kafka://${this.brokers.join(",")}/${this.topic}`,
      "--peer-listen",
      `127.0.0.1:${self.peerPort}`,
      "--world-secret",
      this.secret,
      ...others.flatMap((o) => [
        "--peer",
        `${o.nodeId}@${o.name}@${via?.get(o.nodeId) ?? `127.0.0.1:${o.peerPort}`}`,
      ]),
      ...this.args,
      ...this.rackArgs(self),
    ];
  }

  /**
   * Adds a rack (a new Redis, possibly empty, and a node). Nodes already
   * running learn of it only if they were started knowing its peer address,
   * so {@linkcode startWorld} reserves addresses for racks added later.
   */
  async addRack(
    slot: { name: string; nodeId: string; peerPort: number },
    sentinel: boolean,
    setup: RackSetup & { via?: ReadonlyMap<string, string> } = {},
  ): Promise<WorldRack> {
    const redis = sentinel ? await startRack() : await startRedis(setup.redis);
    const others = this.#planned.filter((p) => p.nodeId !== slot.nodeId);
    const target = "sentinels" in redis
      ? { sentinels: redis.sentinelList, master: redis.masterName }
      : { url: redis.url };
    const pylon = await startPylon({
      redis: target,
      args: [...this.nodeArgs(slot, others, setup.via), ...(setup.args ?? [])],
      ...(setup.env === undefined ? {} : { env: setup.env }),
    }).catch(async (error) => {
      await redis[Symbol.asyncDispose]();
      throw error;
    });
    const rack: WorldRack = { ...slot, redis, pylon };
    this.racks.push(rack);
    return rack;
  }

  /** Every rack's name, node id and peer port, including ones not started yet. */
  #planned: RackSlot[] = [];

  plan(count: number): RackSlot[] {
    for (let i = this.#planned.length; i < count; i++) {
      this.#planned.push({ name: `rack${i}`, nodeId: `node${i}`, peerPort: freePort() });
    }
    return this.#planned;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const rack of this.racks) await rack.pylon[Symbol.asyncDispose]();
    for (const rack of this.racks) await rack.redis[Symbol.asyncDispose]();
  }
}

/** Starts `racks` racks; `reserve` more slots can be added later with {@linkcode World.addRack}. */
export async function startWorld(options: WorldOptions & { reserve?: number }): Promise<World> {
  const world = new World(options.brokers, options.args ?? [], options.rackArgs);
  const slots = world.plan(options.racks + (options.reserve ?? 0));
  try {
    for (const [i, slot] of slots.slice(0, options.racks).entries()) {
      await world.addRack(slot, options.sentinel ?? false, options.setups?.[i]);
    }
    return world;
  } catch (error) {
    await world[Symbol.asyncDispose]();
    throw error;
  }
}
