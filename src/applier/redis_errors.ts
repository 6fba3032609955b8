/**
 * Which Redis errors are an op's own outcome and which say something about
 * the rack. An op's outcome (`WRONGTYPE`, an overflow, a syntax error found
 * at apply) is the same on every rack, so it is the client's reply. A rack
 * condition (out of memory, a read-only replica after a failover, a Redis
 * still loading its data, ...) is not: another rack applies the same op
 * successfully, so answering with it, or skipping the op here, would break
 * convergence. The applier pauses on those and resumes where it stopped.
 *
 * Every error prefix Redis 7.0 sends is listed, with the reason.
 */

/** What an error means for the applier. */
export type ErrorKind = "op" | "rack";

const PREFIXES: Record<string, { kind: ErrorKind; why: string }> = {
  // The op's own outcome: deterministic, identical on every rack.
  ERR: { kind: "op", why: "generic command error (wrong value, overflow, syntax, no such key)" },
  WRONGTYPE: { kind: "op", why: "the key holds another type: the same on every rack by log order" },
  BUSYKEY: { kind: "op", why: "RESTORE/COPY/MIGRATE target exists: the same on every rack" },
  BUSYGROUP: { kind: "op", why: "XGROUP CREATE of a group that exists: the same on every rack" },
  NOGROUP: {
    kind: "op",
    why: "a stream consumer group that does not exist: the same on every rack",
  },
  NOSCRIPT: { kind: "op", why: "EVALSHA of an unknown script: scripts are world ops" },
  EXECABORT: {
    kind: "op",
    why: "a client transaction refused when queued: decided by its commands",
  },
  NOPROTO: { kind: "op", why: "HELLO of an unsupported protocol version" },
  UNKILLABLE: { kind: "op", why: "SCRIPT KILL of a script that wrote" },
  NOTBUSY: { kind: "op", why: "SCRIPT KILL with no script running" },
  // A condition of this rack: pause, mark the rack not ready, retry from the stored position.
  OOM: { kind: "rack", why: "this rack's Redis reached maxmemory; another rack has room" },
  READONLY: {
    kind: "rack",
    why: "this Redis became a replica (a failover): follow the new master",
  },
  LOADING: { kind: "rack", why: "this Redis is loading its data set after a restart" },
  BUSY: { kind: "rack", why: "a long script or function is running on this Redis" },
  MASTERDOWN: { kind: "rack", why: "a replica that lost its master (replica-serve-stale-data no)" },
  MISCONF: { kind: "rack", why: "this Redis cannot persist (stop-writes-on-bgsave-error)" },
  NOREPLICAS: { kind: "rack", why: "fewer replicas than min-replicas-to-write on this rack" },
  NOAUTH: { kind: "rack", why: "Pylon is not authenticated to this rack's Redis" },
  WRONGPASS: { kind: "rack", why: "Pylon's credentials for this rack's Redis are wrong" },
  NOPERM: { kind: "rack", why: "Pylon's Redis user lacks a permission on this rack" },
  DENIED: { kind: "rack", why: "this Redis runs in protected mode" },
  UNBLOCKED: { kind: "rack", why: "an operator ran CLIENT UNBLOCK on Pylon's connection" },
  TRYAGAIN: { kind: "rack", why: "Redis Cluster resharding (not a Pylon rack layout)" },
  CLUSTERDOWN: { kind: "rack", why: "Redis Cluster is down (not a Pylon rack layout)" },
  MOVED: { kind: "rack", why: "Redis Cluster redirect (not a Pylon rack layout)" },
  ASK: { kind: "rack", why: "Redis Cluster redirect (not a Pylon rack layout)" },
  CROSSSLOT: { kind: "rack", why: "Redis Cluster slot check (not a Pylon rack layout)" },
};

/** `ERR` texts that still describe the rack, not the op. */
const RACK_ERR_TEXTS = [
  /^ERR max number of clients reached/, // this Redis's maxclients
  /^ERR DB index is out of range/, // this Redis has fewer databases
  /^ERR unknown command/, // a command renamed or disabled on this rack's Redis
  /^ERR .*is disabled/, // e.g. DEBUG or SCRIPT disabled by configuration here
  /^ERR Protocol error/, // the connection is broken
];

/** Whether an error text (without its leading `-`) is the op's outcome or a rack condition. */
export function classifyRedisError(text: string): ErrorKind {
  // EXEC refused as a whole at that moment (out of memory, ...): its cause decides.
  const cause = /^EXECABORT Transaction discarded because of: -?(.*)$/s.exec(text)?.[1];
  if (cause !== undefined) return classifyRedisError(cause);
  const prefix = /^[A-Z]+/.exec(text)?.[0] ?? "";
  const known = PREFIXES[prefix];
  if (known === undefined) return "rack"; // an error Pylon does not know: do not make it a reply
  if (prefix === "ERR" && RACK_ERR_TEXTS.some((pattern) => pattern.test(text))) return "rack";
  return known.kind;
}

/** Every known prefix with its kind and reason, for documentation and tests. */
export function errorTable(): [string, ErrorKind, string][] {
  return Object.entries(PREFIXES).map(([prefix, { kind, why }]) => [prefix, kind, why]);
}

/**
 * What Redis checks when a command is queued (it exists, its arity) Pylon
 * checked against the world's floor before logging the op (src/command/
 * route.ts): a rack refusing it there runs another version or a renamed or
 * disabled command, so that refusal is the rack's, never the op's.
 */
const RACK_QUEUED_TEXTS = [
  /^ERR unknown command/,
  /^ERR unknown subcommand/,
  /^ERR wrong number of arguments/,
];

/** {@linkcode classifyRedisError} for an error Redis gave when a command was queued. */
export function classifyQueuedError(text: string): ErrorKind {
  return RACK_QUEUED_TEXTS.some((pattern) => pattern.test(text))
    ? "rack"
    : classifyRedisError(text);
}

/** Redis's suffix on an error raised by `redis.call` out of a script or function. */
const FROM_SCRIPT_CALL = / script: [^ ]+, on @user_(script|function):\d+\.$/;

/** Rack conditions a script can meet inside EXEC (the rest are refused before EXEC runs). */
const RACK_SCRIPT_PREFIXES = /^(OOM|BUSY|LOADING|READONLY|MISCONF|NOREPLICAS|MASTERDOWN|NOAUTH) /;

/**
 * Whether an error inside EXEC's reply, to a command that ran, is the op's
 * outcome or a rack condition. Inside EXEC nothing is refused for arity or
 * existence, and the world's contract makes the limits alike (`databases`,
 * `proto-max-bulk-len`, ...), so most errors there are the op's own: the
 * same on every rack. Scripts may return any error text of their own, so
 * for them only what Redis alone produces counts as the rack's: a script
 * killed by `SCRIPT KILL`/`FUNCTION KILL` sent to this rack's Redis, a
 * command renamed or missing here, and a rack condition raised by
 * `redis.call` (it carries Redis's `script: ..., on @user_script:N.` suffix).
 */
export function classifyExecItemError(text: string, fromScript: boolean): ErrorKind {
  if (/Script killed by user with (SCRIPT|FUNCTION) KILL/.test(text)) return "rack";
  if (/^ERR Unknown Redis command called from script/.test(text)) return "rack";
  if (fromScript) {
    return RACK_SCRIPT_PREFIXES.test(text) && FROM_SCRIPT_CALL.test(text) ? "rack" : "op";
  }
  // The world's contract makes the number of dbs alike: MOVE/COPY to a db past it is the op's.
  if (/^ERR DB index is out of range/.test(text)) return "op";
  const prefix = /^[A-Z]+/.exec(text)?.[0] ?? "";
  // A prefix Redis's commands do not use is no rack condition Pylon can name.
  if (PREFIXES[prefix] === undefined) return "op";
  return classifyRedisError(text);
}
