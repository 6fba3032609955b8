/**
 * The applier's batch planning and settling without Redis: the commands of
 * each batch word by word (each checked to encode back to the exact bytes
 * planned), and what Redis's replies mean.
 */

import assert from "node:assert/strict";
import {
  type Batch,
  type BatchPlan,
  connectionAfter,
  type ConnectionState,
  endsBatch,
  planBatch,
  type PlanOptions,
  planScriptSteps,
  settleBatch,
  type Settlement,
  skippedOps,
} from "./batch_plan.ts";
import type { Op } from "../log/op.ts";
import { encodeCommand } from "../resp/encoder.ts";
import { RequestDecoder } from "../resp/request_decoder.ts";
import { randomSeed, ScriptOps, ScriptRegistry, scriptSha } from "./script_ops.ts";
import { opSeed, scriptBody } from "../determinism/prologue.ts";
import { DEFAULT_BUDGET_STEPS } from "../determinism/script_budget.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

const META = 15;
const MARKER = encodeCommand(["SET", "pylon:identity", "marker"]);
/** The end of every batch of partition 1 whose next position is 10 and last op `lastId`. */
const tail = (lastId: string) => [
  "SET pylon:applied:1 10",
  "SET pylon:applied-time:1 0",
  `SET pylon:applied-op:1 ${lastId}`,
  "SET pylon:identity marker",
  "EXEC",
  "WATCH pylon:applied:1",
  "GET pylon:applied:1",
];

let opCount = 0;

/** An op of one command (`commands` of several: a client transaction), in db 0, RESP2. */
function op(fields: Partial<Omit<Op, "commands">> & { commands: string[][] }): Op {
  const id = `01HZX3Y5V8Q2W4E6R8T0Y2U${String(opCount++).padStart(3, "0")}`;
  return {
    id,
    origin: "n1",
    rack: "east",
    db: 0,
    protocol: 2,
    transaction: fields.commands.length > 1,
    acceptedAtMs: 0,
    ...fields,
    commands: fields.commands.map((argv) => argv.map(bytes)),
  };
}

function batchOf(ops: (Op | undefined)[], skipped = new Map<Op, Uint8Array>()): Batch {
  return { ops, skipped, next: 10, times: ops.map(() => 0), timeAfter: 0 };
}

function plan(
  batch: Batch,
  connection: ConnectionState = { protocol: 2, db: META },
  scripts?: ScriptRegistry,
): BatchPlan {
  const options: PlanOptions = {
    partition: 1,
    metaDb: META,
    markerCommand: MARKER,
    scripts,
    connection,
    // The expiry steps have tests of their own below.
    expirySteps: false,
  };
  return planBatch(batch, options);
}

/** Each command as its words joined by spaces, checked to encode back to the same bytes. */
function words(commands: readonly Uint8Array[]): string[] {
  return commands.map((command) => {
    const decoder = new RequestDecoder();
    decoder.push(command);
    const argv = decoder.next()!;
    assert.deepEqual(encodeCommand(argv), command, "a command the words do not show exactly");
    return argv.map(text).join(" ");
  });
}

/** Whose reply each queued command is: `setup`, or the op's name and the command's index. */
function owners(planned: BatchPlan, names: Map<Op, string>): string[] {
  return planned.slots.map((slot) =>
    slot.kind === "setup" ? "setup" : `${names.get(slot.op)}.${slot.index}`
  );
}

/**
 * Redis's frames for `planned` when EXEC runs it: `+OK` for every setup
 * command, `own(op, index)` for the ops' commands, then the position the
 * GET after EXEC reads (`stored`, a raw frame).
 */
function answers(
  planned: BatchPlan,
  own: (op: Op, index: number) => string,
  overrides: { exec?: string; stored?: string; queued?: (i: number) => string } = {},
): Uint8Array[] {
  const items = planned.slots.map((slot) =>
    slot.kind === "setup" ? "+OK\r\n" : `${own(slot.op, slot.index)}\r\n`
  );
  const exec = overrides.exec ?? `*${items.length}\r\n${items.join("")}`;
  return [
    "+OK\r\n",
    ...planned.slots.map((_, i) => `${overrides.queued?.(i) ?? "+QUEUED"}\r\n`),
    exec,
    "+OK\r\n",
    overrides.stored ?? "$2\r\n10\r\n",
  ].map(bytes);
}

/** An outcome with its replies as text, for deepEqual. */
function shown(settlement: Settlement, names: Map<Op, string>): unknown {
  if (!("replies" in settlement)) return settlement;
  return {
    ...settlement,
    replies: settlement.replies.map(({ op, reply }) => [names.get(op), text(reply)]),
  };
}

Deno.test("planBatch switches protocol and db only between ops that differ, then stores the position, the last op and the marker", () => {
  const a = op({ commands: [["SET", "a", "1"]] });
  const b = op({ db: 3, protocol: 3, commands: [["SET", "b", "2"]] });
  const c = op({ db: 3, protocol: 3, commands: [["INCR", "c"]] });
  const planned = plan(batchOf([a, b, c]));
  assert.deepEqual(words(planned.commands), [
    "MULTI",
    "SELECT 0",
    "SET a 1",
    "HELLO 3",
    "SELECT 3",
    "SET b 2",
    "INCR c",
    "SELECT 15",
    ...tail(c.id),
  ]);
  const names = new Map([[a, "a"], [b, "b"], [c, "c"]]);
  assert.deepEqual(owners(planned, names), [
    "setup",
    "a.0",
    "setup",
    "setup",
    "b.0",
    "c.0",
    "setup",
    "setup",
    "setup",
    "setup",
    "setup",
  ]);
  assert.deepEqual(planned.before, { protocol: 2, db: META });
  assert.deepEqual(planned.after, { protocol: 3, db: META });
  // The next batch starts where this one left the connection: no HELLO, no SELECT before d.
  const d = op({ db: META - 1, protocol: 3, commands: [["DEL", "d"]] });
  assert.deepEqual(
    words(plan(batchOf([d]), planned.after).commands).slice(0, 4),
    ["MULTI", "SELECT 14", "DEL d", "SELECT 15"],
  );
});

Deno.test("planBatch ends every batch with these exact bytes", () => {
  const a = op({ db: META, commands: [["SET", "a", "1"]] });
  const planned = plan(batchOf([a]));
  assert.equal(
    planned.commands.slice(2).map(text).join(""),
    "*3\r\n$3\r\nSET\r\n$15\r\npylon:applied:1\r\n$2\r\n10\r\n" +
      "*3\r\n$3\r\nSET\r\n$20\r\npylon:applied-time:1\r\n$1\r\n0\r\n" +
      `*3\r\n$3\r\nSET\r\n$18\r\npylon:applied-op:1\r\n$26\r\n${a.id}\r\n` +
      "*3\r\n$3\r\nSET\r\n$14\r\npylon:identity\r\n$6\r\nmarker\r\n" +
      "*1\r\n$4\r\nEXEC\r\n" +
      "*2\r\n$5\r\nWATCH\r\n$15\r\npylon:applied:1\r\n" +
      "*2\r\n$3\r\nGET\r\n$15\r\npylon:applied:1\r\n",
    "an op in the metadata db's number needs no SELECT before the position",
  );
});

Deno.test("a SELECT inside a client's transaction leaves the db unknown: the next op selects its own", () => {
  const t = op({ commands: [["SELECT", "2"], ["SET", "k", "v"]] });
  const u = op({ commands: [["SET", "x", "y"]] });
  const planned = plan(batchOf([t, u]), { protocol: 2, db: 0 });
  assert.deepEqual(words(planned.commands), [
    "MULTI",
    "SELECT 2",
    "SET k v",
    "SELECT 0",
    "SET x y",
    "SELECT 15",
    ...tail(u.id),
  ]);
  assert.deepEqual(owners(planned, new Map([[t, "t"], [u, "u"]])), [
    "t.0",
    "t.1",
    "setup",
    "u.0",
    "setup",
    "setup",
    "setup",
    "setup",
    "setup",
  ]);
  // Last in its batch, the transaction's SELECT of the metadata db's number is not trusted either.
  const last = op({ commands: [["SELECT", String(META)], ["DEL", "k"]] });
  assert.deepEqual(words(plan(batchOf([last]), { protocol: 2, db: 0 }).commands), [
    "MULTI",
    "SELECT 15",
    "DEL k",
    "SELECT 15",
    ...tail(last.id),
  ]);
});

Deno.test("settleBatch answers a client transaction with one array and a plain op with its reply", () => {
  const t = op({ commands: [["SELECT", "2"], ["INCR", "k"]] });
  const u = op({ protocol: 3, commands: [["INCR", "x"]] });
  const planned = plan(batchOf([t, u]));
  const replies = new Map<string, string>([["t0", "+OK"], ["t1", ":7"], ["u0", ":1"]]);
  const names = new Map([[t, "t"], [u, "u"]]);
  const frames = answers(planned, (o, i) => replies.get(`${names.get(o)}${i}`)!);
  assert.deepEqual(shown(settleBatch(planned, frames), names), {
    kind: "applied",
    replies: [["t", "*2\r\n+OK\r\n:7\r\n"], ["u", ":1\r\n"]],
    fence: { kind: "held" },
  });
});

Deno.test("skippedOps: an overtaken watch answers nil in its op's protocol, a stale message :0", () => {
  const old = { acceptedAtMs: 1_000 };
  const w2 = op({ commands: [["SET", "k", "1"], ["SET", "j", "1"]] });
  const w3 = op({ protocol: 3, commands: [["SET", "k", "1"], ["SET", "j", "1"]] });
  const published = op({ ...old, commands: [["PUBLISH", "ch", "m"]] });
  const sharded = op({ ...old, commands: [["spublish", "ch", "m"]] });
  const inTransaction = op({ ...old, commands: [["PUBLISH", "ch", "m"], ["PUBLISH", "c", "n"]] });
  const fresh = op({ acceptedAtMs: 90_000, commands: [["PUBLISH", "ch", "m"]] });
  const oldWrite = op({ ...old, commands: [["SET", "k", "1"]] });
  const ops = [w2, undefined, w3, published, sharded, inTransaction, fresh, oldWrite];
  const skipped = skippedOps(ops, {
    overtaken: new Set([w2, w3]),
    // Each op's log time: the accept times here, as log_time.ts gives them when they rise.
    times: ops.map((o) => o?.acceptedAtMs ?? 0),
    headTimeMs: 100_000,
    publishMaxAgeMs: 30_000,
  });
  const names = new Map<Op, string>([
    [w2, "w2"],
    [w3, "w3"],
    [published, "published"],
    [sharded, "sharded"],
  ]);
  assert.deepEqual([...skipped].map(([o, reply]) => [names.get(o), text(reply)]), [
    ["w2", "*-1\r\n"],
    ["w3", "_\r\n"],
    ["published", ":0\r\n"],
    ["sharded", ":0\r\n"],
  ]);
});

Deno.test("skipped ops run nothing, are answered first, and the position moves past them", () => {
  const a = op({ commands: [["INCR", "a"]] });
  const w = op({ commands: [["SET", "k", "1"], ["SET", "j", "1"]] });
  const m = op({ commands: [["PUBLISH", "ch", "m"]] });
  const skipped = new Map([[w, bytes("*-1\r\n")], [m, bytes(":0\r\n")]]);
  const planned = plan(batchOf([a, w, m], skipped), { protocol: 2, db: 0 });
  assert.deepEqual(words(planned.commands), ["MULTI", "INCR a", "SELECT 15", ...tail(m.id)]);
  const names = new Map([[a, "a"], [w, "w"], [m, "m"]]);
  assert.deepEqual(shown(settleBatch(planned, answers(planned, () => ":5")), names), {
    kind: "applied",
    replies: [["w", "*-1\r\n"], ["m", ":0\r\n"], ["a", ":5\r\n"]],
    fence: { kind: "held" },
  });
});

Deno.test("a record that is not an op runs nothing and answers no one; last, it stores an empty last op", () => {
  const a = op({ commands: [["INCR", "a"]] });
  const first = plan(batchOf([undefined, a]), { protocol: 2, db: 0 });
  assert.deepEqual(words(first.commands), ["MULTI", "INCR a", "SELECT 15", ...tail(a.id)]);
  const settled = settleBatch(first, answers(first, () => ":1"));
  assert.deepEqual(shown(settled, new Map([[a, "a"]])), {
    kind: "applied",
    replies: [["a", ":1\r\n"]],
    fence: { kind: "held" },
  });
  const last = plan(batchOf([a, undefined]));
  assert.equal(
    text(last.commands[last.commands.length - 5]!),
    "*3\r\n$3\r\nSET\r\n$18\r\npylon:applied-op:1\r\n$0\r\n\r\n",
  );
  const alone = plan(batchOf([undefined]));
  assert.deepEqual(words(alone.commands), ["MULTI", ...tail("")]);
  const none = settleBatch(alone, answers(alone, () => "unused"));
  assert.deepEqual(none, { kind: "applied", replies: [], fence: { kind: "held" } });
});

/** A registry as the node makes it, and the words of its fixed commands. */
function scriptsSetup() {
  const scriptOps = new ScriptOps({ password: "secret" }, "local:log");
  const [setUser, asScripts, back] = words([
    scriptOps.setUser,
    scriptOps.authAsScripts,
    scriptOps.authBack,
  ]);
  assert.equal(back, "AUTH default secret");
  assert.match(asScripts!, /^AUTH pylon-script-ops [0-9a-f]{64}$/);
  return { registry: new ScriptRegistry(scriptOps, META), setUser, asScripts, back };
}

const BODY = "return redis.call('INCR', KEYS[1])";
const SHA = scriptSha(bytes(BODY));
const RESEED = "EVAL math.randomseed(tonumber(ARGV[1])) 0";
/** BODY behind the determinism prologue, as the applier runs it (by its sha, loaded first). */
const WRAPPED = text(scriptBody(bytes(BODY)));
const WRAPPED_SHA = scriptSha(scriptBody(bytes(BODY)));
/** How BODY of op `o` runs at log time 0, by its wrapped sha, with the op's seed and budget. */
const wrappedRun = (o: Op) =>
  `EVALSHA ${WRAPPED_SHA} 1 k 0 ${opSeed(o.id, 0)} ${o.scriptBudgetSteps ?? DEFAULT_BUDGET_STEPS}`;

Deno.test("a script runs as the restricted user, reseeded, and its body is kept in the metadata db after the op", () => {
  const { registry, setUser, asScripts, back } = scriptsSetup();
  const e = op({ commands: [["EVAL", BODY, "1", "k"]] });
  const batch = batchOf([e]);
  const steps = planScriptSteps(batch, {
    scripts: registry,
    metaDb: META,
    connection: { protocol: 2, db: 0 },
  })!;
  assert.deepEqual(words(steps.plan.commands), [setUser, `SCRIPT LOAD ${BODY}`]);
  assert.deepEqual(steps.after, { protocol: 2, db: 0 });
  assert.equal(
    registry.prepared(steps.plan, [bytes("+OK\r\n"), bytes(`$40\r\n${SHA}\r\n`)]),
    undefined,
  );
  const planned = plan(batch, steps.after, registry);
  assert.deepEqual(words(planned.commands), [
    "MULTI",
    `${RESEED} ${randomSeed(e.id, 0)}`,
    asScripts,
    `SCRIPT LOAD ${WRAPPED}`,
    wrappedRun(e),
    back,
    "SELECT 15",
    `HSET pylon:scripts ${SHA} ${BODY}`,
    ...tail(e.id),
  ]);
  assert.deepEqual(owners(planned, new Map([[e, "e"]])).slice(0, 5), [
    "setup",
    "setup",
    "setup",
    "e.0",
    "setup",
  ]);
  registry.applied(); // as the applier does when EXEC ran

  // Known now: EVALSHA is applied as EVAL of the kept body, which is not kept again.
  const s = op({ commands: [["EVALSHA", SHA.toUpperCase(), "1", "k"]] });
  const again = batchOf([s]);
  const next = planScriptSteps(again, {
    scripts: registry,
    metaDb: META,
    connection: { protocol: 2, db: META },
  })!;
  assert.deepEqual(words(next.plan.commands), [setUser]);
  registry.prepared(next.plan, [bytes("+OK\r\n")]);
  assert.deepEqual(words(plan(again, next.after, registry).commands), [
    "MULTI",
    "SELECT 0",
    `${RESEED} ${randomSeed(s.id, 0)}`,
    asScripts,
    `SCRIPT LOAD ${WRAPPED}`,
    wrappedRun(s),
    back,
    "SELECT 15",
    ...tail(s.id),
  ]);
});

Deno.test("EVALSHA of a body not known in memory reads it from the metadata db before MULTI", () => {
  const { registry, setUser, asScripts, back } = scriptsSetup();
  const s = op({ db: 2, commands: [["EVALSHA", SHA, "1", "k"]] });
  const batch = batchOf([s]);
  const steps = planScriptSteps(batch, {
    scripts: registry,
    metaDb: META,
    connection: { protocol: 3, db: 2 },
  })!;
  assert.deepEqual(words(steps.plan.commands), [
    setUser,
    "SELECT 15",
    `HMGET pylon:scripts ${SHA}`,
  ]);
  assert.deepEqual(steps.after, { protocol: 3, db: META }, "the SELECT ran: the connection moved");
  registry.prepared(steps.plan, [
    bytes("+OK\r\n"),
    bytes("+OK\r\n"),
    bytes(`*1\r\n$${BODY.length}\r\n${BODY}\r\n`),
  ]);
  assert.deepEqual(words(plan(batch, steps.after, registry).commands), [
    "MULTI",
    "HELLO 2",
    "SELECT 2",
    `${RESEED} ${randomSeed(s.id, 0)}`,
    asScripts,
    `SCRIPT LOAD ${WRAPPED}`,
    wrappedRun(s),
    back,
    "SELECT 15",
    ...tail(s.id),
  ]);
});

Deno.test("FLUSHALL forgets the kept scripts: the next EVALSHA reads its body again", () => {
  const { registry, setUser } = scriptsSetup();
  const e = op({ commands: [["EVAL", BODY, "1", "k"]] });
  const first = batchOf([e]);
  const steps = planScriptSteps(first, {
    scripts: registry,
    metaDb: META,
    connection: { protocol: 2, db: 0 },
  })!;
  registry.prepared(steps.plan, [bytes("+OK\r\n"), bytes(`$40\r\n${SHA}\r\n`)]);
  plan(first, steps.after, registry);
  registry.applied();
  const s = op({ commands: [["EVALSHA", SHA, "1", "k"]] });
  const known = planScriptSteps(batchOf([s]), {
    scripts: registry,
    metaDb: META,
    connection: { protocol: 2, db: META },
  })!;
  assert.deepEqual(words(known.plan.commands), [setUser], "kept: nothing to read");

  const f = op({ commands: [["FLUSHALL"]] });
  const flush = batchOf([f]);
  assert.equal(
    planScriptSteps(flush, { scripts: registry, metaDb: META, connection: known.after }),
    undefined,
    "FLUSHALL runs no script",
  );
  assert.deepEqual(words(plan(flush, known.after, registry).commands), [
    "MULTI",
    "SELECT 0",
    "FLUSHALL",
    "SELECT 15",
    ...tail(f.id),
  ]);
  registry.applied();
  const after = planScriptSteps(batchOf([s]), {
    scripts: registry,
    metaDb: META,
    connection: { protocol: 2, db: META },
  })!;
  assert.deepEqual(words(after.plan.commands), [
    setUser,
    "SELECT 15",
    `HMGET pylon:scripts ${SHA}`,
  ]);
});

const OOM = "-OOM command not allowed when used memory > 'maxmemory'.";
const EXECABORT = "-EXECABORT Transaction discarded because of previous errors.\r\n";
const ARITY = "-ERR wrong number of arguments for 'set' command";
/** A refusal at queue time that is the op's own (Redis's text for a command MULTI does not take). */
const NOT_IN_MULTI = "-ERR Command not allowed inside a transaction";

Deno.test("settleBatch: out of memory is a rack condition, whatever else EXEC says", () => {
  const a = op({ commands: [["SET", "a", "1"]] });
  const b = op({ commands: [["SET", "b", "1"]] });
  const planned = plan(batchOf([a, b]), { protocol: 2, db: 0 });
  const frames = answers(planned, () => "+OK", {
    exec: EXECABORT,
    queued: (i) => i === 1 ? OOM : "+QUEUED",
  });
  assert.deepEqual(settleBatch(planned, frames), {
    kind: "rackCondition",
    condition: OOM.slice(1),
  });
  const readOnly = "-READONLY You can't write against a read only replica.";
  assert.deepEqual(
    settleBatch(planned, answers(planned, () => "+OK", { exec: `${readOnly}\r\n` })),
    { kind: "rackCondition", condition: readOnly.slice(1) },
    "a condition EXEC alone reports",
  );
});

Deno.test("settleBatch: what Pylon checked before logging (existence, arity) refused when queued is the rack's", () => {
  const a = op({ commands: [["SET", "a", "1"]] });
  const b = op({ commands: [["SET", "b", "1", "NX"]] });
  for (const refusal of [ARITY, "-ERR unknown command 'set', with args beginning with: "]) {
    const planned = plan(batchOf([b]), { protocol: 2, db: 0 });
    const frames = answers(planned, () => "+OK", {
      exec: EXECABORT,
      queued: (i) => i === 1 ? refusal : "+QUEUED",
    });
    assert.deepEqual(settleBatch(planned, frames), {
      kind: "rackCondition",
      condition: refusal.slice(1),
    });
  }
  // EXEC refused as a whole at that moment: its cause decides, not the EXECABORT around it.
  const planned = plan(batchOf([a, b]), { protocol: 2, db: 0 });
  const whole = `-EXECABORT Transaction discarded because of: ${OOM.slice(1)}`;
  assert.deepEqual(settleBatch(planned, answers(planned, () => "+OK", { exec: `${whole}\r\n` })), {
    kind: "rackCondition",
    condition: whole.slice(1),
  });
});

Deno.test("settleBatch: a rack condition inside EXEC's replies: the last lone op goes back, anything else halts", () => {
  const killed = "-ERR Script killed by user with SCRIPT KILL... script: " +
    "653db1ceb7ef061910af88dc7ebf80737358169d, on @user_script:1.";
  const a = op({ commands: [["SET", "a", "1"]] });
  const script = op({ commands: [["EVAL", "while true do end", "0"]] });
  const b = op({ commands: [["SET", "b", "1"]] });
  const rackError = (ops: Op[], failing: Op, reply: string, setup = "+OK") => {
    const planned = plan(batchOf(ops), { protocol: 2, db: 0 });
    const items = planned.slots.map((slot) =>
      slot.kind === "setup" ? `${setup}\r\n` : slot.op === failing ? `${reply}\r\n` : "+OK\r\n"
    );
    const frames = answers(planned, () => "+OK", { exec: `*${items.length}\r\n${items.join("")}` });
    const settled = settleBatch(planned, frames);
    assert.equal(settled.kind, "applied");
    return settled.kind === "applied" ? settled.rackError : undefined;
  };
  assert.deepEqual(rackError([a, script], script, killed), {
    condition: killed.slice(1),
    where: `op ${script.id} (EVAL)`,
    rewindTo: 1,
  });
  assert.equal(rackError([script, b], script, killed)?.rewindTo, undefined, "an op ran after it");
  // A script's own error that looks like a rack's is its outcome; so is a db past the contract's.
  assert.equal(rackError([a, script], script, "-OOM my own words"), undefined);
  const move = op({ commands: [["MOVE", "a", "40"]] });
  assert.equal(rackError([move], move, "-ERR DB index is out of range"), undefined);
  assert.equal(rackError([a, move], move, "-WRONGTYPE Operation against a key"), undefined);
  // Pylon's own setup refused (here every SELECT and HELLO): what follows ran in the wrong place.
  const other = op({ db: 3, commands: [["SET", "c", "1"]] });
  const setup = rackError([a, other], a, "+OK", "-ERR DB index is out of range");
  assert.equal(setup?.rewindTo, undefined);
  assert.match(setup?.where ?? "", /^Pylon's /);
  // An expiry step is a script over the op's own arguments: its error is the op's, on every rack.
  const planned = planBatch(batchOf([move]), {
    partition: 1,
    metaDb: META,
    markerCommand: MARKER,
    scripts: undefined,
    connection: { protocol: 2, db: 0 },
  });
  const stepError =
    "-ERR DB index is out of range script: ce5f4ba8b3585a1edb6d0762ed49a7ce24190ac5" +
    ", on @user_script:5.";
  const items = planned.slots.map((slot, i) =>
    slot.kind === "op"
      ? "-ERR DB index is out of range\r\n"
      : /EVAL/.test(words([planned.commands[1 + i]!])[0]!)
      ? `${stepError}\r\n`
      : "+OK\r\n"
  );
  assert.ok(items.some((item) => item.startsWith(stepError)), "the plan has an expiry step");
  const settled = settleBatch(
    planned,
    answers(planned, () => "+OK", { exec: `*${items.length}\r\n${items.join("")}` }),
  );
  assert.equal(settled.kind === "applied" ? settled.rackError : "not applied", undefined);
});

Deno.test("settleBatch: a command refused when queued sends several ops one by one", () => {
  const a = op({ commands: [["SET", "a", "1"]] });
  const b = op({ commands: [["SET", "b"]] });
  const planned = plan(batchOf([a, b]), { protocol: 2, db: 0 });
  const frames = answers(planned, () => "+OK", {
    exec: EXECABORT,
    queued: (i) => i === 1 ? NOT_IN_MULTI : "+QUEUED",
  });
  assert.deepEqual(settleBatch(planned, frames), {
    kind: "oneByOne",
    refusal: NOT_IN_MULTI.slice(1),
  });
});

Deno.test("settleBatch: a lone op refused when queued gets Redis's refusal as its reply", () => {
  const names = new Map<Op, string>();
  const refusedAlone = (o: Op | undefined) => {
    const planned = plan(batchOf([o]), { protocol: 2, db: 0 });
    return shown(
      settleBatch(
        planned,
        answers(planned, () => "+OK", {
          exec: EXECABORT,
          queued: (i) => planned.slots[i]!.kind === "op" && i === 0 ? NOT_IN_MULTI : "+QUEUED",
        }),
      ),
      names,
    );
  };
  const plain = op({ commands: [["SET", "b"]] });
  names.set(plain, "plain");
  assert.deepEqual(refusedAlone(plain), {
    kind: "refused",
    refusal: NOT_IN_MULTI.slice(1),
    replies: [["plain", `${NOT_IN_MULTI}\r\n`]],
  });
  const transaction = op({ commands: [["SET", "b"], ["INCR", "c"]] });
  names.set(transaction, "transaction");
  assert.deepEqual(refusedAlone(transaction), {
    kind: "refused",
    refusal: NOT_IN_MULTI.slice(1),
    replies: [["transaction", EXECABORT]],
  });
  const planned = plan(batchOf([undefined]));
  const frames = answers(planned, () => "+OK", { exec: "-ERR odd\r\n" });
  assert.deepEqual(settleBatch(planned, frames), {
    kind: "refused",
    refusal: "ERR odd",
    replies: [],
  });
});

Deno.test("settleBatch: EXEC with another count of replies than commands queued breaks the applier", () => {
  const a = op({ commands: [["SET", "a", "1"]] });
  const planned = plan(batchOf([a]), { protocol: 2, db: 0 });
  const frames = answers(planned, () => "+OK", { exec: "*2\r\n+OK\r\n+OK\r\n" });
  assert.deepEqual(settleBatch(planned, frames), {
    kind: "broken",
    message: "EXEC returned 2 replies for 6 queued commands",
  });
  assert.deepEqual(settleBatch(planned, frames.slice(0, -1)), {
    kind: "broken",
    message: "Redis returned 9 replies for 10 commands",
  });
});

Deno.test("settleBatch: the WATCH fired (nil EXEC) or the position moved after EXEC", () => {
  const a = op({ commands: [["INCR", "a"]] });
  const planned = plan(batchOf([a]), { protocol: 2, db: 0 });
  const names = new Map([[a, "a"]]);
  const settle = (overrides: Parameters<typeof answers>[2]) =>
    shown(settleBatch(planned, answers(planned, () => ":1", overrides)), names);
  assert.deepEqual(settle({ exec: "*-1\r\n", stored: "$2\r\n42\r\n" }), {
    kind: "fenced",
    fence: { kind: "moved", stored: 42 },
  });
  assert.deepEqual(settle({ exec: "_\r\n", stored: "$2\r\n10\r\n" }), {
    kind: "fenced",
    fence: { kind: "moved", stored: 10 },
  }, "RESP3's nil; fenced even when the other applier stored the same position");
  assert.deepEqual(settle({ exec: "*-1\r\n", stored: "$-1\r\n" }), {
    kind: "fenced",
    fence: { kind: "vanished" },
  });
  assert.deepEqual(settle({ stored: "$2\r\n12\r\n" }), {
    kind: "applied",
    replies: [["a", ":1\r\n"]],
    fence: { kind: "moved", stored: 12 },
  }, "applied, then another applier wrote before the WATCH");
  assert.deepEqual(settle({ stored: "_\r\n" }), {
    kind: "applied",
    replies: [["a", ":1\r\n"]],
    fence: { kind: "vanished" },
  });
});

Deno.test("a transaction EXEC did not run leaves the connection as it was: the next RESP3 op says HELLO 3 again", () => {
  const a = op({ protocol: 3, commands: [["SET", "a", "1"]] });
  const planned = plan(batchOf([a]));
  assert.deepEqual(planned.after, { protocol: 3, db: META });
  const ran = settleBatch(planned, answers(planned, () => "+OK"));
  assert.deepEqual(connectionAfter(planned, ran), { protocol: 3, db: META });
  const fenced = settleBatch(planned, answers(planned, () => "+OK", { exec: "*-1\r\n" }));
  assert.deepEqual(connectionAfter(planned, fenced), { protocol: 2, db: META });
  const refused = settleBatch(
    planned,
    answers(planned, () => "+OK", {
      exec: EXECABORT,
      queued: (i) => i === 1 ? NOT_IN_MULTI : "+QUEUED",
    }),
  );
  assert.equal(refused.kind, "refused");
  assert.deepEqual(connectionAfter(planned, refused), { protocol: 2, db: META });
  const b = op({ protocol: 3, commands: [["HSET", "h", "f", "v"]] });
  assert.deepEqual(
    words(plan(batchOf([b]), connectionAfter(planned, fenced)).commands).slice(0, 4),
    ["MULTI", "HELLO 3", "SELECT 0", "HSET h f v"],
  );
});

Deno.test("expiry in log order: each op's keys are checked at its log time before it runs, and an expiry already reached goes after it", () => {
  const a = op({ commands: [["INCR", "a"]] });
  const b = op({ commands: [["PEXPIREAT", "b", "150"]] });
  const c = op({ commands: [["PUBLISH", "ch", "m"]] });
  const batch: Batch = {
    ops: [a, b, c],
    skipped: new Map(),
    next: 10,
    times: [100, 200, 200],
    timeAfter: 200,
  };
  const planned = planBatch(batch, {
    partition: 1,
    metaDb: META,
    markerCommand: MARKER,
    scripts: undefined,
    connection: { protocol: 2, db: 0 },
  });
  const shown = words(planned.commands).map((w) =>
    w.replace(/^EVAL local shift[^]*return deleted 0/, "EVAL <due>")
  );
  assert.deepEqual(shown, [
    "MULTI",
    "EVAL <due> 100 0 a",
    "INCR a",
    "EVAL <due> 200 0 b",
    "PEXPIREAT b 10000000000150",
    "EVAL <due> 200 0 b",
    "PUBLISH ch m",
    "SELECT 15",
    "SET pylon:applied:1 10",
    "SET pylon:applied-time:1 200",
    ...tail(c.id).slice(2),
  ]);
});

Deno.test("XADD * and SPOP run through the determinism wrapper by sha, loaded once per batch, with the op's log time and seed", () => {
  const a = op({ commands: [["XADD", "s", "*", "f", "v"]] });
  const b = op({ commands: [["SPOP", "set"]] });
  const batch: Batch = {
    ops: [a, b],
    skipped: new Map(),
    next: 10,
    times: [1000, 1005],
    timeAfter: 1005,
  };
  const planned = plan(batch, { protocol: 2, db: 0 });
  const shown = words(planned.commands);
  const loads = shown.filter((w) => w.startsWith("SCRIPT LOAD "));
  assert.equal(loads.length, 1, "one wrapper body for both, loaded once");
  const sha = scriptSha(bytes(loads[0]!.slice("SCRIPT LOAD ".length)));
  assert.deepEqual(shown.slice(1, 4), [
    loads[0],
    `EVALSHA ${sha} 0 XADD s * f v 1000 ${opSeed(a.id, 0)} ${Number.MAX_SAFE_INTEGER}`,
    `EVALSHA ${sha} 0 SPOP set 1005 ${opSeed(b.id, 0)} ${Number.MAX_SAFE_INTEGER}`,
  ]);
  // Without the wrapper (a Redis without Lua), they go as they are.
  const bare = planBatch(batch, {
    partition: 1,
    metaDb: META,
    markerCommand: MARKER,
    scripts: undefined,
    connection: { protocol: 2, db: 0 },
    expirySteps: false,
    wrapCommands: false,
  });
  assert.deepEqual(words(bare.commands).slice(1, 3), ["XADD s * f v", "SPOP set"]);
});

Deno.test("a script and a function run with the budget their op carries", () => {
  const { registry } = scriptsSetup();
  const e = op({
    commands: [["EVAL", BODY, "1", "k"], ["FCALL", "f", "0"]],
    scriptBudgetSteps: 777,
  });
  const batch = batchOf([e]);
  const steps = planScriptSteps(batch, {
    scripts: registry,
    metaDb: META,
    connection: { protocol: 2, db: 0 },
  })!;
  registry.prepared(steps.plan, [bytes("+OK\r\n"), bytes(`$40\r\n${SHA}\r\n`)]);
  const shown = words(plan(batch, steps.after, registry).commands);
  assert.ok(shown.includes(wrappedRun(e)));
  assert.ok(wrappedRun(e).endsWith(" 777"));
  assert.ok(shown.includes(`FCALL f 0 0 ${opSeed(e.id, 1)} 777`));
});

Deno.test("endsBatch: a lone script or function call ends its batch; transactions and other ops do not", () => {
  assert.equal(endsBatch(op({ commands: [["EVAL", "return 1", "0"]] })), true);
  assert.equal(endsBatch(op({ commands: [["evalsha", "abc", "0"]] })), true);
  assert.equal(endsBatch(op({ commands: [["FCALL", "f", "0"]] })), true);
  assert.equal(endsBatch(op({ commands: [["SET", "k", "v"]] })), false);
  assert.equal(endsBatch(op({ commands: [] })), false, "a tick");
  // Inside a client transaction a killed script cannot be undone by going back anyway.
  assert.equal(
    endsBatch(op({ commands: [["EVAL", "return 1", "0"]], transaction: true })),
    false,
  );
});

Deno.test("a pop's try from this rack runs as its claim script; a rebuild's replay below fromOffset runs as it is", () => {
  const replayed = op({ commands: [["BRPOP", "q", "0"]] });
  const fresh = op({ commands: [["BRPOP", "q", "0"]] });
  const west = op({ commands: [["BRPOP", "q", "0"]], rack: "west" });
  const planned = planBatch(batchOf([replayed, fresh, west]), {
    partition: 1,
    metaDb: META,
    markerCommand: MARKER,
    scripts: undefined,
    connection: { protocol: 2, db: 0 },
    expirySteps: false,
    claims: { rack: "east", fromOffset: 8 },
  });
  const words = planned.commands.map((c) =>
    text(c).split("\r\n").filter((_, i) => i % 2 === 0 && i > 0).join(" ")
  );
  // Offsets 7, 8, 9: the first is below fromOffset, the third another rack's.
  assert.equal(words.filter((w) => w === "BRPOP q 0").length, 2);
  const claimed = words.filter((w) => w.startsWith("EVALSHA"));
  assert.equal(claimed.length, 1);
  assert.match(claimed[0]!, new RegExp(`15 pylon:claims:n1 ${fresh.id} 0 RPUSH LMPOP 1 q RIGHT$`));
});
