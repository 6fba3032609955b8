/**
 * The child of segment_crash_test.ts: opens the segment log in `Deno.args[0]`
 * and appends from many concurrent callers as fast as it can, printing
 * `<partition> <offset> <id>` on stdout the moment each append is
 * acknowledged, until it is killed.
 *
 * Usage: deno run --allow-read --allow-write segment_crash_child.ts <dir> <run>
 */

import { SegmentLog } from "../../src/log/segment_log.ts";
import { CRASH_LOG_OPTIONS, CRASH_WORKERS, crashPayload } from "./segment_crash_shared.ts";

const [dir, run] = Deno.args;
if (dir === undefined || run === undefined) {
  console.error("usage: segment_crash_child.ts <dir> <run>");
  Deno.exit(2);
}

const log = await SegmentLog.open(dir, CRASH_LOG_OPTIONS);
const encoder = new TextEncoder();

function print(line: string): void {
  const bytes = encoder.encode(line);
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}

print(`ready ${log.recovery.map((n) => n.droppedBytes).join(",")}\n`);
await Promise.all(Array.from({ length: CRASH_WORKERS }, async (_, worker) => {
  const partition = worker % CRASH_LOG_OPTIONS.partitions;
  for (let i = 0;; i++) {
    const id = `${run}.${worker}.${i}`;
    const offset = await log.append(partition, crashPayload(id));
    print(`${partition} ${offset} ${id}\n`);
  }
}));
