/**
 * The applier and write-path simulation: a world of racks and nodes in one
 * process, on the twins (MemoryOpLog, FakeRedis, a manual clock), driven by
 * one seed. Clients write through each node's real WritePath; each rack's
 * leader runs the real Applier; faults come from the seed: Redis restarted
 * with, without or with an older copy of its data, down for a while, out of
 * memory, connections cut before or after a group was processed, appends
 * refused or written with their answer lost, leadership moved (with the
 * deposed leader still applying for a while), peer links cut.
 *
 * After every step it checks, from the log and each rack's Redis contents
 * (never from what Pylon reports):
 * - each rack's data is exactly the log applied in order up to the position
 *   stored with it (so no op applied twice or out of order, none skipped);
 * - every reply a client got that is not an error is the reply the op gives
 *   at its place in the log; an error that says "not logged" is only given
 *   for an op that is not in the log;
 * and at the end, once faults stop: every rack reaches the log's end, holds
 * the same data, and every write got exactly one reply.
 */

import { Applier, type MasterSource } from "../applier.ts";
import { lastOpKey, positionKey, replyKey } from "../../meta_keys.ts";
import { PendingWrites } from "../../write/pending_writes.ts";
import { HandBack } from "../hand_back.ts";
import { RackApplier } from "../rack_applier.ts";
import { RackProgress } from "../rack_progress.ts";
import { route } from "../../command/mod.ts";
import { type AppendOutcome, MemoryOpLog } from "../../log/memory_log.ts";
import { decodeOp, type Op } from "../../log/op.ts";
import { LAYOUT_VERSION } from "../../identity/rack_marker.ts";
import { FatalError, onFatal } from "../../observe/fatal.ts";
import { SeededRandom } from "../../random.ts";
import { encodeCommand } from "../../resp/encoder.ts";
import { type WriteCommand, WritePath } from "../../write/write_path.ts";
import { FakeRedis, type FakeValue } from "./fake_redis.ts";
import { ManualClock, settleMicrotasks } from "../../manual_clock.ts";

const META_DB = 15;
const WRITE_TIMEOUT_MS = 3_000;
const KEYS = 6;
/** Virtual time the healed world has to reach the log's end on every rack. */
const CONVERGE_MS = 120_000;

/** What one seed did, and the first broken promise if any. */
export interface ApplierSimReport {
  seed: number;
  shape: string;
  steps: number;
  writes: number;
  acknowledged: number;
  errors: number;
  faults: Record<string, number>;
  violation: string | undefined;
  /** The last steps, when a trace was asked for. */
  trace: string[];
}

interface Node {
  id: string;
  rack: Rack;
  pending: PendingWrites;
  replies: HandBack;
  writes: WritePath;
  applier: RackApplier;
  leading: boolean;
}

interface Rack {
  name: string;
  redis: FakeRedis;
  nodes: Node[];
}

interface ClientWrite {
  tag: string;
  argvs: string[][];
  node: string;
  replies: string[];
}

/** Runs seed `seed`; `traceLines` keeps that many of the last steps for a failure report. */
export async function runApplierSim(
  seed: number,
  options: { traceLines?: number; steps?: number } = {},
): Promise<ApplierSimReport> {
  const random = new SeededRandom(seed);
  const clock = new ManualClock();
  const partitions = random.int(1, 3);
  const rackCount = random.int(1, 3);
  const nodesPerRack = random.int(1, 3);
  let appendFault = 0;
  const log = new MemoryOpLog({
    partitions,
    clock,
    appendOutcome: (): AppendOutcome =>
      random.chance(appendFault)
        ? random.pick<AppendOutcome>(["refused", "answerLost", "lost"])
        : "written",
  });
  const marker = { layout: LAYOUT_VERSION, log: log.id };
  const report: ApplierSimReport = {
    seed,
    shape: `${rackCount} racks × ${nodesPerRack} nodes, ${partitions} partitions`,
    steps: 0,
    writes: 0,
    acknowledged: 0,
    errors: 0,
    faults: {},
    violation: undefined,
    trace: [],
  };
  const trace = (line: string) => {
    if ((options.traceLines ?? 0) === 0) return;
    report.trace.push(`${clock.now().toFixed(0).padStart(7)} ms  ${line}`);
    if (report.trace.length > options.traceLines!) report.trace.shift();
  };
  const fault = (kind: string, detail: string) => {
    report.faults[kind] = (report.faults[kind] ?? 0) + 1;
    trace(`fault ${kind}: ${detail}`);
  };
  const violate = (what: string) => {
    report.violation ??= what;
  };

  const previousFatal = onFatal((reason) => violate(`fatal stop: ${reason}`));
  const swallowFatal = (event: PromiseRejectionEvent) => {
    if (event.reason instanceof FatalError) event.preventDefault();
  };
  globalThis.addEventListener("unhandledrejection", swallowFatal);

  const nodes = new Map<string, Node>();
  const cutLinks = new Set<string>();
  const linkKey = (a: string, b: string) => (a < b ? `${a}|${b}` : `${b}|${a}`);
  const racks: Rack[] = [];
  const downRedis = new Set<Rack>();
  for (let r = 0; r < rackCount; r++) {
    const rack: Rack = {
      name: `rack${r}`,
      redis: new FakeRedis(`rack${r}`, { clock, random }),
      nodes: [],
    };
    racks.push(rack);
    const master: MasterSource = {
      address: () => ({ host: rack.name, port: 6379 }),
      onChange: () => {},
      connect: () =>
        downRedis.has(rack)
          ? Promise.reject(new Error(`${rack.name}: connection refused`))
          : Promise.resolve(rack.redis.connect()),
    };
    for (let n = 0; n < nodesPerRack; n++) {
      const id = `${rack.name}-n${n}`;
      const pending = new PendingWrites();
      const progress = new RackProgress(partitions, () => Promise.resolve(undefined));
      const writes = new WritePath(log, pending, {
        nodeId: id,
        rack: rack.name,
        metaDb: META_DB,
        ackLog: new Set(n % 2 === 1 ? ["set"] : []),
        writeTimeoutMs: WRITE_TIMEOUT_MS,
        writesInFlightMax: 10_000,
        clock,
        storedReply: async (opId) => {
          if (downRedis.has(rack)) return undefined;
          const connection = rack.redis.connect();
          try {
            const [, reply] = await connection.run([
              encodeCommand(["SELECT", String(META_DB)]),
              encodeCommand(["GET", replyKey(opId)]),
            ]);
            return reply === undefined || reply[1] === 45 /* $-1 */ ? undefined : bulkOf(reply);
          } finally {
            connection.close();
          }
        },
      });
      const replies = new HandBack(pending, {
        nodeId: id,
        rack: rack.name,
        toPeer: (origin, opId, reply) => {
          const target = nodes.get(origin);
          if (target === undefined || cutLinks.has(linkKey(id, origin))) return false;
          // A peer link delivers a moment later.
          clock.after(random.int(0, 5), () => target.replies.received(opId, reply));
          return true;
        },
      });
      const batchRecordsMax = random.int(1, 8);
      const applier = new RackApplier(
        () =>
          new Applier(log, {
            master,
            replies,
            metaDb: META_DB,
            marker,
            progress,
            clock,
            batchRecordsMax,
          }),
        {
          enabled: true,
        },
      );
      const node: Node = { id, rack, pending, replies, writes, applier, leading: false };
      rack.nodes.push(node);
      nodes.set(id, node);
    }
    rack.nodes[0]!.leading = true;
    rack.nodes[0]!.applier.lead(true);
  }
  const allNodes = [...nodes.values()];

  // Moves time forward by `ms`, firing due timers in order and letting each one's work settle.
  const advance = async (ms: number) => {
    await clock.advance(ms);
    for (const node of allNodes) node.writes.expire(clock.now());
    await settleMicrotasks();
  };

  const submitted: ClientWrite[] = [];
  let tags = 0;
  const submit = (node: Node) => {
    const k = random.int(0, KEYS - 1);
    const tag = `t${++tags}`;
    const one = (): string[] =>
      random.pick([
        ["RPUSH", `{k${k}}:hist`, tag],
        ["SET", `{k${k}}:str`, tag, "GET"],
        ["SET", `{k${k}}:str`, tag],
      ]);
    const transaction = random.chance(0.15);
    const argvs = transaction ? [one(), one()] : [one()];
    const write: ClientWrite = { tag, argvs, node: node.id, replies: [] };
    submitted.push(write);
    report.writes++;
    const commands: WriteCommand[] = argvs.map((argv) => {
      const bytes = argv.map((a) => new TextEncoder().encode(a));
      const routed = route(bytes);
      if (routed.kind !== "write") throw new Error(`${argv[0]} does not route as a write`);
      return { argv: bytes, command: routed.command, reply: routed.reply };
    });
    trace(`${node.id} submits ${tag}: ${argvs.map((a) => a.join(" ")).join(" ; ")}`);
    void node.writes.submit(
      { commands, transaction, db: 0, protocol: 2 },
      (bytes) => {
        const text = new TextDecoder().decode(bytes);
        write.replies.push(text);
        trace(`${node.id} answers ${tag}: ${JSON.stringify(text)}`);
        if (write.replies.length > 1) violate(`write ${tag} answered twice: ${write.replies}`);
      },
    );
  };

  const decoded: Op[][] = [];
  const checkRacks = () => {
    const model = replayLog(log, decoded);
    for (const rack of racks) {
      const meta = rack.redis.contents(META_DB);
      const positions: number[] = [];
      for (let p = 0; p < partitions; p++) {
        const stored = meta.get(positionKey(p));
        const position = stored === undefined ? 0 : Number(stored);
        if (position > log.records(p).length) {
          violate(`${rack.name} partition ${p} claims position ${position} past the log's end`);
        }
        positions.push(position);
      }
      const expected = model.stateAt(positions);
      const actual = dataKeys(rack.redis.contents(0));
      const diff = firstDifference(expected, actual);
      if (diff !== undefined) {
        violate(`${rack.name} at positions [${positions}] differs from the log: ${diff}`);
      }
    }
    for (const write of submitted) {
      const reply = write.replies[0];
      if (reply === undefined) continue;
      const placed = model.byTag.get(write.tag);
      if (reply.startsWith("-")) {
        if (placed !== undefined && /^-ERR (write not logged|Pylon has \d+ writes)/.test(reply)) {
          violate(`write ${write.tag} was answered ${JSON.stringify(reply)} but it is in the log`);
        }
        continue;
      }
      if (placed === undefined) {
        violate(`write ${write.tag} was answered ${JSON.stringify(reply)} but is not in the log`);
      } else if (placed.reply !== reply) {
        violate(
          `write ${write.tag} was answered ${JSON.stringify(reply)}; applied at its place in the ` +
            `log it gives ${JSON.stringify(placed.reply)}`,
        );
      }
    }
  };

  try {
    const steps = options.steps ?? random.int(100, 300);
    for (let step = 0; step < steps && report.violation === undefined; step++) {
      report.steps++;
      const roll = random.next();
      const rack = random.pick(racks);
      if (roll < 0.55) {
        const burst = random.int(1, 4);
        for (let i = 0; i < burst; i++) submit(random.pick(allNodes));
      } else if (roll < 0.60) {
        const data = random.pick(["keep", "empty", "lastSave"] as const);
        fault(`redis-restart-${data}`, rack.name);
        rack.redis.restart(data);
      } else if (roll < 0.65) {
        rack.redis.save();
      } else if (roll < 0.68) {
        if (downRedis.has(rack)) downRedis.delete(rack);
        else {
          fault("redis-down", rack.name);
          downRedis.add(rack);
          rack.redis.cutConnections();
        }
      } else if (roll < 0.71) {
        rack.redis.oom = !rack.redis.oom;
        if (rack.redis.oom) fault("redis-oom", rack.name);
      } else if (roll < 0.75) {
        fault("connections-cut", rack.name);
        rack.redis.cutConnections();
      } else if (roll < 0.78) {
        const on = rack.redis.faults.cutAfter === 0;
        rack.redis.faults = on
          ? { cutBefore: 0.05, cutAfter: 0.05 }
          : { cutBefore: 0, cutAfter: 0 };
        if (on) fault("replies-lost", rack.name);
      } else if (roll < 0.81) {
        appendFault = appendFault === 0 ? 0.1 : 0;
        if (appendFault > 0) fault("log-appends-fail", "10% of appends");
      } else if (roll < 0.86 && rack.nodes.length > 1) {
        const old = rack.nodes.find((n) => n.leading)!;
        const next = random.pick(rack.nodes.filter((n) => n !== old));
        const overlapMs = random.chance(0.5) ? random.int(1, 200) : 0;
        fault("leader-moved", `${old.id} → ${next.id}, old one applying ${overlapMs} ms more`);
        next.leading = true;
        old.leading = false;
        next.applier.lead(true);
        if (overlapMs === 0) old.applier.lead(false);
        else {clock.after(overlapMs, () => {
            if (!old.leading) old.applier.lead(false);
          });}
      } else if (roll < 0.90 && rack.nodes.length > 1) {
        const [a, b] = [random.pick(rack.nodes), random.pick(rack.nodes)];
        if (a !== b) {
          const key = linkKey(a.id, b.id);
          if (cutLinks.has(key)) cutLinks.delete(key);
          else {
            fault("peer-link-cut", key);
            cutLinks.add(key);
          }
        }
      }
      await advance(random.int(0, 40));
      checkRacks();
    }

    if (report.violation === undefined) {
      trace("heal: faults stop");
      appendFault = 0;
      cutLinks.clear();
      downRedis.clear();
      for (const rack of racks) {
        rack.redis.oom = false;
        rack.redis.faults = { cutBefore: 0, cutAfter: 0 };
      }
      const healedAt = clock.now();
      const behind = () =>
        racks.some((rack) => {
          const meta = rack.redis.contents(META_DB);
          return Array.from({ length: partitions }, (_, p) => p).some((p) =>
            Number(meta.get(positionKey(p)) ?? 0) < log.records(p).length
          );
        });
      while (behind() && clock.now() - healedAt < CONVERGE_MS && report.violation === undefined) {
        await advance(100);
      }
      if (behind()) {
        violate(`racks did not reach the log's end within ${CONVERGE_MS} ms of healing`);
      }
      // Writes still waiting get their reply or, at their deadline, a stored reply or an error;
      // fetching a stored reply takes a round trip to Redis too.
      const answeredBy = clock.now() + WRITE_TIMEOUT_MS + 10_000;
      while (submitted.some((w) => w.replies.length === 0) && clock.now() < answeredBy) {
        await advance(100);
      }
      checkRacks();
      for (const write of submitted) {
        if (write.replies.length !== 1) {
          violate(`write ${write.tag} got ${write.replies.length} replies`);
        }
        if (write.replies[0]?.startsWith("-")) report.errors++;
        else report.acknowledged++;
      }
      const first = racks[0]!;
      for (const rack of racks.slice(1)) {
        const diff = firstDifference(
          dataKeys(first.redis.contents(0)),
          dataKeys(rack.redis.contents(0)),
        );
        if (diff !== undefined) violate(`${rack.name} and ${first.name} differ: ${diff}`);
      }
      for (const rack of racks) {
        for (let p = 0; p < partitions; p++) {
          const records = log.records(p);
          const last = records.length === 0 ? "" : decodeOp(records[records.length - 1]!).id;
          const stored = rack.redis.contents(META_DB).get(lastOpKey(p)) ?? "";
          if (records.length > 0 && stored !== last) {
            violate(`${rack.name} partition ${p} says its last op is ${stored}, the log ${last}`);
          }
        }
      }
    }
  } finally {
    for (const node of allNodes) node.leading = false;
    const stopping = allNodes.map((node) => node.applier.stop().catch(() => {}));
    // Stopping waits for each applier's batch in flight, which waits on the clock.
    let done = false;
    void Promise.all(stopping).then(() => done = true);
    for (let i = 0; i < 1_000 && !done; i++) await advance(100);
    await log.close();
    globalThis.removeEventListener("unhandledrejection", swallowFatal);
    onFatal(previousFatal);
  }
  return report;
}

/** How to replay a failing seed, and what broke. */
export function describeFailure(report: ApplierSimReport): string[] {
  return [
    `seed ${report.seed} (${report.shape}) broke a promise at step ${report.steps}:`,
    `  ${report.violation}`,
    ...report.trace.map((line) => `  | ${line}`),
    `replay with PYLON_SEED=${report.seed} deno task sim:applier`,
  ];
}

function bulkOf(frame: Uint8Array): Uint8Array {
  const text = new TextDecoder().decode(frame);
  const at = text.indexOf("\r\n");
  return new TextEncoder().encode(text.slice(at + 2, text.length - 2));
}

/** The log applied in order: the state after any prefix, and each op's reply at its place. */
interface Model {
  stateAt(positions: number[]): Map<string, FakeValue>;
  byTag: Map<string, { reply: string }>;
}

function replayLog(log: MemoryOpLog, decoded: Op[][]): Model {
  const byTag = new Map<string, { reply: string }>();
  // Records decoded once: the log only grows.
  const ops = decoded;
  for (let p = 0; p < log.partitions; p++) {
    const records = log.records(p);
    const known = (ops[p] ??= []);
    for (let i = known.length; i < records.length; i++) known.push(decodeOp(records[i]!));
  }
  const apply = (state: Map<string, FakeValue>, argv: string[]): string => {
    const [name, key, value] = [argv[0]!.toUpperCase(), argv[1]!, argv[2]!];
    if (name === "RPUSH") {
      const list = [...((state.get(key) as string[] | undefined) ?? []), value];
      state.set(key, list);
      return `:${list.length}\r\n`;
    }
    const old = state.get(key) as string | undefined;
    state.set(key, value);
    if (argv[3]?.toUpperCase() !== "GET") return "+OK\r\n";
    return old === undefined ? "$-1\r\n" : `$${old.length}\r\n${old}\r\n`;
  };
  const text = (argv: Uint8Array[]) => argv.map((a) => new TextDecoder().decode(a));
  // Replies, from the whole log.
  const full = new Map<string, FakeValue>();
  for (const partitionOps of ops) {
    for (const op of partitionOps) {
      const replies = op.commands.map((argv) => apply(full, text(argv)));
      const tagged = op.commands[0]!;
      const tag = new TextDecoder().decode(tagged[2]!);
      byTag.set(tag, {
        reply: op.transaction ? `*${replies.length}\r\n${replies.join("")}` : replies[0]!,
      });
    }
  }
  return {
    byTag,
    stateAt(positions) {
      const state = new Map<string, FakeValue>();
      ops.forEach((partitionOps, p) => {
        for (const op of partitionOps.slice(0, positions[p])) {
          for (const argv of op.commands) apply(state, text(argv));
        }
      });
      return state;
    },
  };
}

function dataKeys(db: ReadonlyMap<string, FakeValue>): Map<string, FakeValue> {
  return new Map([...db].filter(([key]) => key.startsWith("{")));
}

function firstDifference(
  expected: ReadonlyMap<string, FakeValue>,
  actual: ReadonlyMap<string, FakeValue>,
): string | undefined {
  for (const key of new Set([...expected.keys(), ...actual.keys()])) {
    const e = JSON.stringify(expected.get(key) ?? null);
    const a = JSON.stringify(actual.get(key) ?? null);
    if (e !== a) return `${key} is ${a}, the log says ${e}`;
  }
  return undefined;
}
