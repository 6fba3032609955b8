/**
 * The memory a waiting client's wait itself holds on a node, measured in one
 * process: N blocking calls (BLPOP on a key each) whose first try found
 * nothing, waiting in a table of waiters, against a stand-in node; the heap
 * after a full collection, before and after. Run with
 * `--v8-flags=--expose-gc` (bench/queue.ts does): prints one JSON line.
 */

import { BlockingCall } from "../src/gateway/blocking_call.ts";
import { KeyWaiters } from "../src/write/key_waiters.ts";
import { blockingRequest } from "../src/command/blocking.ts";
import { findCommand } from "../src/command/mod.ts";

const N = Number(Deno.args[0] ?? 10_000);
const gc = (globalThis as unknown as { gc: () => void }).gc;
const NOTHING = new TextEncoder().encode("*-1\r\n");
const waiters = new KeyWaiters(() => 0);
const host = {
  write: (_request: unknown, reply: (bytes: Uint8Array) => void) => {
    reply(NOTHING);
    return Promise.resolve({ partition: 0, offset: 1 });
  },
  read: () => {},
  waiters,
  appliedPosition: () => 1,
};
const command = findCommand("blpop")!;
gc();
const before = Deno.memoryUsage().heapUsed;
const calls: BlockingCall[] = [];
for (let i = 0; i < N; i++) {
  const argv = ["BLPOP", `bench:k${i}`, "0"].map((a) => new TextEncoder().encode(a));
  const request = blockingRequest("blpop", argv);
  if ("error" in request) throw new Error(request.error);
  const call = new BlockingCall(host, {
    command,
    argv,
    request,
    db: 0,
    protocol: 2,
    answer: () => {},
    placed: () => {},
  });
  call.start(new Map(), () => {});
  calls.push(call);
}
for (let i = 0; i < 10; i++) await new Promise((resolve) => setTimeout(resolve, 0));
gc();
const after = Deno.memoryUsage().heapUsed;
if (waiters.size !== N) throw new Error(`${waiters.size} waiting, not ${N}`);
console.log(JSON.stringify({ waiting: N, bytesPerWait: Math.round((after - before) / N) }));
