/**
 * The nemesis: a seeded schedule of faults against the chaos world. Each step
 * picks a fault and a target, holds it for one to four seconds, heals it, and
 * lets the world run calm for one to three seconds. Every step is recorded
 * (what, on what, when it began and was healed) for the report and for
 * recovery figures.
 */

import { SeededRandom } from "../../src/random.ts";
import { positionKey } from "../../src/meta_keys.ts";
import { delay, type RedisBinary, type RedisServer, waitFor } from "../harness/mod.ts";
import type { ChaosNode, ChaosRack, ChaosWorld } from "./world.ts";

/** The faults the nemesis knows. */
export const FAULTS = [
  "broker-kill", // kill -9 of a Kafka broker, restarted after the hold
  "broker-pause", // SIGSTOP of a Kafka broker, SIGCONT after the hold
  "node-kill", // kill -9 of a Pylon node, restarted after the hold
  "leader-pause", // SIGSTOP of the three-node rack's leader
  "redis-kill", // kill -9 of a rack's Redis master, restarted with its data (AOF)
  "redis-failover", // SENTINEL FAILOVER in a rack
  "redis-empty", // a rack's Redis master restarted without its data
  // ... and the log's start moved past what it lacks (as retention would): rebuilt from a peer.
  "redis-empty-retention",
  "redis-oom", // maxmemory lowered below the dataset, raised after the hold
  // A setting of the world's contract changed on one rack's Redis directly (CONFIG SET there):
  // that rack must pause, not apply ops differently; set back after the hold.
  "redis-config",
  // A rack's Redis master restarted on Redis 6.2, below the world's version floor (in a folder of
  // its own: 6.2 cannot read Redis 7's data), back on Redis 7 and its data after the hold: that
  // rack must pause naming the version and apply nothing there.
  "redis-version",
  "peer-cut", // every peer link of a node cut, healed after the hold
  // A lagging rack: it applies the log late while the others go on.
  "redis-write-pause", // CLIENT PAUSE <200..3000 ms> WRITE on a rack's Redis master directly
  "rack-stop", // SIGSTOP of every node of a rack (its applier too), SIGCONT after the hold
] as const;

/**
 * Contract settings (src/cluster/rack_contract.ts) a `redis-config` fault
 * changes, to values that would change outcomes. An evicting policy is set
 * with no `maxmemory`, so Redis has nothing to evict before the applier's
 * next check pauses it (within 5 s; with a full Redis, keys evicted in that
 * window would be the divergence check's to find).
 */
const CONTRACT_CHANGES: readonly (readonly [string, string])[] = [
  ["maxmemory-policy", "allkeys-lru"],
  ["proto-max-bulk-len", "1048576"],
  ["stream-node-max-entries", "7"],
  ["hll-sparse-max-bytes", "100"],
  ["sanitize-dump-payload", "yes"],
];

/** A fault's name. */
export type Fault = typeof FAULTS[number];

/** One step of the schedule. */
export interface FaultRecord {
  fault: Fault;
  target: string;
  startMs: number;
  healedMs: number;
  error?: string;
}

/** Options of {@linkcode runNemesis}. */
export interface NemesisOptions {
  seed: number;
  durationMs: number;
  faults: readonly Fault[];
  log: (line: string) => void;
  /** Take the faults in turn (each one early in a short run) instead of at random. */
  inTurn?: boolean;
  /** The Redis below the world's version floor `redis-version` restarts a master on. */
  olderRedis?: RedisBinary;
}

/** Runs the schedule until `durationMs` has passed; returns what it did. */
export async function runNemesis(
  world: ChaosWorld,
  options: NemesisOptions,
): Promise<FaultRecord[]> {
  const random = new SeededRandom(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random.next() * items.length)]!;
  const records: FaultRecord[] = [];
  const end = performance.now() + options.durationMs;
  let turn = 0;
  while (performance.now() < end) {
    const fault = options.inTurn === true
      ? options.faults[turn++ % options.faults.length]!
      : pick(options.faults);
    const holdMs = 1_000 + Math.floor(random.next() * 3_000);
    const calmMs = 1_000 + Math.floor(random.next() * 2_000);
    const startMs = performance.now();
    let target = "";
    let error: string | undefined;
    try {
      const heal = await inflict(world, fault, {
        pick,
        random: () => random.next(),
        named: (t) => target = t,
        ...(options.olderRedis === undefined ? {} : { olderRedis: options.olderRedis }),
      });
      options.log(`nemesis: ${fault} ${target} for ${holdMs} ms`);
      const named = target;
      await delay(holdMs);
      await heal();
      // A heal may name what it saw (redis-version).
      if (target !== named) options.log(`nemesis: ${fault} healed: ${target}`);
    } catch (e) {
      error = (e as Error).message;
      options.log(`nemesis: ${fault} ${target} failed: ${error}`);
    }
    const record: FaultRecord = { fault, target, startMs, healedMs: performance.now() };
    if (error !== undefined) record.error = error;
    records.push(record);
    await delay(calmMs);
  }
  return records;
}

/** What a fault is inflicted with: the seeded choices it makes, and where it names its target. */
interface Means {
  pick: <T>(items: readonly T[]) => T;
  /** A uniform number in [0, 1). */
  random: () => number;
  /** Names (or renames, with what was seen by the heal) the fault's target for the record. */
  named: (target: string) => void;
  olderRedis?: RedisBinary;
}

/** Inflicts `fault`; returns what heals it. */
async function inflict(
  world: ChaosWorld,
  fault: Fault,
  { pick, random, named, olderRedis }: Means,
): Promise<() => Promise<void>> {
  const brokerId = () => pick(world.kafka.nodes.map((n) => n.id));
  const rack = (): ChaosRack => pick(world.racks);
  switch (fault) {
    case "broker-kill": {
      const id = brokerId();
      named(`kafka-${id}`);
      await world.kafka.kill(id);
      return () => world.kafka.restart(id);
    }
    case "broker-pause": {
      const id = brokerId();
      named(`kafka-${id}`);
      world.kafka.pause(id);
      return () => Promise.resolve(world.kafka.resume(id));
    }
    case "node-kill": {
      const node: ChaosNode = pick(world.nodes.filter((n) => n.pylon.service.running));
      named(node.id);
      world.stoppedOnPurpose.add(node.id);
      await node.pylon.kill();
      return () => world.restartNode(node);
    }
    case "leader-pause": {
      const big = world.racks.find((r) => r.nodes.length > 1)!;
      const leader = await world.leaderOf(big);
      if (leader === undefined) throw new Error(`rack ${big.name} has no leader to pause`);
      named(leader.id);
      leader.pylon.service.pause();
      return () => Promise.resolve(leader.pylon.service.resume());
    }
    case "redis-kill": {
      const r = rack();
      const master = await r.redis.master();
      named(`${r.name}:redis-${master.port}`);
      await master.kill();
      return async () => {
        await master.restart();
        await settled(r);
      };
    }
    case "redis-failover": {
      const r = rack();
      named(r.name);
      await r.redis.failover();
      return () => Promise.resolve();
    }
    case "redis-empty": {
      const r = rack();
      const master = await r.redis.master();
      named(`${r.name}:redis-${master.port}`);
      await master.kill();
      await master.wipe();
      await master.restart();
      return async () => {
        await settled(r);
      };
    }
    case "redis-empty-retention": {
      const r = rack();
      // As far as every other rack applied (a retention that covers their lag), no further.
      const upTo = await world.appliedByAllBut(r);
      const master = await r.redis.master();
      named(`${r.name}:redis-${master.port} (log from ${upTo})`);
      await master.kill();
      await master.wipe();
      await master.restart();
      await world.trimLog(upTo);
      return async () => {
        await settled(r);
      };
    }
    case "redis-oom": {
      const r = rack();
      const master = await r.redis.master();
      named(`${r.name}:redis-${master.port}`);
      const used = Number(/used_memory:(\d+)/.exec(await master.call("INFO", "memory"))![1]);
      await master.call("CONFIG", "SET", "maxmemory", String(Math.floor(used / 2)));
      return async () => {
        await master.call("CONFIG", "SET", "maxmemory", "0");
      };
    }
    case "redis-config": {
      const r = rack();
      const master = await r.redis.master();
      const [setting, value] = pick(CONTRACT_CHANGES);
      const before = (await master.call("CONFIG", "GET", setting)).split("\n")[1]!;
      named(`${r.name}:redis-${master.port} ${setting} ${before} -> ${value}`);
      await master.call("CONFIG", "SET", setting, value);
      return async () => {
        await master.call("CONFIG", "SET", setting, before);
      };
    }
    case "redis-version": {
      if (olderRedis === undefined) {
        throw new Error("no Redis below the world's version floor was given (options.olderRedis)");
      }
      const r = rack();
      const master = await r.redis.master();
      const own = /^redis_version:(\S+)/m.exec(await master.call("INFO", "server"))?.[1] ?? "?";
      const what = `${r.name}:redis-${master.port} ${own} -> ${olderRedis.version}`;
      named(what);
      const pausesBefore = await world.rackConditions(r, VERSION_CONDITION);
      // Its replica may not sync from it (it would be emptied too): a failover while the master
      // restarts promotes a replica that kept the rack's data, as after redis-kill.
      await master.restartOnOtherVersion(olderRedis, {
        user: "default on nopass ~* &* +@all -sync -psync",
      });
      return async () => {
        try {
          named(`${what} (${await onOtherVersion(world, r, master, pausesBefore)})`);
        } finally {
          await master.restartOnOwnVersion();
        }
        await settled(r);
      };
    }
    case "peer-cut": {
      const node = pick(world.nodes);
      named(node.id);
      world.cut(node);
      return () => Promise.resolve(world.heal());
    }
    case "redis-write-pause": {
      const r = rack();
      const master = await r.redis.master();
      const pauseMs = 200 + Math.floor(random() * 2_800);
      named(`${r.name}:redis-${master.port} (${pauseMs} ms)`);
      await master.call("CLIENT", "PAUSE", String(pauseMs), "WRITE");
      return async () => {
        await master.call("CLIENT", "UNPAUSE");
      };
    }
    case "rack-stop": {
      const r = rack();
      const nodes = r.nodes.filter((n) => n.pylon.service.running);
      named(`${r.name} (${nodes.map((n) => n.id).join(",")})`);
      for (const node of nodes) node.pylon.service.pause();
      return () => Promise.resolve(nodes.forEach((n) => n.pylon.service.resume()));
    }
  }
}

/**
 * Waits until the Sentinels of `rack` agree on a master and its replica
 * follows it, whichever it is: a failover may still be under way.
 */
async function settled(rack: ChaosRack): Promise<void> {
  await waitFor("the rack's Sentinels to settle on a master", async () => {
    await rack.redis.waitSettled(await rack.redis.master(), 10_000);
    return true;
  }, { timeoutMs: 60_000 });
}

/** The rack condition (src/observe/rack_conditions.ts) of a Redis below the world's version floor. */
const VERSION_CONDITION = "contract_redis_version";

/** Pylon's metadata db in the chaos world (each rack's last of 16). */
const META_DB = "15";

/**
 * What a rack did while `server`, its master, ran below the world's version
 * floor, said for the fault's record; read from its Redis directly, an op
 * applied there (a position stored, a key outside the metadata db) is an
 * anomaly. Sentinel may have failed over while the server restarted: then it
 * came back a replica (that cannot load Redis 7's snapshot) and the rack
 * applied on its Redis 7 as usual.
 */
async function onOtherVersion(
  world: ChaosWorld,
  rack: ChaosRack,
  server: RedisServer,
  pausesBefore: number,
): Promise<string> {
  const role = /^role:(\S+)/m.exec(await server.call("INFO", "replication"))?.[1];
  const master = await rack.redis.master();
  if (master.port !== server.port || role !== "master") {
    return `failed over meanwhile to redis-${master.port}: this one a ${role} there`;
  }
  const position = await server.call("-n", META_DB, "GET", positionKey(0));
  const dbs = [...(await server.call("INFO", "keyspace")).matchAll(/^db(\d+):keys=(\d+)/gm)]
    .filter(([, db]) => db !== META_DB).map(([, db, keys]) => `db${db} ${keys} keys`);
  const applied = position !== "" || dbs.length > 0
    ? `position '${position}'${dbs.length > 0 ? `, ${dbs.join(", ")}` : ""}`
    : undefined;
  if (applied !== undefined) {
    world.faultAnomalies.push({
      kind: "applied_below_version_floor",
      text: `${rack.name}'s applier applied to a Redis below the world's version floor ` +
        `(redis-${server.port}: ${applied})`,
    });
  }
  const pauses = await world.rackConditions(rack, VERSION_CONDITION) - pausesBefore;
  const seen = applied === undefined ? "nothing applied there" : `applied there: ${applied}`;
  return `master on it, ${seen}, ${pauses} pause(s) for redis_version`;
}
