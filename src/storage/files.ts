/** File writes that must survive a crash: every byte written, and a folder's entries synced. */

import { join } from "node:path";

/** Writes all of `bytes` (a write may take only part). */
export async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await file.write(bytes.subarray(written));
}

/** fsyncs a folder, so a file created, renamed or removed in it survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

/** Suffix of the temporary file {@linkcode writeFileAtomic} renames into place. */
export const TEMP_SUFFIX = ".tmp";

/**
 * Writes `name` in `dir` so that it is either absent or whole: temp file,
 * fsync, rename, fsync of the directory. Returns the fsyncs made (2).
 */
export async function writeFileAtomic(
  dir: string,
  name: string,
  bytes: Uint8Array,
): Promise<number> {
  const path = join(dir, name);
  const temporary = path + TEMP_SUFFIX;
  const file = await Deno.open(temporary, { write: true, create: true, truncate: true });
  try {
    await writeAll(file, bytes);
    await file.sync();
  } finally {
    file.close();
  }
  await Deno.rename(temporary, path);
  await syncDir(dir);
  return 2;
}
