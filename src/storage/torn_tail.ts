/**
 * Cutting a torn tail: a crash mid-write leaves at most the last record of a
 * file incomplete, and that record was never acknowledged, so opening drops it
 * durably and reports what it dropped.
 */

import { getLogger } from "@logtape/logtape";

const log = getLogger(["pylon", "storage"]);

/** What opening cut off the end of one file. */
export interface TornTail {
  path: string;
  /** Bytes kept: the cut was made here. */
  validBytes: number;
  droppedBytes: number;
  reason: string;
}

/** Truncates `file` at `validBytes` and makes the cut durable before anything is appended. */
export async function cutTornTail(
  file: Deno.FsFile,
  tail: TornTail,
  context: Record<string, unknown> = {},
): Promise<TornTail> {
  await file.truncate(tail.validBytes);
  await file.syncData();
  log.warning(
    "Dropped {droppedBytes} bytes of a torn or corrupt tail of {path}: {reason}",
    { ...context, ...tail },
  );
  return tail;
}
