/**
 * Queue clients for the chaos suite: producers push unique elements onto
 * lists and unique tags onto streams through every node, blocking consumers
 * take them (`BRPOP` with a timeout; `XREADGROUP .. BLOCK` in a consumer group,
 * then `XACK`), and every operation is recorded (tests/chaos/history.ts,
 * `QueueKind`) for tests/chaos/queue_checker.ts. No hidden retries: a dropped
 * connection makes its operation in doubt; the client reconnects to the next
 * node.
 */

import { SeededRandom } from "../../src/random.ts";
import { delay, RawClient } from "../harness/mod.ts";
import type { RespValue } from "../../src/resp/value.ts";
import type { Clients, ClientTarget } from "./clients.ts";
import { type Entry, type QueueKind, writeErrorOutcome } from "./history.ts";

/** Options of {@linkcode startQueueClients}. */
export interface QueueClientOptions {
  targets: () => ClientTarget[];
  /** Clients in all; a quarter produce, the rest consume (half lists, half streams). */
  clients: number;
  /** The first client's number in the history (after the other clients'). */
  firstClient: number;
  seed: number;
  replyTimeoutMs: number;
}

/** Lists and streams the queue clients share. */
export const QUEUES = 2;

const utf8 = new TextDecoder();

function bulk(value: RespValue | undefined): string | undefined {
  return value?.type === "bulk" && value.value !== null ? utf8.decode(value.value) : undefined;
}

function items(value: RespValue | undefined): RespValue[] {
  if (value?.type === "array" && value.value !== null) return value.value;
  if (value?.type === "map") return value.value.flat();
  return [];
}

/** XREADGROUP's reply as `id tag` pairs. */
function delivered(reply: RespValue): string[] {
  const out: string[] = [];
  for (const stream of items(reply)) {
    for (const entry of items(items(stream)[1])) {
      const [id, fields] = items(entry);
      const values = items(fields);
      out.push(`${bulk(id)} ${bulk(values[1]) ?? ""}`);
    }
  }
  return out;
}

/** Starts the queue clients. */
export function startQueueClients(options: QueueClientOptions): Clients {
  const history: Entry[] = [];
  let acknowledged = 0;
  let stopped = false;
  const producers = Math.max(1, Math.floor(options.clients / 4));

  const run = async (n: number) => {
    const id = options.firstClient + n;
    const random = new SeededRandom(options.seed * 1_000 + id);
    let client: RawClient | undefined;
    let connection = 0;
    let target: ClientTarget | undefined;
    let turn = id;
    let seq = 0;
    const role = n < producers ? "producer" : n % 2 === 0 ? "lists" : "streams";

    const call = async (
      kind: QueueKind,
      key: string,
      argv: string[],
      arg?: string,
    ): Promise<RespValue | undefined> => {
      const invokeMs = performance.now();
      const entry: Entry = {
        client: id,
        connection,
        node: target!.id,
        kind,
        key,
        invokeMs,
        completeMs: 0,
        outcome: "unknown",
      };
      if (arg !== undefined) entry.arg = arg;
      let reply: RespValue | undefined;
      try {
        await client!.command(...argv);
        reply = await client!.read(options.replyTimeoutMs);
        if (reply.type === "error") {
          entry.error = reply.value;
          entry.outcome = writeErrorOutcome(reply.value);
          reply = undefined;
        } else entry.outcome = "ok";
      } catch (e) {
        entry.error = `connection: ${(e as Error).message}`;
        client?.close();
        client = undefined;
      }
      entry.completeMs = performance.now();
      if (reply !== undefined) {
        if (kind === "q-pop") {
          const element = bulk(items(reply)[1]);
          if (element !== undefined) entry.value = element;
        } else if (kind === "q-xadd") {
          entry.value = bulk(reply) ?? null;
        } else if (kind === "q-xread") entry.values = delivered(reply);
      }
      history.push(entry);
      if (entry.outcome === "ok") acknowledged++;
      return reply;
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
        if (role === "streams") {
          for (let q = 0; q < QUEUES && client !== undefined; q++) {
            await call("q-group", `qs:${q}`, ["XGROUP", "CREATE", `qs:${q}`, "g", "0", "MKSTREAM"]);
          }
          continue;
        }
      }
      seq++;
      const q = Math.floor(random.next() * QUEUES);
      if (role === "producer") {
        const tag = `p${id}-${seq}`;
        if (random.next() < 0.5) await call("q-push", `q:${q}`, ["LPUSH", `q:${q}`, tag], tag);
        else await call("q-xadd", `qs:${q}`, ["XADD", `qs:${q}`, "*", "tag", tag], tag);
        await delay(Math.floor(random.next() * 20));
      } else if (role === "lists") {
        await call("q-pop", `q:${q}`, ["BRPOP", `q:${q}`, "1"]);
      } else {
        const key = `qs:${q}`;
        const reply = await call(
          "q-xread",
          key,
          [
            "XREADGROUP",
            "GROUP",
            "g",
            `c${id}`,
            "COUNT",
            "5",
            "BLOCK",
            "1000",
            "STREAMS",
            key,
            ">",
          ],
        );
        const ids = reply === undefined ? [] : delivered(reply).map((pair) => pair.split(" ")[0]!);
        if (ids.length > 0 && client !== undefined) {
          await call("q-xack", key, ["XACK", key, "g", ...ids], ids.join(" "));
        }
      }
    }
    client?.close();
  };

  const running = Array.from({ length: options.clients }, (_, n) => run(n));
  return {
    history,
    acknowledged: () => acknowledged,
    async stop() {
      stopped = true;
      await Promise.all(running);
    },
  };
}
