/**
 * Crash safety of FileStorage with a real process: a child writes a seeded
 * Raft-like workload (appends, truncations, snapshots, compactions, rewrites)
 * and reports each operation before it starts and when it resolves; it is
 * killed with SIGKILL; reopening must show exactly the state of every
 * resolved operation, plus at most the one in flight. Five kills on the same
 * directory, each child going on from what the last one left.
 */

import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { FileStorage } from "../../../src/raft/file_storage.ts";
import {
  applyOp,
  CRASH_OPTIONS,
  type CrashOp,
  emptyModel,
  type ModelState,
  modelView,
} from "./crash_shared.ts";
import { type StorageView, tempDir, view } from "./helpers.ts";
import { killAfterAcks } from "../../harness/kill_child.ts";

const CHILD = new URL("./crash_child.ts", import.meta.url).pathname;
/** Resolved operations to see before each kill. */
const KILL_AFTER_ACKS = [20, 300, 90, 600, 1_200];
/**
 * A bound on the wait, not a speed: each round's fsyncs share a busy 2-core
 * machine with the rest of the suite.
 */
const ROUND_DEADLINE_MS = 60_000;

interface Round {
  /** Operations in order; the last may be in flight (not acknowledged). */
  ops: CrashOp[];
  acked: number;
}

/** Runs the child until it has resolved `killAfter` operations, then SIGKILLs it. */
async function runAndKill(dir: string, run: string, killAfter: number): Promise<Round> {
  const round: Round = { ops: [], acked: 0 };
  await killAfterAcks({
    script: CHILD,
    args: [dir, run, String(killAfter * 7919 + 1)],
    killAfter,
    deadlineMs: ROUND_DEADLINE_MS,
    onLine: (line) => {
      if (line.startsWith("op ")) {
        assert.equal(round.acked, round.ops.length, "one operation at a time");
        round.ops.push(JSON.parse(line.slice(3)));
      } else if (line === "ok") {
        round.acked++;
      }
      return round.acked;
    },
  });
  return round;
}

/** Asserts equal states with a short message: the summary first, then the first entry that differs. */
function assertSame(actual: StorageView, expected: StorageView, message: string): void {
  if (isDeepStrictEqual(actual, expected)) return;
  const summary = (v: StorageView) => ({
    ...v,
    snapshot: { ...v.snapshot, data: new TextDecoder().decode(v.snapshot.data) },
    entries: v.entries.length,
  });
  assert.deepEqual(summary(actual), summary(expected), message);
  const at = actual.entries.findIndex((entry, i) => !isDeepStrictEqual(entry, expected.entries[i]));
  assert.fail(
    `${message}: entry "${actual.entries[at]?.index}" differs: ` +
      `${JSON.stringify(actual.entries[at]).slice(0, 200)} vs ${
        JSON.stringify(expected.entries[at]).slice(0, 200)
      }`,
  );
}

Deno.test("FileStorage keeps every resolved write through repeated kill -9 of its writer", async () => {
  await using dir = await tempDir();
  let model: ModelState = emptyModel();
  for (const [round, killAfter] of KILL_AFTER_ACKS.entries()) {
    const started = performance.now();
    const { ops, acked } = await runAndKill(dir.path, `r${round}`, killAfter);
    const ranMs = performance.now() - started;
    for (const op of ops.slice(0, acked)) model = applyOp(model, op);
    const inFlight = ops[acked];

    const storage = await FileStorage.open(dir.path, CRASH_OPTIONS);
    try {
      const actual = view(storage);
      let outcome = "the write in flight was not applied";
      if (inFlight !== undefined) {
        const withInFlight = applyOp(model, inFlight);
        // A boolean check: a failing assert would first build a diff of the whole state.
        if (isDeepStrictEqual(actual, modelView(withInFlight))) {
          model = withInFlight;
          outcome = "the write in flight was applied";
        }
        // Otherwise it must be exactly the acknowledged state, asserted below.
      }
      assertSame(
        actual,
        modelView(model),
        `after kill ${round + 1}: the state is neither that of the ${acked} resolved writes ` +
          `nor that plus the one in flight (${JSON.stringify(inFlight)?.slice(0, 200)})`,
      );
      const kinds = new Map<string, number>();
      for (const op of ops.slice(0, acked)) {
        const kind = op.kind === "save" && op.snapshot !== null ? "applySnapshot" : op.kind;
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      }
      console.log(
        `kill ${round + 1}: ${acked} writes resolved (${
          [...kinds].map(([k, n]) => `${k} ${n}`).join(", ")
        }), in flight: ${inFlight?.kind ?? "none"}, ${outcome}; ` +
          `${
            storage.recovery === undefined
              ? "no torn tail"
              : `dropped ${storage.recovery.droppedBytes} bytes`
          }, ` +
          `log [${actual.firstIndex}, ${actual.lastIndex}], term ${actual.hardState.term}; ` +
          `child ran ${Math.round(ranMs)} ms, check took ${
            Math.round(performance.now() - started - ranMs)
          } ms`,
      );
    } finally {
      await storage.close();
    }
  }
});
