/** The OpLog contract against the in-memory twin, and the faults it plays on demand. */

import assert from "node:assert/strict";
import { opLogContract } from "../../tests/log/contract.ts";
import { LogError } from "./op_log.ts";
import { type AppendOutcome, MemoryOpLog } from "./memory_log.ts";

opLogContract("MemoryOpLog", () => {
  const log = new MemoryOpLog({ partitions: 2 });
  return Promise.resolve({ log, [Symbol.asyncDispose]: () => log.close() });
});

Deno.test("MemoryOpLog plays a refused append, a lost answer and a lost append", async () => {
  const outcomes: AppendOutcome[] = ["refused", "answerLost", "lost", "written"];
  const log = new MemoryOpLog({ partitions: 1, appendOutcome: () => outcomes.shift()! });
  const bytes = (s: string) => new TextEncoder().encode(s);
  await assert.rejects(log.append(0, bytes("a")), (e: LogError) => e.maybeAppended === false);
  await assert.rejects(log.append(0, bytes("b")), (e: LogError) => e.maybeAppended === true);
  await assert.rejects(log.append(0, bytes("c")), (e: LogError) => e.maybeAppended === true);
  assert.equal(
    await log.append(0, bytes("d")),
    1,
    "b was written though its caller heard an error",
  );
  assert.deepEqual(log.records(0).map((r) => new TextDecoder().decode(r)), ["b", "d"]);
  await log.close();
});
