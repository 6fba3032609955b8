/**
 * Time clients: workloads whose outcome depends on time or chance, which
 * every rack must decide alike from the log (issue 23). Raw RESP connections
 * with no hidden retries, recorded as the basic clients' are (history.ts),
 * plus the host's wall clock at invocation and completion, since an op's log
 * time lies between the two.
 *
 * Each client runs a seeded mix of:
 * - keys with expiries at every scale, 1 ms to minutes (`SET .. PX|EX`, then
 *   `EXPIRE`/`PEXPIRE` with or without NX|XX|GT|LT, `PERSIST`, `GETEX`), each
 *   key written by its client alone so the checker can follow it;
 * - writes aimed at an expiry: a key set with a TTL of a few ms to a few
 *   hundred, then `INCR`, `APPEND` or `SET .. NX` sent through a node of
 *   another rack within a few ms of when it expires;
 * - streams: `XADD .. MAXLEN .. *` (and `<ms>-*`, served today), consumer
 *   groups, `XREADGROUP` without BLOCK, `XACK`, `XCLAIM`/`XAUTOCLAIM` with
 *   small min-idle times;
 * - sets filled with unique members by `SADD` from several racks and emptied by
 *   `SPOP` with and without a count;
 * - scripts that call `TIME`, `XADD *`, `SPOP`, `SRANDMEMBER`, `TTL` and write
 *   what they got to a key of their own, and one that sets a relative `EXPIRE`.
 *
 * A command Pylon does not serve yet is refused ("refused by Pylon", or the
 * restricted script user's error): recorded as `refused`, never an anomaly.
 */

import { SeededRandom } from "../../src/random.ts";
import { delay, RawClient } from "../harness/mod.ts";
import type { RespValue } from "../../src/resp/value.ts";
import { type Entry, type Outcome, type TimeKind, writeErrorOutcome } from "./history.ts";
import type { Clients, ClientTarget } from "./clients.ts";

/** Options of {@linkcode startTimeClients}. */
export interface TimeClientOptions {
  targets: () => ClientTarget[];
  clients: number;
  /** The first client number (after the basic clients'), so every client has its own. */
  firstClient: number;
  seed: number;
  /** How long a client waits for one reply before it counts the operation in doubt. */
  replyTimeoutMs: number;
}

/** How many streams (`s:<n>`) and SPOP sets (`p:<n>`) the clients share. */
export const TIME_STREAMS = 3;
export const TIME_SETS = 3;
/** The consumer groups of every stream. */
export const TIME_GROUPS = ["g0", "g1"] as const;
/** Streams are capped at this many entries (`MAXLEN`). */
export const STREAM_MAXLEN = 300;

/** Script bodies: each writes what it got to KEYS[last] and answers it. */
export const SCRIPTS = {
  time: "local t = redis.call('TIME') " +
    "local v = t[1] .. '.' .. string.format('%06d', tonumber(t[2])) " +
    "redis.call('SET', KEYS[1], v) return v",
  xadd: "return redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[1], '*', 'f', ARGV[2])",
  spop: "return redis.call('SPOP', KEYS[1])",
  srand: "local m = redis.call('SRANDMEMBER', KEYS[1]) " +
    "if m then redis.call('SET', KEYS[2], m) end return m",
  ttl: "local t = redis.call('TTL', KEYS[1]) redis.call('SET', KEYS[2], t) return t",
  expire: "redis.call('SET', KEYS[1], ARGV[1]) return redis.call('EXPIRE', KEYS[1], ARGV[2])",
} as const;

const utf8 = new TextDecoder();

function text(reply: RespValue): string | null {
  if (reply.type === "integer") return String(reply.value);
  if (reply.type === "bulk") return reply.value === null ? null : utf8.decode(reply.value);
  if (reply.type === "simple") return reply.value;
  if (reply.type === "null") return null;
  if (reply.type === "double") return String(reply.value);
  return JSON.stringify(reply);
}

function items(reply: RespValue | undefined): RespValue[] {
  if (reply === undefined) return [];
  if (reply.type === "array") return reply.value ?? [];
  if (reply.type === "set" || reply.type === "push") return reply.value;
  return [];
}

/** The ids of stream entries in a reply `[[id, fields], ...]`. */
function entryIds(reply: RespValue | undefined): string[] {
  return items(reply).map((entry) => text(items(entry)[0] ?? { type: "null" }) ?? "");
}

/** What each kind keeps of an array reply. */
function arrayValues(kind: TimeKind, reply: RespValue): string[] {
  switch (kind) {
    case "xreadgroup": // [[stream, [[id, fields], ...]]]
      return entryIds(items(items(reply)[0])[1]);
    case "xclaim": // [[id, fields], ...]
      return entryIds(reply);
    case "xautoclaim": // [cursor, [[id, fields], ...], deleted ids]
      return entryIds(items(reply)[1]);
    default:
      return items(reply).map((item) => text(item) ?? "");
  }
}

/**
 * Errors these workloads meet as the outcome Redis gave their op at apply (a
 * real reply, recorded as `ok` with its error): a group that exists already or
 * not yet, an explicit stream id not above the stream's last one.
 */
function isOpError(text: string): boolean {
  return /^(BUSYGROUP|NOGROUP|WRONGTYPE) /.test(text) ||
    text.startsWith("ERR The ID specified in XADD is equal or smaller");
}

/** TTLs from 1 ms to about three minutes, spread evenly over the scales. */
function ttlMs(random: SeededRandom): number {
  return Math.max(1, Math.round(10 ** (random.next() * 5.25)));
}

/** One connection of a time client, with its own number for the history. */
interface Connection {
  client: RawClient;
  number: number;
  target: ClientTarget;
}

/** Starts the time clients. */
export function startTimeClients(options: TimeClientOptions): Clients {
  const history: Entry[] = [];
  let acknowledged = 0;
  let stopped = false;
  /** Entries delivered to some consumer, per stream and group: what XCLAIM asks for. */
  const delivered = new Map<string, string[]>();

  const run = async (id: number) => {
    const random = new SeededRandom(options.seed * 1_000 + id);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random.next() * list.length)]!;
    const int = (low: number, high: number) => low + Math.floor(random.next() * (high - low + 1));
    let main: Connection | undefined;
    let edge: Connection | undefined;
    let connections = 0;
    let turn = id;
    let seq = 0;
    const recentTtlKeys: string[] = [];
    const consumer = `k${id}`;

    const open = async (avoidRack?: string): Promise<Connection | undefined> => {
      const all = options.targets();
      const others = all.filter((t) => avoidRack === undefined || t.rack !== avoidRack);
      const targets = others.length > 0 ? others : all;
      const target = targets[turn++ % targets.length]!;
      try {
        const client = await RawClient.connect(target.port);
        return { client, number: ++connections, target };
      } catch {
        await delay(50);
        return undefined;
      }
    };

    /** Sends one command on `on` and records it; undefined when the connection is gone. */
    const call = async (
      on: "main" | "edge",
      kind: TimeKind,
      key: string,
      argv: string[],
      arg?: string,
    ): Promise<Entry | undefined> => {
      const connection = on === "main" ? main : edge;
      if (connection === undefined) return undefined;
      const invokeMs = performance.now();
      const invokeWallMs = Date.now();
      let outcome: Outcome;
      let value: string | null | undefined;
      let values: string[] | undefined;
      let error: string | undefined;
      try {
        await connection.client.command(...argv);
        const reply = await connection.client.read(options.replyTimeoutMs);
        if (reply.type === "error") {
          error = reply.value;
          outcome = isOpError(reply.value) ? "ok" : writeErrorOutcome(reply.value);
        } else {
          outcome = "ok";
          if (reply.type === "array" && reply.value !== null) values = arrayValues(kind, reply);
          else value = text(reply);
        }
      } catch (e) {
        error = `connection: ${(e as Error).message}`;
        outcome = "unknown";
        connection.client.close();
        if (on === "main") main = undefined;
        else edge = undefined;
      }
      const entry: Entry = {
        client: id,
        connection: connection.number,
        node: connection.target.id,
        kind,
        key,
        argv,
        invokeMs,
        completeMs: performance.now(),
        invokeWallMs,
        completeWallMs: Date.now(),
        outcome,
      };
      if (arg !== undefined) entry.arg = arg;
      if (value !== undefined) entry.value = value;
      if (values !== undefined) entry.values = values;
      if (error !== undefined) entry.error = error;
      history.push(entry);
      if (outcome === "ok") acknowledged++;
      return entry;
    };

    /** A key with an expiry and what its client does to it next. */
    const ttlEpisode = async () => {
      const key = `t:${id}:${++seq}`;
      const ms = ttlMs(random);
      const roll = random.next();
      const set = roll < 0.1
        ? ["SET", key, `v${seq}`]
        : roll < 0.3
        ? ["SET", key, `v${seq}`, "EX", String(Math.ceil(ms / 1000))]
        : ["SET", key, `v${seq}`, "PX", String(ms)];
      const first = await call("main", "ttl-set", key, set, `v${seq}`);
      if (first?.outcome !== "ok") return;
      recentTtlKeys.push(key);
      if (recentTtlKeys.length > 8) recentTtlKeys.shift();
      for (let i = int(0, 3); i > 0 && main !== undefined; i--) {
        if (random.next() < 0.3) await delay(int(0, 40));
        const next = random.next();
        const condition = pick(["", "", "NX", "XX", "GT", "LT"]);
        const extra = condition === "" ? [] : [condition];
        const later = ttlMs(random);
        if (next < 0.25) {
          await call("main", "expire", key, [
            "EXPIRE",
            key,
            String(Math.ceil(later / 1000)),
            ...extra,
          ]);
        } else if (next < 0.5) {
          await call("main", "expire", key, ["PEXPIRE", key, String(later), ...extra]);
        } else if (next < 0.65) {
          await call("main", "persist", key, ["PERSIST", key]);
        } else {
          const how = pick([
            ["PX", String(later)],
            ["EX", String(Math.ceil(later / 1000))],
            ["PERSIST"],
          ]);
          await call("main", "getex", key, ["GETEX", key, ...how]);
        }
      }
    };

    /** A key set to expire in a few ms, written through another rack about then. */
    const edgeEpisode = async () => {
      if (main === undefined) return;
      edge ??= await open(main.target.rack);
      if (edge === undefined) return;
      const key = `t:${id}:${++seq}`;
      const ms = int(5, 300);
      const set = await call("main", "ttl-set", key, ["SET", key, "10", "PX", String(ms)], "10");
      if (set?.outcome !== "ok") return;
      const aimMs = set.completeWallMs! + ms + int(-4, 4) - Date.now();
      if (aimMs > 0) await delay(aimMs);
      const what = random.next();
      if (what < 0.4) await call("edge", "edge-incr", key, ["INCR", key]);
      else if (what < 0.7) await call("edge", "edge-append", key, ["APPEND", key, "x"]);
      else await call("edge", "edge-setnx", key, ["SET", key, `w${seq}`, "NX"], `w${seq}`);
    };

    const streamOp = async () => {
      const stream = `s:${int(0, TIME_STREAMS - 1)}`;
      const group = pick(TIME_GROUPS);
      const slot = `${stream} ${group}`;
      const roll = random.next();
      const maxlen = random.next() < 0.5 ? ["MAXLEN", String(STREAM_MAXLEN)] : [
        "MAXLEN",
        "~",
        String(STREAM_MAXLEN),
      ];
      const field = `c${id}-${++seq}`;
      if (roll < 0.3) {
        await call("main", "xadd", stream, ["XADD", stream, ...maxlen, "*", "f", field], field);
      } else if (roll < 0.5) {
        const explicit = `${Date.now()}-*`;
        await call(
          "main",
          "xadd-ms",
          stream,
          ["XADD", stream, ...maxlen, explicit, "f", field],
          field,
        );
      } else if (roll < 0.72) {
        const entry = await call("main", "xreadgroup", stream, [
          "XREADGROUP",
          "GROUP",
          group,
          consumer,
          "COUNT",
          String(int(1, 5)),
          "STREAMS",
          stream,
          ">",
        ]);
        if (entry?.outcome === "ok" && entry.values !== undefined) {
          const list = delivered.get(slot) ?? [];
          list.push(...entry.values);
          if (list.length > 200) list.splice(0, list.length - 200);
          delivered.set(slot, list);
        }
      } else if (roll < 0.82) {
        const list = delivered.get(slot) ?? [];
        if (list.length === 0) return;
        const ids = Array.from({ length: int(1, 3) }, () => pick(list));
        await call("main", "xack", stream, ["XACK", stream, group, ...ids]);
      } else if (roll < 0.92) {
        const list = delivered.get(slot) ?? [];
        if (list.length === 0) return;
        const ids = Array.from({ length: int(1, 3) }, () => pick(list));
        await call("main", "xclaim", stream, [
          "XCLAIM",
          stream,
          group,
          consumer,
          String(int(0, 50)),
          ...ids,
        ]);
      } else {
        await call("main", "xautoclaim", stream, [
          "XAUTOCLAIM",
          stream,
          group,
          consumer,
          String(int(0, 50)),
          "0-0",
          "COUNT",
          String(int(1, 5)),
        ]);
      }
    };

    const setOp = async () => {
      const key = `p:${int(0, TIME_SETS - 1)}`;
      if (random.next() < 0.6) {
        const member = `c${id}-${++seq}`;
        await call("main", "padd", key, ["SADD", key, member], member);
      } else if (random.next() < 0.5) {
        await call("main", "spop", key, ["SPOP", key]);
      } else {
        await call("main", "spop", key, ["SPOP", key, String(int(1, 3))]);
      }
    };

    const scriptOp = async () => {
      const own = `e:${id}:${++seq}`;
      const roll = random.next();
      if (roll < 0.2) {
        await call("main", "script-time", own, ["EVAL", SCRIPTS.time, "1", own], own);
      } else if (roll < 0.4) {
        const stream = `s:${int(0, TIME_STREAMS - 1)}`;
        const field = `c${id}-${seq}`;
        await call("main", "script-xadd", stream, [
          "EVAL",
          SCRIPTS.xadd,
          "1",
          stream,
          String(STREAM_MAXLEN),
          field,
        ], field);
      } else if (roll < 0.55) {
        const set = `p:${int(0, TIME_SETS - 1)}`;
        await call("main", "script-spop", set, ["EVAL", SCRIPTS.spop, "1", set]);
      } else if (roll < 0.7) {
        const set = `p:${int(0, TIME_SETS - 1)}`;
        await call("main", "script-srand", set, ["EVAL", SCRIPTS.srand, "2", set, own], own);
      } else if (roll < 0.85) {
        if (recentTtlKeys.length === 0) return;
        const key = pick(recentTtlKeys);
        await call("main", "script-ttl", key, ["EVAL", SCRIPTS.ttl, "2", key, own], own);
      } else {
        const key = `t:${id}:${seq}`;
        const seconds = String(int(1, 120));
        const entry = await call("main", "script-expire", key, [
          "EVAL",
          SCRIPTS.expire,
          "1",
          key,
          `v${seq}`,
          seconds,
        ], `v${seq}`);
        if (entry?.outcome === "ok") recentTtlKeys.push(key);
      }
    };

    let groupsMade = false;
    while (!stopped) {
      if (main === undefined) {
        main = await open();
        if (main === undefined) continue;
        if (edge !== undefined && edge.target.rack === main.target.rack) {
          edge.client.close();
          edge = undefined;
        }
      }
      if (!groupsMade) {
        groupsMade = true;
        for (let n = 0; n < TIME_STREAMS; n++) {
          for (const group of TIME_GROUPS) {
            const stream = `s:${n}`;
            await call("main", "xgroup", stream, [
              "XGROUP",
              "CREATE",
              stream,
              group,
              "0",
              "MKSTREAM",
            ]);
          }
        }
        continue;
      }
      const roll = random.next();
      if (roll < 0.3) await ttlEpisode();
      else if (roll < 0.4) await edgeEpisode();
      else if (roll < 0.65) await streamOp();
      else if (roll < 0.8) await setOp();
      else await scriptOp();
    }
    main?.client.close();
    edge?.client.close();
  };

  const running = Array.from(
    { length: options.clients },
    (_, i) => run(options.firstClient + i),
  );
  return {
    history,
    acknowledged: () => acknowledged,
    async stop() {
      stopped = true;
      await Promise.all(running);
    },
  };
}
