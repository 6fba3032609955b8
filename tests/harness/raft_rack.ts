/**
 * A rack of several Pylon nodes in front of one Sentinel-watched Redis,
 * logging to Kafka, with every directed peer link going through its own
 * relay so a test can partition any node from any other.
 */

import { freePort } from "./ports.ts";
import { type PylonProcess, startPylon } from "./pylon.ts";
import { type SentinelRack, startRack } from "./rack.ts";
import { uniqueTopic } from "./kafka.ts";
import { Relay } from "./relay.ts";
import { waitFor } from "./wait.ts";

/** One node of the rack. */
export interface RackNode {
  id: string;
  peerPort: number;
  pylon: PylonProcess;
}

/** The rack's nodes, its Redis, and the relays between nodes. */
export class RaftRack implements AsyncDisposable {
  readonly nodes: RackNode[] = [];
  readonly redis: SentinelRack;
  readonly topic = uniqueTopic("rack");
  readonly secret = `secret-${crypto.randomUUID()}`;
  /** `from>to` → the relay `from` dials to reach `to`. */
  readonly relays = new Map<string, Relay>();
  readonly brokers: string[];
  readonly tickMs: number;

  constructor(redis: SentinelRack, brokers: string[], tickMs: number) {
    this.redis = redis;
    this.brokers = brokers;
    this.tickMs = tickMs;
  }

  /** Flags every node of this rack shares. */
  commonArgs(id: string, peerPort: number): string[] {
    return [
      "--node-id",
      id,
      "--rack",
      "r0",
      "--log",
      `kafka://${this.brokers.join(",")}/${this.topic}`,
      "--peer-listen",
      `127.0.0.1:${peerPort}`,
      "--world-secret",
      this.secret,
      "--raft-tick-ms",
      String(this.tickMs),
      "--write-timeout-ms",
      "20000",
    ];
  }

  /** The node that leads the rack now, per its own PYLON INFO. */
  async leader(): Promise<RackNode | undefined> {
    for (const node of this.nodes) {
      if (!node.pylon.service.running) continue;
      try {
        if (/\r\nrack_role:leader\r\n/.test(await node.pylon.call("PYLON", "INFO"))) return node;
      } catch {
        // not answering
      }
    }
    return undefined;
  }

  /** Waits until one live node leads and applies; returns it. */
  async waitLeader(timeoutMs = 30_000, except?: RackNode): Promise<RackNode> {
    return await waitFor("a rack leader that applies", async () => {
      const leader = await this.leader();
      if (leader === undefined || leader === except) return undefined;
      const info = await leader.pylon.call("PYLON", "INFO");
      return /\r\npartition_0:(applying|waiting)\r\n/.test(info) ? leader : undefined;
    }, { timeoutMs, intervalMs: 25 });
  }

  /** Cuts every link between `node` and the others, both ways. */
  isolate(node: RackNode): void {
    for (const [key, relay] of this.relays) {
      const [from, to] = key.split(">");
      if (from === node.id || to === node.id) relay.cut();
    }
  }

  /** Heals every relay. */
  heal(): void {
    for (const relay of this.relays.values()) relay.heal();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const node of this.nodes) await node.pylon[Symbol.asyncDispose]();
    for (const relay of this.relays.values()) await relay[Symbol.asyncDispose]();
    await this.redis[Symbol.asyncDispose]();
  }
}

/** Starts a Sentinel rack and `count` peered nodes in front of it. */
export async function startRaftRack(brokers: string[], count = 3, tickMs = 50): Promise<RaftRack> {
  const redis = await startRack();
  const rack = new RaftRack(redis, brokers, tickMs);
  try {
    const ids = Array.from({ length: count }, (_, i) => `n${i}`);
    const peerPorts = new Map(ids.map((id) => [id, freePort()]));
    for (const from of ids) {
      for (const to of ids) {
        if (from !== to) {
          rack.relays.set(
            `${from}>${to}`,
            await Relay.start({ host: "127.0.0.1", port: peerPorts.get(to)! }),
          );
        }
      }
    }
    const target = { sentinels: redis.sentinelList, master: redis.masterName };
    await Promise.all(ids.map(async (id) => {
      const peerPort = peerPorts.get(id)!;
      const peers = ids.filter((o) => o !== id).flatMap((
        o,
      ) => ["--peer", `${o}@r0@${rack.relays.get(`${id}>${o}`)!.address}`]);
      const pylon = await startPylon({
        redis: target,
        args: [...rack.commonArgs(id, peerPort), ...peers],
      });
      rack.nodes.push({ id, peerPort, pylon });
    }));
    rack.nodes.sort((a, b) => a.id.localeCompare(b.id));
    await rack.waitLeader();
    return rack;
  } catch (error) {
    await rack[Symbol.asyncDispose]();
    throw error;
  }
}
