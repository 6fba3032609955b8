/**
 * The one way a node stops on a broken invariant (Raft, its write-ahead log,
 * the world's state, the applier's position, an identity that does not match):
 * say why on stderr and in the log, then exit with a non-zero status. Nothing
 * is kept running half-broken; the restart recovers from durable state (the
 * data folder, the rack's Redis, the log).
 */

import { getLogger } from "@logtape/logtape";

const log = getLogger(["pylon"]);

/** Exit status of a node stopped by {@linkcode fatal}. */
export const FATAL_EXIT_CODE = 70;

/** What a fatal stop does; tests that run parts in-process replace it. */
export type FatalHandler = (reason: string) => void;

let handler: FatalHandler = (reason) => {
  // Written directly as well: the process ends before an asynchronous sink could flush.
  console.error(`pylon: fatal: ${reason}`);
  log.fatal("stopping: {reason}", { reason });
  Deno.exit(FATAL_EXIT_CODE);
};

/** Replaces the fatal handler (in-process tests); returns the previous one. */
export function onFatal(next: FatalHandler): FatalHandler {
  const previous = handler;
  handler = next;
  return previous;
}

/** Stops the node: `where` names the part, `error` the broken invariant. */
export function fatal(where: string, error: unknown): never {
  const reason = `${where}: ${error instanceof Error ? error.message : String(error)}`;
  handler(reason);
  // A test handler returns: stop the caller all the same.
  throw new FatalError(reason);
}

/** Thrown by {@linkcode fatal} when the handler did not end the process. */
export class FatalError extends Error {
  override name = "FatalError";
}
