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
