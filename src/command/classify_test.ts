import assert from "node:assert/strict";
import { classify, overrideFor, OVERRIDES } from "./classify.ts";
import type { RawCommand } from "./raw.ts";
import { allCommands, findAnyCommand, findCommand } from "./table.ts";
import type { CommandSpec } from "./types.ts";

function spec(name: string): CommandSpec {
  const found = findCommand(name);
  assert.ok(found !== undefined, `no command '${name}'`);
  return found;
}

function every(): CommandSpec[] {
  return allCommands().flatMap((command) => [command, ...command.subcommands]);
}

function raw(name: string, flags: string[]): RawCommand {
  return {
    name,
    arity: -1,
    flags,
    first_key: 0,
    last_key: 0,
    step: 0,
    acl_categories: [],
    tips: [],
    key_specs: [],
    subcommands: [],
    docs: { group: "generic" },
  };
}

Deno.test("classify() follows Redis's flags when no override applies", () => {
  assert.deepEqual(classify(raw("x-write", ["write", "fast"])), { class: "write", reply: "data" });
  assert.deepEqual(classify(raw("x-read", ["readonly"])), { class: "read" });
  assert.equal(classify(raw("x-sub", ["pubsub"])).class, "pubsub");
  assert.equal(classify(raw("x-block", ["write", "blocking"])).class, "blocking");
  const admin = classify(raw("x-admin", ["write", "admin"]));
  assert.equal(admin.class, "refused");
  assert.match(admin.reason!, /underlying Redis/);
});

Deno.test("classify() refuses a command that is neither a read nor a write: nothing is guessed", () => {
  const decided = classify(raw("x-unknown", ["fast", "loading", "stale"]));
  assert.equal(decided.class, "refused");
  assert.match(decided.reason!, /neither a read nor a write/);
});

Deno.test("Redis's flags make GET a read, INCR a write, BLPOP blocking and SUBSCRIBE pubsub", () => {
  assert.equal(spec("get").class, "read");
  assert.equal(spec("incr").class, "write");
  assert.equal(spec("incr").reply, "data");
  const pops = [
    "blpop",
    "brpop",
    "blmove",
    "brpoplpush",
    "blmpop",
    "bzpopmin",
    "bzpopmax",
    "bzmpop",
  ];
  for (const name of pops) {
    assert.equal(spec(name).class, "blocking", name);
    assert.match(spec(name).reason!, /waits on its node/, name);
    assert.equal(spec(name).inTransaction, "queue", `${name} does not block inside MULTI`);
  }
  for (const name of ["subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe"]) {
    assert.equal(spec(name).class, "pubsub", name);
  }
  assert.equal(spec("sunsubscribe").class, "pubsub");
});

Deno.test("administration, cluster and replication commands are refused, pointing at the underlying Redis", () => {
  assert.equal(spec("config|get").class, "read", "read-only, secrets left out");
  for (const name of ["config|set", "config|resetstat", "slowlog|get", "slowlog|reset"]) {
    assert.equal(spec(name).class, "rack-admin", name);
    assert.match(spec(name).reason!, /the user's ACL rules allow/, name);
    assert.deepEqual(spec(name).inTransaction, {
      refusal:
        `ERR command '${name}' is refused by Pylon inside MULTI: it acts on one rack's Redis`,
    });
  }
  const names = [
    "debug",
    "shutdown",
    "replicaof",
    "slaveof",
    "sync",
    "psync",
    "cluster|info",
    "cluster|keyslot",
    "cluster|nodes",
    "failover",
    "monitor",
    "acl|setuser",
    "acl|deluser",
    "module|load",
    "save",
    "bgsave",
    "bgrewriteaof",
    "latency|latest",
    "memory|stats",
    "memory|doctor",
    "memory|purge",
    "readonly",
    "readwrite",
    "asking",
    "role",
    "client|kill",
    "client|pause",
    "client|unpause",
    "client|tracking",
    "client|caching",
    "client|no-evict",
  ];
  for (const name of names) {
    assert.equal(spec(name).class, "refused", name);
    assert.match(spec(name).reason!, /underlying Redis|Redis Cluster|cluster's Redis/, name);
  }
  assert.equal(spec("migrate").class, "refused");
  assert.match(spec("migrate").reason!, /outside the log/);
});

Deno.test("connection commands, COMMAND and some CLIENT subcommands are answered by Pylon", () => {
  const local = [
    "ping",
    "echo",
    "select",
    "hello",
    "auth",
    "quit",
    "reset",
    "command",
    "client|setname",
    "client|getname",
    "client|id",
    "client|info",
    "client|list",
    "client|help",
    "client|unblock",
  ];
  for (const name of local) assert.equal(spec(name).class, "local", name);
  assert.equal(spec("wait").class, "wait", "answered once racks applied the connection's writes");
  for (const sub of spec("command").subcommands) assert.equal(sub.class, "local", sub.name);
  for (const sub of spec("client").subcommands) {
    if (!local.includes(sub.name)) assert.equal(sub.class, "refused", sub.name);
  }
});

Deno.test("INFO, TIME, LASTSAVE, DBSIZE and PUBSUB introspection are reads", () => {
  for (const name of ["info", "time", "lastsave", "dbsize", "pubsub|channels", "pubsub|numsub"]) {
    assert.equal(spec(name).class, "read", name);
  }
  for (const name of ["pubsub|numpat", "pubsub|shardchannels", "pubsub|shardnumsub"]) {
    assert.equal(spec(name).class, "read", name);
  }
  assert.match(spec("info").reason!, /ready check/);
});

Deno.test("transactions and WATCH are Pylon's; scripts are ops; *_RO scripts and introspection are reads", () => {
  for (const name of ["multi", "exec", "discard"]) {
    assert.equal(spec(name).class, "transaction");
    assert.match(spec(name).reason!, /one op, applied atomically on every rack/);
  }
  assert.equal(spec("unwatch").class, "transaction");
  assert.equal(spec("watch").class, "transaction");
  assert.match(spec("watch").reason!, /every rack aborts it alike/);
  const ops = ["eval", "evalsha", "fcall", "script|load", "script|flush"];
  for (const name of [...ops, "function|load", "function|delete", "function|flush"]) {
    assert.equal(spec(name).class, "write", name);
    assert.equal(spec(name).reply, "data", name);
  }
  for (const name of ["eval_ro", "evalsha_ro", "fcall_ro", "script|exists", "function|list"]) {
    assert.equal(spec(name).class, "read", name);
  }
  for (const name of ["script|kill", "function|kill", "script|debug"]) {
    assert.equal(spec(name).class, "refused", name);
  }
  for (const name of ["eval", "script|load", "function|load"]) {
    assert.equal(spec(name).argumentRule?.class, "refused", `${name}: reserved names refused`);
  }
  assert.equal(
    spec("function|restore").argumentRule?.class,
    "refused",
    "payloads Pylon cannot read",
  );
});

Deno.test("PUBLISH and SPUBLISH are writes: every rack's subscribers receive them", () => {
  for (const name of ["publish", "spublish"]) {
    assert.equal(spec(name).class, "write");
    assert.equal(spec(name).reply, "data");
  }
});

Deno.test("only writes whose reply is always OK are constant", () => {
  const constant = every().filter((c) => c.reply === "constant").map((c) => c.name).sort();
  assert.deepEqual(constant, ["flushall", "flushdb", "mset", "psetex", "set", "setex"]);
  for (const name of ["incr", "lpop", "getset", "getdel", "msetnx", "hmset", "ltrim", "rename"]) {
    assert.equal(spec(name).reply, "data", name);
  }
});

Deno.test("every write has a reply kind, every refusal and override a one-line reason", () => {
  for (const command of every()) {
    if (command.class === "write") assert.ok(command.reply !== undefined, command.name);
    else assert.equal(command.reply, undefined, command.name);
    if (command.class === "refused") assert.ok(command.reason !== undefined, command.name);
  }
  for (const [name, override] of Object.entries(OVERRIDES)) {
    assert.ok(override.reason.length > 0 && !/[\r\n]/.test(override.reason), name);
    assert.ok(!override.reason.endsWith("."), `${name}: no trailing period`);
    if (override.class === "write") assert.ok(override.reply !== undefined, name);
    const rule = override.argumentRule;
    if (rule?.class === "refused") assert.ok(rule.reason !== undefined, name);
    if (rule?.class === "write") assert.ok(rule.reply !== undefined, name);
  }
});

Deno.test("every override names a real command, or a real container with '|*'", () => {
  for (const name of Object.keys(OVERRIDES)) {
    if (name === "*|help") continue;
    const container = name.endsWith("|*") ? name.slice(0, -2) : undefined;
    const found = findAnyCommand(container ?? name);
    assert.ok(found !== undefined, `override for unknown command '${name}'`);
    if (container !== undefined) assert.ok(found.subcommands.length > 0, name);
  }
});

Deno.test("overrideFor() prefers the exact name, then the container, then HELP", () => {
  assert.equal(overrideFor("client|help"), OVERRIDES["client|help"]);
  assert.equal(overrideFor("command|help"), OVERRIDES["command|*"]);
  assert.equal(overrideFor("script|help"), OVERRIDES["*|help"]);
  assert.equal(overrideFor("script|load"), OVERRIDES["script|load"]);
  assert.equal(overrideFor("object|help"), OVERRIDES["*|help"]);
  assert.equal(overrideFor("object|encoding"), undefined);
  assert.equal(overrideFor("get"), undefined);
  assert.equal(overrideFor("constructor"), undefined);
});

Deno.test("commands whose arguments decide carry a rule", () => {
  const ruled = every().filter((c) => c.argumentRule !== undefined).map((c) => c.name).sort();
  assert.deepEqual(ruled, [
    "eval",
    "flushall",
    "flushdb",
    "function|load",
    "function|restore",
    "georadius",
    "georadiusbymember",
    "mset",
    "pfcount",
    "psetex",
    "script|load",
    "set",
    "setex",
    "sort",
    "xread",
    "xreadgroup",
  ]);
  assert.equal(spec("sort").class, "read");
  assert.equal(spec("sort").argumentRule?.class, "write");
  assert.equal(spec("xread").argumentRule?.class, "blocking");
});

Deno.test("writes whose choice or time comes from the op are writes with data replies", () => {
  for (const name of ["spop", "xclaim", "xautoclaim", "xadd"]) {
    assert.equal(spec(name).class, "write", name);
    assert.equal(spec(name).reply, "data", name);
    assert.match(spec(name).reason!, /log time|seed/, name);
  }
});
