/**
 * One process, one open store: a store directory is held with an exclusive
 * flock on its `lock` file for as long as it is open, so a second open (by this
 * or another process) is refused instead of two writers interleaving records.
 */

import { join } from "node:path";

const LOCK_FILE = "lock";

/** A store directory that is open elsewhere. */
export class DirectoryInUseError extends Error {
  override name = "DirectoryInUseError";
}

/**
 * Creates `dir` if needed and takes its lock; `what` names the store in the
 * refusal ("The log", "The Raft storage"). Close the returned file to release.
 */
export async function lockDirectory(dir: string, what: string): Promise<Deno.FsFile> {
  await Deno.mkdir(dir, { recursive: true });
  const lock = await Deno.open(join(dir, LOCK_FILE), { read: true, write: true, create: true });
  let locked = false;
  try {
    locked = await lock.tryLock(true);
  } finally {
    if (!locked) lock.close();
  }
  if (!locked) {
    throw new DirectoryInUseError(
      `${what} in "${dir}" is already open (by this or another process)`,
    );
  }
  return lock;
}
