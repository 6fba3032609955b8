/**
 * A Jepsen-style run: concurrent clients on every rack of a chaos world, each
 * operation recorded with its invocation and completion times and its outcome
 * (ok, fail, unknown), while the nemesis kills nodes, restarts racks' Redis
 * with and without data, cuts peer links and restarts the Kafka broker. Then
 * every key's history goes through the linearizability checker, and every
 * rack's Redis is compared.
 *
 * Keys `c:*` are contentious (strong); keys `l:*` are local. On each: a
 * register (SET/GET), a counter (INCR/GET) and a set (SADD/SMEMBERS).
 */

import { RawClient, waitFor } from "../harness/mod.ts";
import { encodeCommand } from "../../src/resp/encoder.ts";
import type { RespValue } from "../../src/resp/value.ts";
import { SeededRandom } from "../../src/random.ts";
import { type FaultRecord, runNemesis } from "../chaos/nemesis.ts";
import { ChaosWorld } from "../chaos/world.ts";
import {
  checkHistory,
  type CounterInput,
  counterModel,
  type Operation,
  type RegisterInput,
  registerModel,
  type SetInput,
  setModel,
  type Verdict,
} from "./checker.ts";

/** The keys and what each holds. */
export const KEYS = {
  "c:reg": "register",
  "c:ctr": "counter",
  "c:set": "set",
  "l:reg": "register",
  "l:ctr": "counter",
  "l:set": "set",
} as const;
type Key = keyof typeof KEYS;

/** One recorded operation on a key. */
export interface Recorded {
  key: Key;
  op: Operation<unknown, unknown>;
}

/** Options of {@linkcode runJepsen}. */
export interface JepsenOptions {
  seed: number;
  durationMs: number;
  clientsPerRack: number;
  log: (line: string) => void;
}

/** What a run found. */
export interface JepsenReport {
  operations: number;
  byOutcome: { ok: number; fail: number; unknown: number };
  verdicts: Record<Key, Verdict>;
  faults: FaultRecord[];
  /** Keys whose value differs between racks' Redis at the end. */
  diverged: string[];
  unexpectedExits: string[];
}

const OP_TIMEOUT_MS = 15_000;
const utf8 = new TextDecoder();

function text(value: RespValue): string | null {
  if (value.type === "bulk") return value.value === null ? null : utf8.decode(value.value);
  if (value.type === "simple") return value.value;
  return null;
}

/** Runs the workload and the nemesis on `world`, then checks everything. */
export async function runJepsen(world: ChaosWorld, options: JepsenOptions): Promise<JepsenReport> {
  const history: Recorded[] = [];
  const byOutcome = { ok: 0, fail: 0, unknown: 0 };
  const origin = performance.now();
  const until = origin + options.durationMs;
  let clientId = 0;
  const workers = world.racks.flatMap((rack) =>
    Array.from({ length: options.clientsPerRack }, () => {
      const id = clientId++;
      const random = new SeededRandom(options.seed * 1000 + id);
      return runClient(
        id,
        random,
        () => {
          const up = rack.nodes.filter((n) => n.pylon.service.running);
          return (up.length > 0 ? up : rack.nodes)[0]!.pylon.port;
        },
        until,
        origin,
        (recorded, outcome) => {
          byOutcome[outcome]++;
          if (recorded !== undefined) history.push(recorded);
        },
      );
    })
  );
  const faults = await runNemesis(world, {
    seed: options.seed,
    durationMs: options.durationMs,
    faults: ["redis-empty", "node-kill", "peer-cut", "redis-kill", "broker-kill"],
    log: options.log,
    inTurn: true,
  });
  await Promise.all(workers);
  world.heal();
  await world.quiesce(120_000);

  // Last, a strong read of every contentious key on every rack, after everything settled.
  for (const rack of world.racks) {
    const port = rack.nodes.find((n) => n.pylon.service.running)!.pylon.port;
    await using client = await RawClient.connect(port);
    for (const key of Object.keys(KEYS) as Key[]) {
      if (!key.startsWith("c:")) continue;
      const call = performance.now() - origin;
      await client.send(encodeCommand(readCommand(key)));
      const reply = await client.read(OP_TIMEOUT_MS);
      history.push({ key, op: readOp(key, -1, reply, call, performance.now() - origin) });
    }
  }

  const verdicts = {} as Record<Key, Verdict>;
  for (const key of Object.keys(KEYS) as Key[]) {
    const ops = history.filter((h) => h.key === key).map((h) => h.op);
    const model = KEYS[key];
    verdicts[key] = model === "register"
      ? checkHistory(registerModel, ops as Operation<RegisterInput, string | null>[])
      : model === "counter"
      ? checkHistory(counterModel, ops as Operation<CounterInput, number | null>[])
      : checkHistory(setModel, ops as Operation<SetInput, number | readonly string[]>[]);
  }
  return {
    operations: history.length,
    byOutcome,
    verdicts,
    faults,
    diverged: await divergedKeys(world),
    unexpectedExits: world.unexpectedExits,
  };
}

function readCommand(key: Key): string[] {
  return KEYS[key] === "set" ? ["SMEMBERS", key] : ["GET", key];
}

function readOp(
  key: Key,
  client: number,
  reply: RespValue,
  call: number,
  ret: number,
): Operation<unknown, unknown> {
  if (KEYS[key] === "set") {
    const members = reply.type === "array" || reply.type === "set"
      ? (reply.value ?? []).map((v) => text(v) ?? "")
      : [];
    return { client, input: { kind: "read" }, output: members, call, ret };
  }
  const value = text(reply);
  const output = KEYS[key] === "counter" ? (value === null ? null : Number(value)) : value;
  return { client, input: { kind: "read" }, output, call, ret };
}

/** One client: a connection to its rack's node, one operation at a time, reconnecting on loss. */
async function runClient(
  id: number,
  random: SeededRandom,
  port: () => number,
  until: number,
  origin: number,
  record: (recorded: Recorded | undefined, outcome: "ok" | "fail" | "unknown") => void,
): Promise<void> {
  const keys = Object.keys(KEYS) as Key[];
  let client: RawClient | undefined;
  let n = 0;
  while (performance.now() < until) {
    if (client === undefined) {
      try {
        client = await RawClient.connect(port());
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
    }
    const key = keys[Math.floor(random.next() * keys.length)]!;
    const write = random.next() < 0.5;
    const token = `${id}-${n++}`;
    const argv = !write
      ? readCommand(key)
      : KEYS[key] === "register"
      ? ["SET", key, token]
      : KEYS[key] === "counter"
      ? ["INCR", key]
      : ["SADD", key, token];
    const call = performance.now() - origin;
    let reply: RespValue | undefined;
    try {
      await client.send(encodeCommand(argv));
      reply = await client.read(OP_TIMEOUT_MS);
    } catch {
      client.close();
      client = undefined;
    }
    const ret = performance.now() - origin;
    if (!write) {
      // A read that failed or timed out told nothing: it is left out.
      if (reply === undefined || reply.type === "error") {
        record(undefined, reply === undefined ? "unknown" : "fail");
        continue;
      }
      record({ key, op: readOp(key, id, reply, call, ret) }, "ok");
      continue;
    }
    const input = KEYS[key] === "register"
      ? { kind: "write", value: token }
      : KEYS[key] === "counter"
      ? { kind: "incr" }
      : { kind: "add", member: token };
    if (reply === undefined || reply.type === "error") {
      // An error after the request may have reached the log: it may take effect, or not.
      record({ key, op: { client: id, input, output: undefined, call, ret: Infinity } }, "unknown");
      continue;
    }
    const output = KEYS[key] === "register"
      ? text(reply)
      : reply.type === "integer"
      ? Number(reply.value)
      : undefined;
    record({ key, op: { client: id, input, output, call, ret } }, "ok");
  }
  client?.close();
}

/** Keys whose value differs between the racks' Redis (read from each master directly). */
async function divergedKeys(world: ChaosWorld): Promise<string[]> {
  const values = await Promise.all(world.racks.map(async (rack) => {
    const master = await rack.redis.master();
    const out: string[] = [];
    for (const key of Object.keys(KEYS) as Key[]) {
      const read = KEYS[key] === "set" ? ["SMEMBERS", key] : ["GET", key];
      const value = await master.call(...read);
      out.push(KEYS[key] === "set" ? value.split("\n").sort().join(",") : value);
    }
    return out;
  }));
  const keys = Object.keys(KEYS);
  return keys.filter((_, i) => values.some((v) => v[i] !== values[0]![i]));
}

export { waitFor };
