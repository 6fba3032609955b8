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
  | "unknown"
  /**
   * Refused, changing nothing: by Pylon ("refused by Pylon"), or by the
   * restricted user scripts run as (a call it may not make, made first in the
   * script). Counted apart, never an anomaly: the command is not served yet.
   */
  | "refused";

/** The operations the chaos clients run (tests/chaos/clients.ts). */
export type BasicKind = "incr" | "get" | "sadd" | "ismember" | "set";

/**
 * The operations of the time clients (tests/chaos/time_clients.ts), on keys
 * no basic client touches:
 * - `t:<client>:<n>` keys with expiries, each written by one client only:
 *   `ttl-set` (SET .. [PX|EX]), `expire` (EXPIRE or PEXPIRE, maybe NX|XX|GT|LT),
 *   `persist`, `getex` (GETEX .. PX|EX|PERSIST), and, sent to another rack
 *   within a few ms of the key's expiry, `edge-incr`, `edge-append`,
 *   `edge-setnx` (SET .. NX);
 * - streams `s:<n>`: `xadd` (`XADD .. MAXLEN .. * ..`), `xadd-ms` (an id
 *   `<ms>-*`, served today), `xgroup` (XGROUP CREATE), `xreadgroup` (no BLOCK,
 *   id `>`), `xack`, `xclaim`, `xautoclaim`;
 * - sets `p:<n>` filled by `padd` (SADD of unique members) and emptied by
 *   `spop` (with or without a count);
 * - scripts (EVAL): `script-time` (TIME), `script-xadd` (XADD *),
 *   `script-spop`, `script-srand` (SRANDMEMBER), `script-ttl` (TTL of a `t:`
 *   key), each writing what it got to its own key `e:<client>:<n>` and
 *   answering it; `script-expire` (SET then a relative EXPIRE of a `t:` key).
 */
export type TimeKind =
  | "ttl-set"
  | "expire"
  | "persist"
  | "getex"
  | "edge-incr"
  | "edge-append"
  | "edge-setnx"
  | "xadd"
  | "xadd-ms"
  | "xgroup"
  | "xreadgroup"
  | "xack"
  | "xclaim"
  | "xautoclaim"
  | "padd"
  | "spop"
  | "script-time"
  | "script-xadd"
  | "script-spop"
  | "script-srand"
  | "script-ttl"
  | "script-expire";

/**
 * The operations of the queue clients (tests/chaos/queue_clients.ts), on keys
 * no other client touches: lists `q:<n>` that producers `q-push` (LPUSH of a
 * unique element) and consumers `q-pop` (BRPOP with a timeout); streams
 * `qs:<n>` with group `g`, made by `q-group` (XGROUP CREATE .. MKSTREAM),
 * filled by `q-xadd` (XADD * of a unique tag), read by `q-xread`
 * (XREADGROUP .. BLOCK .. >) and acknowledged by `q-xack`.
 */
export type QueueKind = "q-push" | "q-pop" | "q-group" | "q-xadd" | "q-xread" | "q-xack";

/** Every operation kind. */
export type OpKind = BasicKind | TimeKind | QueueKind;

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
  /** SADD's member, SET's value; the key a script writes. */
  arg?: string;
  /** The command sent (time clients: the checker reads TTLs, conditions and fields from it). */
  argv?: string[];
  invokeMs: number;
  completeMs: number;
  /**
   * The host's wall clock (`Date.now()`) when the operation was sent and when
   * its reply came (time clients): an op's log time lies between the two.
   */
  invokeWallMs?: number;
  completeWallMs?: number;
  outcome: Outcome;
  /** The reply's value (INCR's number, GET's string or null) when `ok`. */
  value?: string | null;
  /** An array reply's items, flattened (SPOP's members, XREADGROUP's ids, ...), when `ok`. */
  values?: string[];
  /** The error text, when there was one. */
  error?: string;
}

/** Whether an error says the command was refused before it changed anything. */
export function isRefusal(text: string): boolean {
  return /refused by Pylon/.test(text) ||
    // The restricted script user: the script's first call was one it may not make.
    /The user executing the script can't run this command/.test(text);
}

/** Classifies an error reply to a write. */
export function writeErrorOutcome(text: string): Outcome {
  if (isRefusal(text)) return "refused";
  if (/may or may not|outcome is unknown/.test(text)) return "unknown";
  if (/was applied/.test(text)) return "applied";
  if (/write not logged|refused|wrong number|syntax|CROSSSLOT/i.test(text)) return "fail";
  // Everything else, worded or not, is treated as in doubt: never counted as a failure.
  return "unknown";
}
