/**
 * What the chaos clients record: one entry per operation, with when it was
 * invoked and completed and what came back, classified without guessing.
 */

/** How an operation ended, as far as its client can know. */
export type Outcome =
  /** A real reply: for a write, Redis's reply at apply (or `+OK` once logged in ack=log mode). */
  | "ok"
  /** Surely not applied (refused before it was logged). */
  | "fail"
  /** Applied, its reply lost: Pylon says so (only from facts). */
  | "applied"
  /** May or may not be applied: an error saying so, a timeout, a dropped connection. */
  | "unknown";

/** The operations the chaos clients run. */
export type OpKind = "incr" | "get" | "sadd" | "ismember" | "set";

/** Whether an operation only reads. */
export function isRead(kind: OpKind): boolean {
  return kind === "get" || kind === "ismember";
}

/** One operation of one client. */
export interface Entry {
  client: number;
  /** The client's connection (a new one after each reconnect): read-your-writes holds per connection. */
  connection: number;
  /** The node it was sent to. */
  node: string;
  kind: OpKind;
  key: string;
  /** SADD's member, SET's value. */
  arg?: string;
  invokeMs: number;
  completeMs: number;
  outcome: Outcome;
  /** The reply's value (INCR's number, GET's string or null) when `ok`. */
  value?: string | null;
  /** The error text, when there was one. */
  error?: string;
}

/** Classifies an error reply to a write. */
export function writeErrorOutcome(text: string): Outcome {
  if (/may or may not|outcome is unknown/.test(text)) return "unknown";
  if (/was applied/.test(text)) return "applied";
  if (/write not logged|refused|wrong number|syntax|CROSSSLOT/i.test(text)) return "fail";
  // Everything else, worded or not, is treated as in doubt: never counted as a failure.
  return "unknown";
}
