/**
 * A RESP2 connection in subscribe mode: Redis runs only the subscribe
 * commands, PING, QUIT and RESET there, and refuses the rest in its own
 * words. What the table says of each command decides (`inSubscribeMode`).
 */

import type { Route } from "../command/mod.ts";

/** Where a request of a connection in subscribe mode goes. */
export type SubscribedStep =
  /** To the client's own subscribed connection (its reply in subscribe mode's shape). */
  | "subscriber"
  /** Answered by Pylon (QUIT, RESET). */
  | "local"
  /** Refused with this error. */
  | { error: string };

/** Whether a connection is in subscribe mode: RESP2 and subscribed to something. */
export function inSubscribeMode(protocol: number, subscriptions: number): boolean {
  return protocol === 2 && subscriptions > 0;
}

/** What a RESP2 connection in subscribe mode does with one (routed) request. */
export function subscribedStep(route: Route): SubscribedStep {
  if (route.kind === "error") return { error: route.message };
  const command = route.command;
  if (command.inSubscribeMode === undefined) {
    return {
      error:
        `ERR Can't execute '${command.name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`,
    };
  }
  return command.inSubscribeMode;
}
