/**
 * Chaos clients: raw RESP connections with no hidden retries. Each client
 * runs a seeded mix of writes — INCR of shared counters, SADD of unique
 * members, SET of its own keys — each followed on the same connection by a
 * GET of the key (read-your-writes), and records every operation. A dropped
 * connection makes its operation in doubt; the client then reconnects, to the
 * next node, on a new connection.
 */

import { SeededRandom } from "../../src/random.ts";
import { delay, RawClient } from "../harness/mod.ts";
import type { RespValue } from "../../src/resp/value.ts";
import { type Entry, isRead, type OpKind, type Outcome, writeErrorOutcome } from "./history.ts";

/** A node clients may talk to. */
export interface ClientTarget {
  id: string;
  port: number;
  /** Its rack: the time clients send writes aimed at an expiry through another rack. */
  rack?: string;
}

/** Options of {@linkcode startClients}. */
export interface ClientOptions {
  targets: () => ClientTarget[];
  clients: number;
  counters: number;
  seed: number;
  /** How long a client waits for one reply before it counts the operation in doubt. */
  replyTimeoutMs: number;
}

/** Running clients. */
export interface Clients {
  history: Entry[];
  /** Acknowledged writes so far. */
  acknowledged(): number;
  stop(): Promise<void>;
}

const utf8 = new TextDecoder();

function valueText(reply: RespValue): string | null {
  if (reply.type === "integer") return String(reply.value);
  if (reply.type === "bulk") return reply.value === null ? null : utf8.decode(reply.value);
  if (reply.type === "simple") return reply.value;
  if (reply.type === "null") return null;
  return JSON.stringify(reply);
}

/** Starts the clients. */
export function startClients(options: ClientOptions): Clients {
  const history: Entry[] = [];
  let acknowledged = 0;
  let stopped = false;

  const run = async (id: number) => {
    const random = new SeededRandom(options.seed * 1_000 + id);
    let client: RawClient | undefined;
    let connection = 0;
    let target: ClientTarget | undefined;
    let turn = id;
    let seq = 0;

    const call = async (kind: OpKind, key: string, argv: string[], arg?: string) => {
      const invokeMs = performance.now();
      let outcome: Outcome;
      let value: string | null | undefined;
      let error: string | undefined;
      try {
        await client!.command(...argv);
        const reply = await client!.read(options.replyTimeoutMs);
        if (reply.type === "error") {
          error = reply.value;
          outcome = isRead(kind) ? "fail" : writeErrorOutcome(reply.value);
        } else {
          outcome = "ok";
          value = valueText(reply);
        }
      } catch (e) {
        error = `connection: ${(e as Error).message}`;
        outcome = isRead(kind) ? "fail" : "unknown";
        client?.close();
        client = undefined;
      }
      const entry: Entry = {
        client: id,
        connection,
        node: target!.id,
        kind,
        key,
        invokeMs,
        completeMs: performance.now(),
        outcome,
      };
      if (arg !== undefined) entry.arg = arg;
      if (value !== undefined) entry.value = value;
      if (error !== undefined) entry.error = error;
      history.push(entry);
      if (!isRead(kind) && outcome === "ok") acknowledged++;
      return outcome;
    };

    while (!stopped) {
      if (client === undefined) {
        const targets = options.targets();
        target = targets[turn++ % targets.length]!;
        try {
          client = await RawClient.connect(target.port);
          connection++;
        } catch {
          await delay(50);
          continue;
        }
      }
      seq++;
      const roll = random.next();
      let kind: OpKind;
      let key: string;
      let argv: string[];
      let arg: string | undefined;
      if (roll < 0.4) {
        kind = "incr";
        key = `ctr:${Math.floor(random.next() * options.counters)}`;
        argv = ["INCR", key];
      } else if (roll < 0.7) {
        kind = "sadd";
        key = `set:${Math.floor(random.next() * options.counters)}`;
        arg = `c${id}-${seq}`;
        argv = ["SADD", key, arg];
      } else {
        kind = "set";
        key = `reg:${id}:${seq}`;
        arg = `v${seq}`;
        argv = ["SET", key, arg];
      }
      const outcome = await call(kind, key, argv, arg);
      // Read-your-writes: the same connection reads what it just wrote.
      if (outcome === "ok" && client !== undefined) {
        if (kind === "sadd") await call("ismember", key, ["SISMEMBER", key, arg!], arg);
        else await call("get", key, ["GET", key]);
      }
    }
    client?.close();
  };

  const running = Array.from({ length: options.clients }, (_, id) => run(id));
  return {
    history,
    acknowledged: () => acknowledged,
    async stop() {
      stopped = true;
      await Promise.all(running);
    },
  };
}
