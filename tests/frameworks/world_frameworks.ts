/**
 * What the framework tests on a world share: three racks over Kafka (each
 * framework's producer and workers pointed at different racks), the number of
 * jobs, and the end check that every rack's Redis holds the same data key by
 * key (type, value digest, stored expiry, and each stream's groups, consumers
 * and pending entries), read directly, leaving out keys the log has expired.
 */

import assert from "node:assert/strict";
import { startWorld, useKafka, type World, type WorldRack } from "../harness/mod.ts";
import { FrameClient, text, withoutClockFields } from "../determinism/racks.ts";
import { decode } from "../determinism/racks.ts";
import { EXPIRY_SHIFT_MS, isLogicallyExpired } from "../../src/determinism/expiry.ts";
import { waitConverged } from "../world/world.ts";

/**
 * Jobs per framework run: 200 in CI (two shared cores), `PYLON_FRAMEWORK_JOBS=1000`
 * for the full size.
 */
export const JOBS = Number(Deno.env.get("PYLON_FRAMEWORK_JOBS") ?? "200");

/** A world of three racks and its Kafka, disposed together. */
export interface FrameworkWorld extends AsyncDisposable {
  world: World;
  /** The URL of each rack's node (db 0). */
  url(rack: number): string;
  rack(n: number): WorldRack;
}

/** Starts three racks over Kafka (the suite's broker, or one of its own). */
export async function startFrameworkWorld(): Promise<FrameworkWorld> {
  const kafka = await useKafka();
  try {
    const world = await startWorld({
      brokers: kafka.brokers,
      racks: 3,
      args: ["--write-timeout-ms", "8000"],
    });
    return {
      world,
      url: (n) => `redis://127.0.0.1:${world.racks[n]!.pylon.port}/0`,
      rack: (n) => world.racks[n]!,
      async [Symbol.asyncDispose]() {
        await world[Symbol.asyncDispose]();
        await kafka[Symbol.asyncDispose]();
      },
    };
  } catch (error) {
    await kafka[Symbol.asyncDispose]();
    throw error;
  }
}

/** One key as a rack's Redis holds it: its stored expiry, and all the racks must agree on. */
export interface KeyState {
  /** `PEXPIRETIME` as stored (shifted, src/determinism/expiry.ts; -1 for none). */
  expiry: number;
  /** Type, stored expiry, value digest (and a stream's groups). */
  state: string;
}

/**
 * Every key of db 0 of one Redis; keys already marked expired (stored expiry
 * below the shift: Redis removes them by its own clock) are left out.
 */
async function keyStates(port: number): Promise<Map<string, KeyState>> {
  await using client = await FrameClient.connect(port);
  await client.call("HELLO", "2");
  const keys = decode(await client.call("KEYS", "*"));
  const names = keys.type === "array" && keys.value !== null
    ? keys.value.map((k) => k.type === "bulk" && k.value !== null ? k.value : new Uint8Array())
    : [];
  const states = new Map<string, KeyState>();
  for (const key of names) {
    const expiry = Number(text(await client.call("PEXPIRETIME", key)).replace(/^:|␍␊$/g, ""));
    if (expiry >= 0 && expiry < EXPIRY_SHIFT_MS) continue;
    const type = text(await client.call("TYPE", key));
    if (type === "+none␍␊") continue;
    let state = `${type} ${expiry} ${text(await client.call("DEBUG", "DIGEST-VALUE", key))}`;
    if (type === "+stream␍␊") {
      const full = decode(await client.call("XINFO", "STREAM", key, "FULL", "COUNT", "0"));
      state += ` ${JSON.stringify(withoutClockFields(full))}`;
    }
    states.set(new TextDecoder().decode(key), { expiry, state });
  }
  return states;
}

/**
 * The keys two racks disagree on (at most `max`, each with both states).
 * A key the log has expired by `logTimeMs` on either side is left out: each
 * rack's sweeper removes it at its own pace (src/applier/sweeper.ts), so one
 * rack may still hold it when another no longer does.
 */
export function differingKeys(
  first: Map<string, KeyState>,
  other: Map<string, KeyState>,
  logTimeMs: number,
  max = 5,
): string[] {
  const expired = (state: KeyState | undefined) =>
    state !== undefined && isLogicallyExpired(state.expiry, logTimeMs);
  return [...new Set([...first.keys(), ...other.keys()])]
    .filter((key) => !expired(first.get(key)) && !expired(other.get(key)))
    .filter((key) => first.get(key)?.state !== other.get(key)?.state)
    .slice(0, max)
    .map((key) => `${key}: ${first.get(key)?.state} | ${other.get(key)?.state}`);
}

/** The last db: Pylon's metadata db in these worlds. */
const META_DB = "15";

/** The latest log time any rack's applier reached (`pylon:applied-time:<partition>`, read directly). */
async function latestLogTime(world: World): Promise<number> {
  const times = await Promise.all(world.racks.map(async (rack) => {
    const master = await world.master(rack);
    const keys = (await master.call("-n", META_DB, "KEYS", "pylon:applied-time:*")).trim();
    if (keys === "") return [0];
    const values = await master.call("-n", META_DB, "MGET", ...keys.split("\n"));
    return values.split("\n").map(Number);
  }));
  return Math.max(...times.flat());
}

/**
 * Waits until every rack applied the whole log, then checks that every rack's
 * Redis holds the same keys with the same values; answers how many keys.
 */
export async function expectRacksEqual(world: World): Promise<number> {
  await waitConverged(world.racks);
  const states = await Promise.all(world.racks.map(async (rack) => {
    const master = await world.master(rack);
    return await keyStates(master.port);
  }));
  // Read after the keys: no rack swept by a later log time while they were read.
  const logTimeMs = await latestLogTime(world);
  const [first, ...rest] = states;
  rest.forEach((other, i) => {
    assert.deepEqual(differingKeys(first!, other, logTimeMs), [], `rack0 and rack${i + 1} differ`);
  });
  return first!.size;
}

/** Reads `key` of db 0 from every rack's Redis directly. */
export async function readEverywhere(world: World, ...args: string[]): Promise<string[]> {
  return await Promise.all(
    world.racks.map(async (rack) => (await world.master(rack)).call(...args)),
  );
}
