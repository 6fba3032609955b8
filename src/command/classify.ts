/**
 * Pylon's class for every Redis command: Redis's flags decide, except where an
 * override in {@linkcode OVERRIDES} says otherwise (with its reason).
 */

import { equalsIgnoreCase, parseStrictInteger } from "./bytes.ts";
import { georadiusStoreIndex, sortStoreIndex, xreadBlocks } from "./keys.ts";
import { unreadableRestore } from "./function_payload.ts";
import { RESERVED_PREFIX, reservedName } from "../determinism/script_budget.ts";
import type { RawCommand } from "./raw.ts";
import type { ArgumentRule, CommandClass, ReplyFilter, ReplyKind } from "./types.ts";

/** Pylon's decision for one command or subcommand. */
export interface Classification {
  class: CommandClass;
  /** Why (always set for `refused`, and for every override). */
  reason?: string;
  /** For writes. */
  reply?: ReplyKind;
  argumentRule?: ArgumentRule;
  replyFilter?: ReplyFilter;
  scriptRead?: boolean;
  /** A local command Redis runs inside a transaction, queued into its op. */
  queuedInTransaction?: boolean;
}

/** One entry of the overrides table. */
export interface Override {
  class: CommandClass;
  /** One line: why Pylon differs from Redis's flags (for `refused`, the text clients see). */
  reason: string;
  reply?: ReplyKind;
  argumentRule?: ArgumentRule;
  /** How the reply is rewritten before a client sees it (src/gateway/reply_filters.ts). */
  replyFilter?: ReplyFilter;
  /** A read that runs a script: as the restricted script user. */
  scriptRead?: boolean;
  /** A local command Redis runs inside a transaction, queued into its op. */
  queuedInTransaction?: boolean;
}

// Refusal reasons shared by several commands.
const BLOCKING =
  "the client waits on its node, no Redis connection held: each try is an op (Redis's own pop inside the applier's MULTI, which never blocks), tried again when an applied op readies one of its keys, until its timeout on the node's clock (src/gateway/blocking_call.ts)";
const STREAM_BLOCK =
  "BLOCK: the client waits on its node, read again from the local rack when an applied op touches its streams, until its timeout on the node's clock";
const ADMIN = "it administers the underlying Redis; run it on that Redis directly";
const CLUSTER = "Pylon is not a Redis Cluster node; cluster commands belong to a cluster's Redis";
const REPLICATION = "it concerns the underlying Redis's replication; run it on that Redis directly";
const ACL =
  "Pylon's users come from its configuration (the 'user' option); the underlying Redis's ACLs are managed on that Redis";
const TRANSACTIONS =
  "answered by Pylon: the queued commands become one op, applied atomically on every rack";
const SCRIPT_OP =
  "an op applied on every rack, as a restricted Redis user that cannot reach another db; time and chance come from the op (src/determinism/)";
const RACK_ADMIN =
  "the rack's own Redis only, never another rack's, as the user's ACL rules allow (as on Redis); not the parameters Pylon depends on (src/auth/rack_admin.ts)";
const WORLD_ADMIN =
  "changes the world's membership: a user allowed to run it, with a proven password (AUTH)";
const EXPIRY_READ =
  "a read; the rack's Redis stores expiries shifted (it never expires a key by its own clock), so the reply is shown as the client set it";
const SCRIPT_READ =
  "a read-only script, run on a rack's Redis as a restricted user that cannot reach another db";
const KILL =
  "scripts and functions applied as ops, and read-only functions (FCALL_RO), stop by themselves once they run past their budget (--script-time-max-ms), at the same point on every rack, and killing an op's script on one rack would leave that rack different from the others; a read-only script (EVAL_RO, EVALSHA_RO) runs on one rack's Redis only and has no budget: if one hangs, run SCRIPT KILL on that Redis directly (FUNCTION STATS there names the running script; never kill one whose command carries Pylon's three trailing arguments)";
const TRACKING =
  "client-side caching would see invalidations from one rack's Redis only; ask the underlying Redis";
const MEMORY_ADMIN = "it reports on the underlying Redis's memory; run it on that Redis directly";
const LOCAL = "answered by Pylon itself";
const HELP = "Redis's help text: no data and no side effects";
const CONSTANT_UNLESS_INVALID =
  "the reply is always OK unless the arguments are invalid (then Redis's error is the reply)";

// --- Argument rules ----------------------------------------------------------

/** A positive integer Redis accepts as an expiry (small enough never to overflow in ms). */
function isValidExpiry(arg: Uint8Array | undefined): boolean {
  if (arg === undefined || arg.length > 15) return false;
  const value = parseStrictInteger(arg);
  return value !== undefined && value > 0;
}

/**
 * Whether SET's options make the reply depend on the data: NX, XX or GET, or
 * options Redis rejects (its error is then the reply, never OK).
 */
function setReplyDependsOnData(argv: readonly Uint8Array[]): boolean {
  let expiry = false;
  for (let i = 3; i < argv.length; i++) {
    const arg = argv[i]!;
    if (
      equalsIgnoreCase(arg, "ex") || equalsIgnoreCase(arg, "px") ||
      equalsIgnoreCase(arg, "exat") || equalsIgnoreCase(arg, "pxat")
    ) {
      if (expiry || !isValidExpiry(argv[i + 1])) return true;
      expiry = true;
      i++;
    } else if (equalsIgnoreCase(arg, "keepttl")) {
      if (expiry) return true;
      expiry = true;
    } else {
      // NX, XX, GET, or a syntax error.
      return true;
    }
  }
  return false;
}

/** FLUSHDB/FLUSHALL take at most one of ASYNC or SYNC. */
function flushArgumentsInvalid(argv: readonly Uint8Array[]): boolean {
  if (argv.length === 1) return false;
  if (argv.length > 2) return true;
  return !equalsIgnoreCase(argv[1]!, "async") && !equalsIgnoreCase(argv[1]!, "sync");
}

const SET_RULE: ArgumentRule = {
  when: "NX, XX or GET (or invalid options): the reply depends on the data",
  class: "write",
  reply: "data",
  test: setReplyDependsOnData,
};

/** A FUNCTION RESTORE payload that is valid but holds what Pylon cannot wrap. */
const UNREADABLE_PAYLOAD_RULE: ArgumentRule = {
  when: "a payload Pylon cannot read: refused, its functions would decide time and chance per rack",
  class: "refused",
  reason:
    "Pylon cannot read this payload's libraries to load them behind its determinism prologue; FUNCTION LOAD their code instead",
  test: unreadableRestore,
};

/** Code at `argv[at(argv)]` that names a name reserved for the script budget is refused before it is logged. */
function reservedNameRule(at: (argv: readonly Uint8Array[]) => number): ArgumentRule {
  return {
    when: `code naming a name reserved for the script budget ('${RESERVED_PREFIX}...'): refused`,
    class: "refused",
    reason:
      `the code names a name reserved for Pylon's script budget (names beginning with '${RESERVED_PREFIX}'); rename it`,
    test: (argv) => {
      const code = argv[at(argv)];
      return code !== undefined && reservedName(code) !== undefined;
    },
  };
}

const BLOCK_RULE: ArgumentRule = {
  when: "BLOCK: blocking, served as a wait on the node (reads of the rack, or tries as ops)",
  class: "blocking",
  reason: STREAM_BLOCK,
  test: xreadBlocks,
};

// --- The overrides -----------------------------------------------------------

/**
 * Pylon's overrides of Redis's command flags, each with its reason.
 *
 * How a command's class is decided (first match wins):
 *  1. An entry here for its full name (`client|kill`), then `<container>|*`
 *     for all of a container's subcommands, then `*|help` for any other
 *     container's HELP.
 *  2. Redis's flags: `pubsub` → pubsub (served by the local Redis on a
 *     subscribed connection); `blocking` → blocking (the client waits on its
 *     node; each try is an op); `admin` → refused, pointing at the underlying Redis;
 *     `write` → write; `readonly` → read.
 *  3. Anything else is refused: nothing is guessed to be a read.
 *
 * Writes reply `data` (the reply Redis gives when the op is applied) unless
 * listed here as `constant`: only commands whose reply is always the same OK
 * for valid arguments, whatever the data (an operator may then acknowledge
 * them as soon as the log has them).
 *
 * An `argumentRule` switches the class for requests whose arguments match it
 * (SORT .. STORE is a write, XREAD BLOCK is blocking, ...); `route()` applies
 * it. Containers themselves (`client`, `config`, ...) only ever see a wrong
 * number of arguments, since every call names a subcommand.
 */
export const OVERRIDES: Readonly<Record<string, Override>> = {
  // Answered by Pylon: connection state lives in Pylon, not in the rack's Redis.
  "ping": { class: "local", reason: LOCAL, queuedInTransaction: true },
  "echo": { class: "local", reason: LOCAL, queuedInTransaction: true },
  "select": {
    class: "local",
    reason: "Pylon keeps the connection's db; ops carry it",
    queuedInTransaction: true,
  },
  "hello": { class: "local", reason: "Pylon speaks RESP2 and RESP3 itself" },
  "auth": { class: "local", reason: "Pylon has its own users and passwords" },
  "quit": { class: "local", reason: LOCAL },
  "reset": { class: "local", reason: "resets Pylon's connection state" },
  "command": { class: "local", reason: "answered from Pylon's command table" },
  "command|*": { class: "local", reason: "answered from Pylon's command table" },
  "client|setname": { class: "local", reason: "the name of the connection to Pylon" },
  "client|getname": { class: "local", reason: "the name of the connection to Pylon" },
  "client|id": { class: "local", reason: "the id of the connection to Pylon" },
  "client|info": { class: "local", reason: "describes the connection to Pylon" },
  "client|list": { class: "local", reason: "lists Pylon's connections, not the Redis's" },
  "client|help": { class: "local", reason: "lists the CLIENT subcommands Pylon answers" },

  // Pylon's own commands (src/command/pylon_commands.ts).
  "pylon|info": { class: "local", reason: "this node's state, answered by Pylon" },
  "pylon|help": { class: "local", reason: LOCAL },
  "pylon|world": { class: "local", reason: "the world's membership as this node knows it" },
  "pylon|consistency": { class: "local", reason: "this connection's consistency" },
  "pylon|node": { class: "world-admin", reason: WORLD_ADMIN },
  "pylon|rack": { class: "world-admin", reason: WORLD_ADMIN },
  "pylon|rebuild": {
    class: "world-admin",
    reason: "replaces this rack's data with another rack's snapshot: " +
      "a user allowed to run it, with a proven password (AUTH)",
  },

  // Reads Redis's flags do not call reads.
  "info": {
    class: "read",
    reason: "reports the rack's Redis; clients such as ioredis use it as a ready check",
    replyFilter: "info",
  },
  "ttl": { class: "read", reason: EXPIRY_READ, replyFilter: "expiry" },
  "pttl": { class: "read", reason: EXPIRY_READ, replyFilter: "expiry" },
  "expiretime": { class: "read", reason: EXPIRY_READ, replyFilter: "expiry" },
  "pexpiretime": { class: "read", reason: EXPIRY_READ, replyFilter: "expiry" },
  "eval_ro": { class: "read", reason: SCRIPT_READ, scriptRead: true },
  "evalsha_ro": { class: "read", reason: SCRIPT_READ, scriptRead: true },
  "fcall_ro": { class: "read", reason: SCRIPT_READ, scriptRead: true },
  "time": { class: "read", reason: "the rack's Redis clock, like TTL: a time-dependent read" },
  "lastsave": { class: "read", reason: "the rack's Redis last save time" },
  "*|help": { class: "read", reason: HELP },
  "pubsub|channels": { class: "read", reason: "lists the local rack's subscriptions" },
  "pubsub|numpat": { class: "read", reason: "counts the local rack's subscriptions" },
  "pubsub|numsub": { class: "read", reason: "counts the local rack's subscriptions" },
  "pubsub|shardchannels": { class: "read", reason: "lists the local rack's subscriptions" },
  "pubsub|shardnumsub": { class: "read", reason: "counts the local rack's subscriptions" },

  // Arguments decide.
  "sort": {
    class: "read",
    reason: "Redis flags it a write for STORE; without it, it only reads (as SORT_RO on a replica)",
    argumentRule: {
      when: "STORE: a write",
      class: "write",
      reply: "data",
      test: (argv) => sortStoreIndex(argv) > 0,
    },
  },
  "georadius": {
    class: "read",
    reason:
      "Redis flags it a write for STORE/STOREDIST; without them it only reads (as GEORADIUS_RO on a replica)",
    argumentRule: {
      when: "STORE or STOREDIST: a write",
      class: "write",
      reply: "data",
      test: (argv) => georadiusStoreIndex(argv) > 0,
    },
  },
  "georadiusbymember": {
    class: "read",
    reason:
      "Redis flags it a write for STORE/STOREDIST; without them it only reads (as GEORADIUSBYMEMBER_RO on a replica)",
    argumentRule: {
      when: "STORE or STOREDIST: a write",
      class: "write",
      reply: "data",
      test: (argv) => georadiusStoreIndex(argv) > 0,
    },
  },
  "xread": {
    class: "read",
    reason: "Redis flags it blocking, but it only blocks with BLOCK",
    argumentRule: BLOCK_RULE,
  },
  "xreadgroup": {
    class: "write",
    reply: "data",
    reason: "Redis flags it blocking, but it only blocks with BLOCK; it moves entries to the PEL",
    argumentRule: BLOCK_RULE,
  },
  "set": {
    class: "write",
    reply: "constant",
    reason: "OK unless NX, XX or GET make the reply depend on the data",
    argumentRule: SET_RULE,
  },
  "pfcount": {
    class: "read",
    reason: "several keys are only read (merged into a temporary HyperLogLog)",
    argumentRule: {
      when: "one key: a write, as it stores the cached cardinality and DEBUG DIGEST must agree",
      class: "write",
      reply: "data",
      test: (argv) => argv.length === 2,
    },
  },
  "xadd": {
    class: "write",
    reply: "data",
    reason:
      "an explicit id is deterministic; '*' (and '<ms>-*') get the id Redis would give at the op's log time, the same on every rack",
  },

  // Writes whose reply is always OK.
  "setex": {
    class: "write",
    reply: "constant",
    reason: CONSTANT_UNLESS_INVALID,
    argumentRule: {
      when: "an invalid expiry: Redis's error is the reply",
      class: "write",
      reply: "data",
      test: (argv) => !isValidExpiry(argv[2]),
    },
  },
  "psetex": {
    class: "write",
    reply: "constant",
    reason: CONSTANT_UNLESS_INVALID,
    argumentRule: {
      when: "an invalid expiry: Redis's error is the reply",
      class: "write",
      reply: "data",
      test: (argv) => !isValidExpiry(argv[2]),
    },
  },
  "mset": {
    class: "write",
    reply: "constant",
    reason: CONSTANT_UNLESS_INVALID,
    argumentRule: {
      when: "a key without a value: Redis's error is the reply",
      class: "write",
      reply: "data",
      test: (argv) => argv.length % 2 === 0,
    },
  },
  "flushdb": {
    class: "write",
    reply: "constant",
    reason: CONSTANT_UNLESS_INVALID,
    argumentRule: {
      when: "options other than ASYNC or SYNC: Redis's error is the reply",
      class: "write",
      reply: "data",
      test: flushArgumentsInvalid,
    },
  },
  "flushall": {
    class: "write",
    reply: "constant",
    reason: CONSTANT_UNLESS_INVALID,
    argumentRule: {
      when: "options other than ASYNC or SYNC: Redis's error is the reply",
      class: "write",
      reply: "data",
      test: flushArgumentsInvalid,
    },
  },

  // Writes whose choice or time comes from the op (src/determinism/): the same on every rack.
  "spop": {
    class: "write",
    reply: "data",
    reason: "the members are chosen from the op's seed, in bytewise order, the same on every rack",
  },
  "xclaim": {
    class: "write",
    reply: "data",
    reason: "idleness is measured from delivery times in log time, at the op's log time",
  },
  "xautoclaim": {
    class: "write",
    reply: "data",
    reason: "idleness is measured from delivery times in log time, at the op's log time",
  },
  "migrate": { class: "refused", reason: "it moves keys to a Redis outside the log" },
  "publish": {
    class: "write",
    reply: "data",
    reason: "an op applied on every rack, so every rack's subscribers receive it",
  },
  "spublish": {
    class: "write",
    reply: "data",
    reason: "an op applied on every rack, so every rack's subscribers receive it",
  },

  // Transactions and scripting.
  "multi": { class: "transaction", reason: TRANSACTIONS },
  "exec": { class: "transaction", reason: TRANSACTIONS },
  "discard": { class: "transaction", reason: TRANSACTIONS },
  "unwatch": { class: "transaction", reason: "forgets the connection's watched keys" },
  "watch": {
    class: "transaction",
    reason:
      "the connection remembers the keys and its rack's position; EXEC carries them, and every rack aborts it alike if the log shows a change in between",
  },
  "eval": {
    class: "write",
    reply: "data",
    reason: SCRIPT_OP,
    argumentRule: reservedNameRule(() => 1),
  },
  "evalsha": {
    class: "write",
    reply: "data",
    reason:
      `${SCRIPT_OP}; applied as EVAL of the body Pylon keeps, so a Redis restart loses nothing`,
  },
  "fcall": { class: "write", reply: "data", reason: SCRIPT_OP },
  "script|load": {
    class: "write",
    reply: "data",
    reason: "a world op: every rack can then run the script by its sha",
    argumentRule: reservedNameRule(() => 2),
  },
  "script|flush": {
    class: "write",
    reply: "data",
    reason: "a world op: forgets scripts everywhere",
  },
  "script|exists": { class: "read", reason: "the local rack's Redis script cache" },
  "script|kill": { class: "refused", reason: KILL },
  "script|debug": { class: "refused", reason: "the Lua debugger runs on one Redis, not on an op" },
  "function|load": {
    class: "write",
    reply: "data",
    reason:
      "a world op: every rack gets the library, loaded behind the determinism prologue (time and chance from the op)",
    argumentRule: reservedNameRule((argv) => argv.length - 1),
  },
  "function|restore": {
    class: "write",
    reply: "data",
    reason: "a world op: every rack gets the libraries, loaded behind the determinism prologue",
    argumentRule: UNREADABLE_PAYLOAD_RULE,
  },
  "function|delete": { class: "write", reply: "data", reason: "a world op" },
  "function|flush": { class: "write", reply: "data", reason: "a world op" },
  "function|list": {
    class: "read",
    reason: "the local rack's libraries, their code as the client loaded it",
    replyFilter: "functions",
  },
  "function|dump": {
    class: "read",
    reason: "the local rack's libraries, their code as the client loaded it",
    replyFilter: "functions",
  },
  "function|stats": { class: "read", reason: "the local rack's running function" },
  "function|kill": { class: "refused", reason: KILL },

  // The underlying Redis's business: cluster, replication, administration.
  "cluster|*": { class: "refused", reason: CLUSTER },
  "readonly": { class: "refused", reason: CLUSTER },
  "readwrite": { class: "refused", reason: CLUSTER },
  "asking": { class: "refused", reason: CLUSTER },
  "restore-asking": { class: "refused", reason: CLUSTER },
  "role": { class: "refused", reason: REPLICATION },
  "wait": {
    class: "wait",
    reason:
      "racks in place of replicas: how many racks applied the connection's writes (src/consistency/)",
  },
  "acl|whoami": { class: "local", reason: "the Pylon user of the connection" },
  "acl|list": { class: "local", reason: "Pylon's users, from its configuration" },
  "acl|users": { class: "local", reason: "Pylon's users, from its configuration" },
  "acl|getuser": { class: "local", reason: "Pylon's users, from its configuration" },
  "acl|cat": { class: "local", reason: "the categories of Pylon's command table" },
  "acl|genpass": { class: "local", reason: "a random password, generated by Pylon" },
  "acl|help": { class: "local", reason: "lists the ACL subcommands Pylon answers" },
  "acl|*": { class: "refused", reason: ACL },
  "config|get": {
    class: "read",
    reason: "the rack's Redis configuration, read-only; parameters holding passwords are left out",
    replyFilter: "config-secrets",
  },
  "config|set": { class: "rack-admin", reason: RACK_ADMIN },
  "config|resetstat": { class: "rack-admin", reason: RACK_ADMIN },
  "slowlog|get": { class: "rack-admin", reason: RACK_ADMIN },
  "slowlog|len": { class: "rack-admin", reason: RACK_ADMIN },
  "slowlog|reset": { class: "rack-admin", reason: RACK_ADMIN },
  "config|help": { class: "read", reason: HELP },
  "config|*": { class: "refused", reason: ADMIN },
  "memory|doctor": { class: "refused", reason: MEMORY_ADMIN },
  "memory|malloc-stats": { class: "refused", reason: MEMORY_ADMIN },
  "memory|stats": { class: "refused", reason: MEMORY_ADMIN },
  "memory|purge": { class: "refused", reason: MEMORY_ADMIN },
  "client|caching": { class: "refused", reason: TRACKING },
  "client|getredir": { class: "refused", reason: TRACKING },
  "client|tracking": { class: "refused", reason: TRACKING },
  "client|trackinginfo": { class: "refused", reason: TRACKING },
  "client|reply": {
    class: "refused",
    reason: "Pylon answers every request, in order; CLIENT REPLY would break that",
  },
  "client|kill": {
    class: "refused",
    reason: "it would act on the underlying Redis's connections; run it on that Redis directly",
  },
  "client|pause": { class: "refused", reason: ADMIN },
  "client|unpause": { class: "refused", reason: ADMIN },
  "client|unblock": {
    class: "local",
    reason:
      "unblocks a client waiting on this node in a blocking command (Pylon's own waiting clients)",
  },
  "client|no-evict": { class: "refused", reason: ADMIN },
};

/**
 * What Redis runs on a RESP2 connection in subscribe mode (it refuses every
 * other command there), and who answers: the client's subscribed connection
 * (PING answers in subscribe mode's shape there), or Pylon.
 */
export const SUBSCRIBE_MODE_COMMANDS: Readonly<Record<string, "subscriber" | "local">> = {
  subscribe: "subscriber",
  psubscribe: "subscriber",
  ssubscribe: "subscriber",
  unsubscribe: "subscriber",
  punsubscribe: "subscriber",
  sunsubscribe: "subscriber",
  ping: "subscriber",
  quit: "local",
  reset: "local",
};

/** The override for a command's full name, if any (see {@linkcode OVERRIDES} for the order). */
export function overrideFor(name: string): Override | undefined {
  const find = (key: string) => Object.hasOwn(OVERRIDES, key) ? OVERRIDES[key] : undefined;
  const exact = find(name);
  if (exact !== undefined) return exact;
  const bar = name.indexOf("|");
  if (bar < 0) return undefined;
  return find(`${name.slice(0, bar)}|*`) ?? (name.endsWith("|help") ? find("*|help") : undefined);
}

/** Pylon's class for one command or subcommand from Redis's description. */
export function classify(command: RawCommand): Classification {
  const override = overrideFor(command.name);
  if (override !== undefined) return { ...override };
  if (command.subcommands.length > 0) {
    return { class: "refused", reason: "it needs a subcommand" };
  }
  const flags = command.flags;
  if (flags.includes("pubsub")) return { class: "pubsub" };
  if (flags.includes("blocking")) return { class: "blocking", reason: BLOCKING };
  if (flags.includes("admin")) return { class: "refused", reason: ADMIN };
  if (flags.includes("write")) return { class: "write", reply: "data" };
  if (flags.includes("readonly")) return { class: "read" };
  return {
    class: "refused",
    reason: "Redis flags it neither a read nor a write, and Pylon has no rule for it",
  };
}
