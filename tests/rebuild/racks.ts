/**
 * Helpers of the rebuild tests: a workload of every data type written
 * through Pylon, a reading of each rack's Redis key by key (type, stored
 * expiry, value digest), and Sentinel's view of a rack.
 */

import assert from "node:assert/strict";
import { delay, RawClient, type RedisServer, type SentinelRack, waitFor } from "../harness/mod.ts";
import type { World, WorldRack } from "../harness/mod.ts";
import { RedisClient, replyText } from "../../src/redis/client.ts";
import type { RespValue } from "../../src/resp/value.ts";

/** Pylon's metadata db in the test worlds (the last of 16). */
export const META_DB = 15;

/** Client dbs the workload writes to. */
export const DATA_DBS = [0, 3];

/**
 * Writes `count` keys of every type through `port`, pipelined, in dbs 0 and
 * 3: strings (some with an expiry, some integers), hashes, lists, sets,
 * sorted sets, streams with a consumer group, large values that need more
 * than one frame, and a function library.
 */
export async function writeData(port: number, prefix: string, count: number): Promise<void> {
  await using client = await RawClient.connect(port);
  const commands: string[][] = [];
  for (let i = 0; i < count; i++) {
    const k = `${prefix}:${i}`;
    switch (i % 9) {
      case 0:
        commands.push(["SET", `s:${k}`, `value-${i}`]);
        break;
      case 1:
        commands.push(["SET", `e:${k}`, `expiring-${i}`, "EX", String(3_600 + i)]);
        break;
      case 2:
        commands.push(["INCRBY", `n:${k}`, String(i)]);
        break;
      case 3:
        commands.push(["HSET", `h:${k}`, "a", String(i), "b", "x".repeat(i % 200)]);
        break;
      case 4:
        commands.push([
          "RPUSH",
          `l:${k}`,
          ...Array.from({ length: 1 + (i % 40) }, (_, j) => `e${j}`),
        ]);
        break;
      case 5:
        commands.push([
          "SADD",
          `t:${k}`,
          ...Array.from({ length: 1 + (i % 30) }, (_, j) => String(j)),
        ]);
        break;
      case 6:
        commands.push(["ZADD", `z:${k}`, "1.5", "a", String(i), "b", "-3", `m${i}`]);
        break;
      case 7:
        commands.push(["XADD", `x:${k}`, "*", "f", String(i)]);
        if (i % 63 === 7) commands.push(["XGROUP", "CREATE", `x:${k}`, "g", "0"]);
        break;
      case 8:
        // Values Redis cannot compress; some of 300 KB, longer than a frame of the transfer.
        commands.push(["SET", `big:${k}`, noise(i % 900 === 8 ? 300_000 : 2_000)]);
        break;
    }
  }
  commands.push(["SELECT", "3"]);
  for (let i = 0; i < count / 10; i++) {
    commands.push(["HSET", `db3:${prefix}:${i}`, "f", String(i)]);
  }
  commands.push(["SELECT", "0"]);
  for (let at = 0; at < commands.length; at += 500) {
    const batch = commands.slice(at, at + 500);
    for (const argv of batch) await client.command(...argv);
    for (const argv of batch) {
      const reply = await client.read(30_000);
      if (reply.type === "error") throw new Error(`${argv.join(" ")}: ${reply.value}`);
    }
  }
}

/** `length` characters Redis's LZF cannot shrink. */
export function noise(length: number): string {
  const bytes = new Uint8Array(Math.ceil(length * 3 / 4));
  for (let at = 0; at < bytes.length; at += 65_536) {
    crypto.getRandomValues(bytes.subarray(at, at + 65_536));
  }
  let text = "";
  for (let at = 0; at < bytes.length; at += 30_000) {
    text += btoa(String.fromCharCode(...bytes.subarray(at, at + 30_000)));
  }
  return text.slice(0, length);
}

/** Writes that keep coming through some racks until stopped; counts what was answered. */
export function keepWriting(
  ports: number[],
  prefix: string,
): { stop(): Promise<{ written: number; failed: number }> } {
  let stopped = false;
  let written = 0;
  let failed = 0;
  const run = async (port: number, n: number) => {
    let client: RawClient | undefined;
    let i = 0;
    while (!stopped) {
      try {
        client ??= await RawClient.connect(port);
        const key = `${prefix}:${n}:${i++}`;
        await client.command("SET", key, String(i), "PX", String(7_200_000 + i));
        await client.command("HINCRBY", `${prefix}:h`, String(n), "1");
        const a = await client.read(10_000);
        const b = await client.read(10_000);
        if (a.type !== "error" && b.type !== "error") written++;
        else failed++;
        if (i % 50 === 0) await delay(5);
      } catch {
        client?.close();
        client = undefined;
        await delay(100);
      }
    }
    client?.close();
  };
  const running = ports.map((port, n) => run(port, n));
  return {
    async stop() {
      stopped = true;
      await Promise.all(running);
      return { written, failed };
    },
  };
}

/** Every key of `dbs` in `server`: `db:key` → `type expiry digest`, read in one MULTI per key. */
export async function readKeys(
  server: RedisServer,
  dbs: number[] = DATA_DBS,
): Promise<Map<string, string>> {
  const client = await RedisClient.connect({ host: server.host, port: server.port });
  try {
    const out = new Map<string, string>();
    for (const db of dbs) {
      await client.command("SELECT", String(db));
      const keys = texts(await client.command("KEYS", "*"));
      const replies = await Promise.all(keys.flatMap((key) => [
        client.call("MULTI"),
        client.call("TYPE", key),
        client.call("PEXPIRETIME", key),
        client.call("DEBUG", "DIGEST-VALUE", key),
        client.call("EXEC"),
      ]));
      keys.forEach((key, i) => {
        const exec = replies[i * 5 + 4]!;
        if (exec.type !== "array" || exec.value === null) throw new Error(`reading ${key}`);
        const [type, expiry, digest] = exec.value;
        out.set(
          `${db}:${key}`,
          `${replyText(type!)} ${shownNumber(expiry!)} ${texts(digest!).join("")}`,
        );
      });
    }
    return out;
  } finally {
    client.close();
  }
}

/**
 * Compares every rack's Redis key by key (type, stored expiry, value
 * digest) in the client dbs, and their applied positions; returns the key
 * count.
 */
export async function assertRacksEqual(world: World): Promise<number> {
  const racks = await Promise.all(
    world.racks.map(async (rack) => ({ rack, keys: await readKeys(await world.master(rack)) })),
  );
  const [first, ...rest] = racks;
  for (const other of rest) {
    const missing = [...first!.keys.keys()].filter((k) => !other.keys.has(k));
    const extra = [...other.keys.keys()].filter((k) => !first!.keys.has(k));
    const differ = [...first!.keys].filter(([k, v]) =>
      other.keys.has(k) && other.keys.get(k) !== v
    );
    assert.deepEqual(
      { missing: missing.slice(0, 5), extra: extra.slice(0, 5), differ: differ.slice(0, 5) },
      { missing: [], extra: [], differ: [] },
      `${other.rack.name} against ${first!.rack.name}: ${missing.length} missing, ` +
        `${extra.length} extra, ${differ.length} different of ${first!.keys.size}`,
    );
  }
  const positions = await Promise.all(world.racks.map(async (rack) => {
    const master = await world.master(rack);
    return await master.call("-n", String(META_DB), "GET", "pylon:applied:0");
  }));
  assert.equal(new Set(positions).size, 1, `applied positions ${positions.join(", ")}`);
  return first!.keys.size;
}

/** What a rack's Sentinels say: the master, its config epoch, the replicas they know. */
export async function sentinelView(rack: SentinelRack): Promise<string[]> {
  return await Promise.all(rack.sentinels.map(async (sentinel) => {
    const state = await sentinel.masterState();
    const replicas = (await sentinel.call("SENTINEL", "REPLICAS", rack.masterName))
      .split("\n").filter((_line, i, all) => all[i - 1] === "name");
    return `master=${state.get("ip")}:${state.get("port")} epoch=${state.get("config-epoch")} ` +
      `flags=${state.get("flags")} replicas=${replicas.sort().join(",")}`;
  }));
}

/** `PYLON INFO` of a rack's node as a map. */
export function info(rack: WorldRack): Promise<Map<string, string>> {
  return rack.pylon.info();
}

/** Waits until `rack` has applied partition 0 up to `offset`. */
export async function waitApplied(rack: WorldRack, offset: number): Promise<void> {
  await waitFor(`${rack.name} to apply up to ${offset}`, async () => {
    const applied = Number((await info(rack)).get("partition_0_applied"));
    return applied >= offset ? true : undefined;
  }, { timeoutMs: 60_000, intervalMs: 100 });
}

/** Waits until `rack` reports `phase` in its Rebuild section. */
export async function waitRebuildPhase(
  rack: WorldRack,
  phases: string[],
  timeoutMs = 120_000,
): Promise<Map<string, string>> {
  return await waitFor(`${rack.name} to reach rebuild phase ${phases.join("|")}`, async () => {
    const i = await info(rack).catch(() => undefined);
    return i !== undefined && phases.includes(i.get("rebuild_phase") ?? "") ? i : undefined;
  }, {
    timeoutMs,
    intervalMs: 100,
    context: async () =>
      [...(await info(rack).catch(() => new Map<string, string>()))]
        .filter(([k]) => /rebuild|partition_0|serves/.test(k)).map(([k, v]) => `${k}:${v}`)
        .join("\n") + "\n" + await rack.pylon.service.logTail(20),
  });
}

function texts(value: RespValue): string[] {
  return value.type === "array" && value.value !== null
    ? value.value.map((v) => replyText(v) ?? "")
    : [replyText(value) ?? ""];
}

function shownNumber(value: RespValue): string {
  return value.type === "integer" ? String(value.value) : JSON.stringify(value);
}
