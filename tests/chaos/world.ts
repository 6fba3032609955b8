/**
 * The chaos suite's world: Kafka (one broker or three), rack r0 of three Pylon
 * nodes and rack r1 of one, each rack's Redis a Sentinel-watched master and
 * replica, and every directed peer link through its own relay so any node can
 * be cut off. The world also reads back, independently of Pylon, what every
 * rack's Redis holds and what the log holds.
 */

import {
  type KafkaCluster,
  type PylonProcess,
  Relay,
  type SentinelRack,
  startKafka,
  startPylon,
  startRack,
  uniqueTopic,
  waitFor,
} from "../harness/mod.ts";
import { freePort } from "../harness/ports.ts";
import { createKafka } from "../../src/log/kafka_client.ts";
import { decodeOp } from "../../src/log/op.ts";
import { logTimeKey, positionKey } from "../../src/meta_keys.ts";
import { RedisClient, replyText } from "../../src/redis/client.ts";
import type { RespValue } from "../../src/resp/value.ts";
import type { KeyRecord, LoggedOp, RackData } from "./checker.ts";
import { parseStreamFull } from "./rack_data.ts";
import { decodeClaim } from "../../src/applier/claims.ts";
import type { ClientTarget } from "./clients.ts";

/** One node of the chaos world. */
export interface ChaosNode {
  id: string;
  rack: string;
  peerPort: number;
  pylon: PylonProcess;
}

/** One rack: its Sentinel-watched Redis and its nodes. */
export interface ChaosRack {
  name: string;
  redis: SentinelRack;
  nodes: ChaosNode[];
}

/** Options of {@linkcode ChaosWorld.start}. */
export interface ChaosWorldOptions {
  brokers: 1 | 3;
  /** Answer SET once logged (`--ack-log set`) instead of after apply. */
  ackLog: boolean;
  /** Racks and their node counts (default: r0 of three nodes, r1 of one). */
  racks?: [string, number][];
  /** More flags for every node. */
  args?: string[];
}

const META_DB = 15;
const RACK_SIZES: [string, number][] = [["r0", 3], ["r1", 1]];

/** A running chaos world. */
export class ChaosWorld implements AsyncDisposable {
  readonly kafka: KafkaCluster;
  readonly topic = uniqueTopic("chaos");
  readonly secret = `chaos-${crypto.randomUUID()}`;
  readonly racks: ChaosRack[] = [];
  /** `from>to` → the relay `from` dials to reach `to`. */
  readonly relays = new Map<string, Relay>();
  /** Nodes the nemesis stopped on purpose; any other exit is an anomaly. */
  readonly stoppedOnPurpose = new Set<string>();
  readonly unexpectedExits: string[] = [];
  /** What a fault's own check found wrong (tests/chaos/nemesis.ts), reported as anomalies. */
  readonly faultAnomalies: { kind: string; text: string }[] = [];
  readonly options: ChaosWorldOptions;

  private constructor(kafka: KafkaCluster, options: ChaosWorldOptions) {
    this.kafka = kafka;
    this.options = options;
  }

  static async start(options: ChaosWorldOptions): Promise<ChaosWorld> {
    const kafka = await startKafka({ nodes: options.brokers });
    const world = new ChaosWorld(kafka, options);
    try {
      const sizes = options.racks ?? RACK_SIZES;
      const plan = sizes.flatMap(([rack, size]) =>
        Array.from({ length: size }, (_, i) => ({ id: `${rack}n${i}`, rack, peerPort: freePort() }))
      );
      for (const from of plan) {
        for (const to of plan) {
          if (from !== to) {
            world.relays.set(
              `${from.id}>${to.id}`,
              await Relay.start({ host: "127.0.0.1", port: to.peerPort }),
            );
          }
        }
      }
      for (const [name] of sizes) {
        const redis = await startRack({ redis: { appendonly: "everysec" } });
        const rack: ChaosRack = { name, redis, nodes: [] };
        world.racks.push(rack);
        await Promise.all(
          plan.filter((p) => p.rack === name).map(async (slot) => {
            const peers = plan.filter((o) => o !== slot).flatMap((o) => [
              "--peer",
              `${o.id}@${o.rack}@${world.relays.get(`${slot.id}>${o.id}`)!.address}`,
            ]);
            const pylon = await startPylon({
              redis: { sentinels: redis.sentinelList, master: redis.masterName },
              args: [
                "--node-id",
                slot.id,
                "--rack",
                name,
                "--log",
                `kafka://${kafka.brokers.join(",")}/${world.topic}`,
                "--peer-listen",
                `127.0.0.1:${slot.peerPort}`,
                "--world-secret",
                world.secret,
                "--raft-tick-ms",
                "50",
                "--write-timeout-ms",
                "10000",
                ...(options.ackLog ? ["--ack-log", "set"] : []),
                ...(options.args ?? []),
                ...peers,
              ],
            });
            const node: ChaosNode = { ...slot, pylon };
            rack.nodes.push(node);
            world.#watch(node);
          }),
        );
        rack.nodes.sort((a, b) => a.id.localeCompare(b.id));
      }
      return world;
    } catch (error) {
      await world[Symbol.asyncDispose]();
      throw error;
    }
  }

  /** Every node. */
  get nodes(): ChaosNode[] {
    return this.racks.flatMap((r) => r.nodes);
  }

  /** Nodes clients may use now. */
  targets(): ClientTarget[] {
    const up = this.nodes.filter((n) => n.pylon.service.running);
    return (up.length > 0 ? up : this.nodes).map((n) => ({
      id: n.id,
      port: n.pylon.port,
      rack: n.rack,
    }));
  }

  /** Restarts a node the nemesis stopped, on its folder and port. */
  async restartNode(node: ChaosNode): Promise<void> {
    node.pylon = await node.pylon.startAgain();
    this.stoppedOnPurpose.delete(node.id);
    this.#watch(node);
  }

  /** Records a node's exit that nobody asked for. */
  #watch(node: ChaosNode): void {
    const pylon = node.pylon;
    void pylon.service.exited.then(async (status) => {
      if (this.stoppedOnPurpose.has(node.id) || node.pylon !== pylon) return;
      const tail = await pylon.service.logTail(15);
      this.unexpectedExits.push(`${node.id} exited with status ${status.code}\n${tail}`);
    });
  }

  /** The node of `rack` that leads it now, per its own PYLON INFO. */
  async leaderOf(rack: ChaosRack): Promise<ChaosNode | undefined> {
    for (const node of rack.nodes) {
      if (!node.pylon.service.running) continue;
      const info = await node.pylon.call("PYLON", "INFO").catch(() => "");
      if (/\r\nrack_role:leader\r\n/.test(info)) return node;
    }
    return undefined;
  }

  /**
   * How many times the running nodes of `rack` paused their applier for the
   * rack condition `reason` (`PYLON INFO`'s `rack_condition_<reason>`, since
   * each node's start).
   */
  async rackConditions(rack: ChaosRack, reason: string): Promise<number> {
    let total = 0;
    for (const node of rack.nodes) {
      if (!node.pylon.service.running) continue;
      const info = await node.pylon.call("PYLON", "INFO").catch(() => "");
      total += Number(new RegExp(`^rack_condition_${reason}:(\\d+)`, "m").exec(info)?.[1] ?? 0);
    }
    return total;
  }

  /** Cuts every peer link to and from `node`. */
  cut(node: ChaosNode): void {
    for (const [key, relay] of this.relays) {
      const [from, to] = key.split(">");
      if (from === node.id || to === node.id) relay.cut();
    }
  }

  /** Heals every peer link. */
  heal(): void {
    for (const relay of this.relays.values()) relay.heal();
  }

  /** The log's end (the high watermark of partition 0). */
  async logEnd(): Promise<number> {
    const admin = createKafka(this.kafka.brokers, { retries: 2 }).admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(this.topic);
      return Number(offsets.find((o) => o.partition === 0)!.high);
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * Waits until every rack's Redis has applied the whole log, read from the
   * position Pylon stores in each Redis itself, with the log's end stable.
   */
  async quiesce(timeoutMs: number): Promise<number> {
    let last = -1;
    let positions: number[] = [];
    return await waitFor("every rack to apply the whole log", async () => {
      const end = await this.logEnd();
      positions = await Promise.all(this.racks.map(async (rack) => {
        const master = await rack.redis.master();
        return Number(await master.call("-n", String(META_DB), "GET", positionKey(0)));
      }));
      const done = positions.every((p) => p === end) && end === last;
      last = end;
      return done ? end : undefined;
    }, {
      timeoutMs,
      intervalMs: 500,
      context: async () => {
        const lines: string[] = [
          `log end ${last}; applied, per each rack's Redis: ${
            this.racks.map((r, i) => `${r.name} ${positions[i]}`).join(", ")
          }`,
        ];
        for (const node of this.nodes) {
          if (!node.pylon.service.running) {
            lines.push(`${node.id}: not running`);
            continue;
          }
          const info = await node.pylon.info().catch(() => new Map<string, string>());
          const shown = [...info].filter(([k]) =>
            /^(role|partition_0|serves_reads|diverged|rebuild_phase)/.test(k)
          ).map(([k, v]) => `${k}=${v}`).join(" ");
          lines.push(`${node.id}: ${shown}`, await node.pylon.service.logTail(8));
        }
        return lines.join("\n");
      },
    });
  }

  /**
   * Every rack's keys in db 0, read from its master directly: per key, in one
   * MULTI, its type, stored expiry, DEBUG DIGEST-VALUE and its value (a
   * string's, a set's members, a stream's entries and groups).
   */
  async snapshot(): Promise<RackData[]> {
    return await Promise.all(this.racks.map(async (rack) => {
      const master = await rack.redis.master();
      const client = await RedisClient.connect({ host: master.host, port: master.port });
      try {
        const keys = arrayTexts(await client.command("KEYS", "*"));
        const data: RackData = { rack: rack.name, keys: new Map() };
        const types = await Promise.all(keys.map((k) => client.command("TYPE", k)));
        await Promise.all(keys.map(async (key, i) => {
          const type = replyText(types[i]!)!;
          const read = type === "string"
            ? ["GET", key]
            : type === "set"
            ? ["SMEMBERS", key]
            : type === "stream"
            ? ["XINFO", "STREAM", key, "FULL", "COUNT", "0"]
            : type === "list"
            ? ["LRANGE", key, "0", "-1"]
            : ["TYPE", key];
          const replies = await Promise.all([
            client.call("MULTI"),
            client.call("TYPE", key),
            client.call("PEXPIRETIME", key),
            client.call("DEBUG", "DIGEST-VALUE", key),
            client.call(...read),
            client.call("EXEC"),
          ]);
          const exec = replies[5]!;
          if (exec.type !== "array" || exec.value === null) {
            throw new Error(`reading ${key} on ${rack.name}: ${JSON.stringify(exec)}`);
          }
          const [typeNow, expiry, digest, value] = exec.value;
          // Gone meanwhile (Redis removing a key the log expired), or another type: skip it.
          if (type === "none" || replyText(typeNow!) !== type) return;
          if (expiry?.type !== "integer") {
            throw new Error(
              `PEXPIRETIME ${key} on ${rack.name} answered ${JSON.stringify(expiry)}`,
            );
          }
          const record: KeyRecord = {
            type,
            digest: replyText(arrayItem(digest!))!,
            storedExpiryMs: Number(expiry.value),
          };
          if (type === "string") record.value = replyText(value!)!;
          else if (type === "set") record.members = arrayTexts(value!);
          else if (type === "stream") record.stream = parseStreamFull(value!);
          else if (type === "list") record.items = arrayTexts(value!);
          data.keys.set(key, record);
        }));
        return data;
      } finally {
        client.close();
      }
    }));
  }

  /**
   * What claims still hold (src/applier/claims.ts), in every rack's metadata
   * db: the elements their put-back commands would push, by key.
   */
  async claims(): Promise<{ key: string; element: string }[]> {
    const held: { key: string; element: string }[] = [];
    for (const rack of this.racks) {
      const master = await rack.redis.master();
      const keys = (await master.call("-n", String(META_DB), "KEYS", "pylon:claims:*"))
        .split("\n").filter((k) => k !== "");
      for (const key of keys) {
        const client = await RedisClient.connect({ host: master.host, port: master.port });
        try {
          await client.command("SELECT", String(META_DB));
          const fields = await client.call("HGETALL", key);
          const values = fields.type === "array" && fields.value !== null ? fields.value : [];
          for (let i = 1; i < values.length; i += 2) {
            const v = values[i]!;
            if (v.type !== "bulk" || v.value === null) continue;
            const claim = decodeClaim(v.value);
            if (claim === undefined) continue;
            const [, list, ...rest] = claim.argv.map((a) => new TextDecoder().decode(a));
            for (const element of rest) held.push({ key: list!, element });
          }
        } finally {
          client.close();
        }
      }
    }
    return held;
  }

  /** The largest log time (partition 0) any rack's Redis holds now. */
  async logTime(): Promise<number> {
    const times = await Promise.all(this.racks.map(async (rack) => {
      const master = await rack.redis.master();
      return Number(await master.call("-n", String(META_DB), "GET", logTimeKey(0)));
    }));
    const time = Math.max(...times);
    if (!Number.isSafeInteger(time) || time <= 0) {
      throw new Error(`the racks' log times read ${times.join(", ")}`);
    }
    return time;
  }

  /** Rebuilds from a peer's snapshot every running node reports (`PYLON INFO rebuild`). */
  async rebuildsCompleted(): Promise<number> {
    let total = 0;
    for (const node of this.nodes) {
      if (!node.pylon.service.running) continue;
      const info = await node.pylon.call("PYLON", "INFO", "rebuild").catch(() => "");
      total += Number(/rebuilds_completed:(\d+)/.exec(info)?.[1] ?? 0);
    }
    return total;
  }

  /** Ops the log no longer holds (trimmed by the nemesis), by offset, kept for the checker. */
  readonly #archive = new Map<number, LoggedOp>();

  /**
   * The position every rack but `except` has applied (read from each one's
   * Redis): how far the log may lose its start without any other rack
   * lacking an op. Throws when a rack's position cannot be read (a rack
   * being rebuilt, a Redis down).
   */
  async appliedByAllBut(except: ChaosRack): Promise<number> {
    const positions = await Promise.all(
      this.racks.filter((r) => r !== except).map(async (rack) => {
        const master = await rack.redis.master();
        return Number(await master.call("-n", String(META_DB), "GET", positionKey(0)));
      }),
    );
    const upTo = Math.min(...positions);
    if (!Number.isSafeInteger(upTo)) {
      throw new Error(`not every other rack has a position now (${positions.join(", ")})`);
    }
    return upTo;
  }

  /**
   * Removes the log's records before `offset` (partition 0), as retention
   * does (Kafka's DeleteRecords), once they are read into the archive the
   * checker reads with the rest.
   */
  async trimLog(offset: number): Promise<void> {
    (await this.#readOps(offset)).forEach((op, at) => {
      if (op !== undefined) this.#archive.set(at, op);
    });
    const admin = createKafka(this.kafka.brokers, { retries: 2 }).admin();
    await admin.connect();
    try {
      // kafkajs deletes records only of topics whose metadata it has loaded.
      await admin.fetchTopicMetadata({ topics: [this.topic] });
      await admin.deleteTopicRecords({
        topic: this.topic,
        partitions: [{ partition: 0, offset: String(offset) }],
      });
    } finally {
      await admin.disconnect();
    }
  }

  /** Every op in the log up to `end`, read from the broker (and the archive of what it dropped). */
  async readLog(end: number): Promise<LoggedOp[]> {
    const ops = await this.#readOps(end);
    for (const [offset, op] of this.#archive) if (offset < end) ops[offset] ??= op;
    return ops.filter((op) => op !== undefined);
  }

  /** The ops the broker still holds before `end`, by offset. */
  async #readOps(end: number): Promise<(LoggedOp | undefined)[]> {
    const kafka = createKafka(this.kafka.brokers, { retries: 5 });
    const consumer = kafka.consumer({ groupId: `chaos-check-${crypto.randomUUID()}` });
    const ops: LoggedOp[] = [];
    const utf8 = new TextDecoder();
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: this.topic, fromBeginning: true });
      const done = Promise.withResolvers<void>();
      if (end === 0) done.resolve();
      await consumer.run({
        eachMessage: ({ message }) => {
          const offset = Number(message.offset);
          if (offset < end && message.value !== null) {
            const op = decodeOp(new Uint8Array(message.value));
            ops[offset] = {
              id: op.id,
              commands: op.commands.map((c) => c.map((a) => utf8.decode(a))),
            };
          }
          if (offset >= end - 1) done.resolve();
          return Promise.resolve();
        },
      });
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        done.promise,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error("reading the log took over 60 s")), 60_000);
        }),
      ]);
      clearTimeout(timer);
    } finally {
      await consumer.disconnect();
    }
    return ops;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const node of this.nodes) this.stoppedOnPurpose.add(node.id);
    for (const node of this.nodes) await node.pylon[Symbol.asyncDispose]();
    for (const relay of this.relays.values()) await relay[Symbol.asyncDispose]();
    for (const rack of this.racks) await rack.redis[Symbol.asyncDispose]();
    await this.kafka[Symbol.asyncDispose]();
  }
}

/** DEBUG DIGEST-VALUE answers an array of one digest per key. */
function arrayItem(value: RespValue): RespValue {
  return value.type === "array" && value.value !== null && value.value[0] !== undefined
    ? value.value[0]
    : value;
}

function arrayTexts(value: RespValue): string[] {
  return value.type === "array" && value.value !== null
    ? value.value.map((v) => replyText(v) ?? "")
    : [];
}
