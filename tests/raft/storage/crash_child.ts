/**
 * The child of crash_test.ts: opens FileStorage in `Deno.args[0]` and writes
 * the seeded workload one operation at a time until it is killed, printing
 * `op <json>` before each operation starts and `ok` the moment it resolves.
 *
 * Usage: deno run --allow-read --allow-write crash_child.ts <dir> <run> <seed>
 */

import { FileStorage } from "../../../src/raft/file_storage.ts";
import { CRASH_OPTIONS, nextOp, runOp, seeded } from "./crash_shared.ts";

const [dir, run, seed] = Deno.args;
if (dir === undefined || run === undefined || seed === undefined) {
  console.error("usage: crash_child.ts <dir> <run> <seed>");
  Deno.exit(2);
}

const storage = await FileStorage.open(dir, CRASH_OPTIONS);
const random = seeded(Number(seed));
const encoder = new TextEncoder();

function print(line: string): void {
  const bytes = encoder.encode(line);
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}

print(`ready ${storage.recovery?.droppedBytes ?? 0}\n`);
for (let i = 0;; i++) {
  const op = nextOp(storage, random, `${run}.${i}`);
  print(`op ${JSON.stringify(op)}\n`);
  await runOp(storage, op);
  print("ok\n");
}
