/**
 * What the framework tests on a world share: three racks over Kafka (each
 * framework's producer and workers pointed at different racks), the number of
 * jobs, and the end check that every rack's Redis holds the same data key by
 * key (type, value digest, stored expiry, and each stream's groups, consumers
 * and pending entries), read directly.
 */

import assert from "node:assert/strict";
import { startWorld, useKafka, type World, type WorldRack } from "../harness/mod.ts";
import { FrameClient, text, withoutClockFields } from "../determinism/racks.ts";
import { decode } from "../determinism/racks.ts";
import { EXPIRY_SHIFT_MS } from "../../src/determinism/expiry.ts";
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

/**
 * Every key of db 0 of one Redis as the racks must agree on it; keys the log
 * has already expired (stored expiry below the shift: Redis removes them by
 * its own clock) are left out, since each rack sweeps them in its own time.
 */
async function keyStates(port: number): Promise<Map<string, string>> {
  await using client = await FrameClient.connect(port);
  await client.call("HELLO", "2");
  const keys = decode(await client.call("KEYS", "*"));
  const names = keys.type === "array" && keys.value !== null
    ? keys.value.map((k) => k.type === "bulk" && k.value !== null ? k.value : new Uint8Array())
    : [];
  const states = new Map<string, string>();
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
    states.set(new TextDecoder().decode(key), state);
  }
  return states;
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
  const [first, ...rest] = states;
  rest.forEach((other, i) => {
    const differing = [...new Set([...first!.keys(), ...other.keys()])]
      .filter((key) => first!.get(key) !== other.get(key))
      .slice(0, 5)
      .map((key) => `${key}: ${first!.get(key)} | ${other.get(key)}`);
    assert.deepEqual(differing, [], `rack0 and rack${i + 1} differ`);
  });
  return first!.size;
}

/** Reads `key` of db 0 from every rack's Redis directly. */
export async function readEverywhere(world: World, ...args: string[]): Promise<string[]> {
  return await Promise.all(
    world.racks.map(async (rack) => (await world.master(rack)).call(...args)),
  );
}
