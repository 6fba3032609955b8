/**
 * The consistency gate on a scripted StrongConsistency (racks that confirm
 * when the test says so): which requests are strong, when a strong write is
 * answered, what it is answered with short of its quorum, and its counters.
 */

import assert from "node:assert/strict";
import { findCommand } from "../command/mod.ts";
import type { WriteRequest } from "../log/write_request.ts";
import { Contentious } from "./contentious.ts";
import { ConsistencyGate } from "./gate.ts";
import { StrongConsistency } from "./strong.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const argv = (...words: string[]) => words.map((w) => new TextEncoder().encode(w));

/** A gate over a world of `racks` racks where the others have applied what `applied` says. */
function gate(racks: number, applied: (rack: string) => boolean, timeoutMs = 200) {
  const others = Array.from({ length: racks - 1 }, (_, i) => `r${i + 1}`);
  const service = new StrongConsistency({
    log: { partitions: 1, bounds: () => Promise.resolve({ start: 0, end: 42 }) },
    reached: () => Promise.resolve(true),
    racks: {
      otherRacks: () => others,
      appliedOn: (rack) => Promise.resolve(applied(rack)),
    },
    quorum: () => "majority",
  });
  return new ConsistencyGate({
    service,
    contentious: new Contentious(["lock:*"]),
    timeoutMs: () => timeoutMs,
  });
}

function write(strong: boolean): WriteRequest {
  const request: WriteRequest = {
    commands: [{
      argv: argv("SET", "lock:a", "1"),
      command: findCommand("set")!,
      reply: "constant",
    }],
    transaction: false,
    db: 0,
    protocol: 2,
  };
  if (strong) request.strong = true;
  return request;
}

/** Submits through the gate to a write path that answers `+OK` placed at offset 41. */
async function submit(g: ConsistencyGate, request: WriteRequest): Promise<string> {
  let answered: string | undefined;
  const placement = await g.write(request, (bytes) => answered = text(bytes), (_r, reply) => {
    reply(new TextEncoder().encode("+OK\r\n"));
    return Promise.resolve({ partition: 0, offset: 41 });
  });
  assert.deepEqual(placement, { partition: 0, offset: 41 });
  return answered!;
}

Deno.test("a request is strong when its connection asked for it or it touches a contentious key", () => {
  const g = gate(3, () => true);
  const get = (key: string) => [{ command: findCommand("get")!, argv: argv("GET", key) }];
  assert.equal(g.isStrong(false, get("lock:a")), true);
  assert.equal(g.isStrong(false, get("plain")), false);
  assert.equal(g.isStrong(true, get("plain")), true);
});

Deno.test("a strong write is answered with its reply once a majority of racks applied it", async () => {
  const g = gate(3, (rack) => rack === "r1");
  assert.equal(await submit(g, write(true)), "+OK\r\n");
  assert.equal(g.stats().writes, 1);
  assert.equal(g.stats().quorumFailures, 0);
});

Deno.test("short of its quorum a strong write gets an error naming its place in the log, never OK", async () => {
  const g = gate(3, () => false, 100);
  const reply = await submit(g, write(true));
  assert.match(
    reply,
    /^-ERR the write is in the log \(partition 0, offset 41\) but only 1 of 3 racks/,
  );
  assert.equal(g.stats().quorumFailures, 1);
});

Deno.test("a write that is not strong passes through the gate untouched and uncounted", async () => {
  const g = gate(3, () => false, 100);
  assert.equal(await submit(g, write(false)), "+OK\r\n");
  assert.equal(g.stats().writes, 0);
});

Deno.test("a strong read needs the log's end; WAIT counts the racks that applied the need", async () => {
  const g = gate(3, (rack) => rack === "r2");
  assert.deepEqual([...await g.readNeed()], [[0, 42]]);
  assert.equal(g.stats().reads, 1);
  assert.equal(await g.waitRacks(new Map([[0, 10]]), 2, 100), 2);
  assert.equal(await g.waitRacks(new Map([[0, 10]]), 3, 100), 2, "one rack never confirms");
  assert.equal(g.stats().waits, 2);
});
