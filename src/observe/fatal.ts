/**
 * The one way a node stops on a broken invariant (Raft, its write-ahead log,
 * the world's state, the applier's position, an identity that does not match):
 * say why on stderr and in the log, then exit with a non-zero status. Nothing
 * is kept running half-broken; the restart recovers from durable state (the
 * data folder, the rack's Redis, the log).
 */

import { getLogger } from "@logtape/logtape";

const log = getLogger(["pylon"]);

/** A node's exit statuses. */
export const EXIT = {
  /** Stopped on request. */
  stopped: 0,
  /** Could not start (a service it needs failed in a way it cannot wait out). */
  startFailed: 1,
  /** Bad flags, variables or configuration file. */
  usage: 2,
  /** A broken invariant (EX_SOFTWARE). */
  fatal: 70,
  /** Its identity, its Redis or its log contradict each other (EX_CONFIG). */
  refused: 78,
} as const;

/** What a fatal stop does; tests that run parts in-process replace it. */
export type FatalHandler = (reason: string, code: number) => void;

let handler: FatalHandler = (reason, code) => {
  // Written directly as well: the process ends before an asynchronous sink could flush.
  console.error(`pylon: ${code === EXIT.refused ? "refused" : "fatal"}: ${reason}`);
  log.fatal("stopping: {reason}", { reason });
  Deno.exit(code);
};

/** Replaces the fatal handler (in-process tests); returns the previous one. */
export function onFatal(next: FatalHandler): FatalHandler {
  const previous = handler;
  handler = next;
  return previous;
}

/** Stops the node: `where` names the part, `error` the broken invariant. */
export function fatal(where: string, error: unknown, code: number = EXIT.fatal): never {
  const reason = `${where}: ${error instanceof Error ? error.message : String(error)}`;
  handler(reason, code);
  // A test handler returns: stop the caller all the same.
  throw new FatalError(reason);
}

/** Thrown by {@linkcode fatal} when the handler did not end the process. */
export class FatalError extends Error {
  override name = "FatalError";
}
