/**
 * Waiting for a service a node cannot start without: a Kafka that is not up
 * yet (containers start in any order) is retried with backoff and one log
 * line each time the reason changes, until the start is aborted. Refusals
 * (identity, credentials, certificates) are not waited out.
 */

import { getLogger } from "@logtape/logtape";
import { IdentityError } from "./node_identity.ts";
import { Backoff, backoffSchedule, delayMsMax } from "../backoff.ts";

const log = getLogger(["pylon", "node"]);

/** Delays between attempts to reach a service the node cannot start without. */
const START_RETRY = backoffSchedule("start dependency", [500, 1_000, 2_000, 5_000]);

/**
 * Runs `open` until it succeeds: a service that is not up yet (Kafka starting
 * after the node, as containers do) is waited for, with backoff and one log
 * line each time the reason changes, until the start is aborted. Refusals
 * (identity, credentials, certificates) are not waited out.
 */
export async function whenReachable<T>(
  what: string,
  open: () => Promise<T>,
  signal: AbortSignal,
): Promise<T> {
  let lastReason = "";
  const backoff = new Backoff(START_RETRY);
  while (true) {
    try {
      return await open();
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (signal.aborted || error instanceof IdentityError || !transient(reason)) throw error;
      const delay = backoff.next()!;
      if (reason !== lastReason) {
        log.warning("waiting for {what}: {reason}; retrying (every {delay} ms at most)", {
          what,
          reason,
          delay: delayMsMax(START_RETRY),
        });
        lastReason = reason;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve();
        }, { once: true });
      });
      if (signal.aborted) throw error;
    }
  }
}

/** Whether a failure to reach a service may pass by itself (not a refusal of who we are). */
function transient(reason: string): boolean {
  return !/SASL|authenticat|certificate|self[- ]signed|unable to verify|access denied/i.test(
    reason,
  );
}
