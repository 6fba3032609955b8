/**
 * The chaos suite's checker: after quiescence it judges the history against
 * what is really there — every rack's Redis, read directly, and the log, read
 * from the broker — never against what Pylon says about itself. Pure: the
 * inputs come in, a list of anomalies and some figures come out.
 *
 * What it proves:
 * - no op applied twice: every counter, on every rack, equals the number of
 *   INCRs of it in the log (and every op id is in the log once);
 * - no acknowledged write lost: acknowledged (and "applied") SADD members and
 *   SETs are on every rack; counters are at least the acknowledged INCRs;
 * - nothing made up: an acknowledged write is in the log; acknowledged INCR
 *   values are distinct and within the counter; a failed write is nowhere;
 *   counters are at most acknowledged + applied + in doubt;
 * - read-your-writes on each connection: a GET after an acknowledged INCR of
 *   the same key sees at least its value; after an acknowledged SET, its value;
 * - convergence in log terms: every key alive in log terms at the comparison
 *   time (tests/chaos/rack_data.ts) has, on every rack, the same type, the
 *   same value (DEBUG DIGEST-VALUE) and the same logical expiry; a stream
 *   also the same entries, last-generated id and consumer groups (each
 *   group's last-delivered id, consumers, pending entries with their delivery
 *   counts and times); keys whose logical expiry has passed, or that Redis is
 *   removing, are left out (racks sweep them at their own pace);
 * - the time clients' checks (tests/chaos/time_checker.ts): keys with
 *   expiries, writes at expiry boundaries, script keys, XADD ids, consumer
 *   group deliveries, SPOP.
 *
 * The comparison time is the largest log time any rack reached, read after
 * every rack applied the log's end and after every rack's keys were read: a
 * rack drops a key by expiry only once its own log time reached the key's
 * expiry, so a key alive at that time must be alive on every rack.
 */

import { type Entry, isRead } from "./history.ts";
import { classifyRedisError } from "../../src/applier/redis_errors.ts";
import {
  aliveKeys,
  type KeyRecord,
  logicalExpiryMs,
  type RackData,
  streamDifference,
} from "./rack_data.ts";
import { checkTime } from "./time_checker.ts";

export type { KeyRecord, RackData } from "./rack_data.ts";

/** An op as the log holds it: its id and the commands it carries (none: a tick). */
export interface LoggedOp {
  id: string;
  commands: string[][];
}

/** The verdict. */
export interface Verdict {
  /** The anomalies listed (up to six per kind), then how many more there were. */
  anomalies: string[];
  /** Every anomaly. */
  all: string[];
  /** How many anomalies of each kind. */
  kinds: Record<string, number>;
  figures: Record<string, number>;
}

/** Anomalies listed, in all and per kind (the rest are counted): each kind shows examples. */
const MAX_LISTED = 40;
const MAX_LISTED_PER_KIND = 6;

/** A rack's keys alive in log terms, with its strings and sets for the basic checks. */
interface RackView {
  rack: string;
  alive: Map<string, KeyRecord>;
  strings: Map<string, string>;
  sets: Map<string, Set<string>>;
}

function view(rack: RackData, comparisonMs: number): RackView {
  const alive = aliveKeys(rack, comparisonMs);
  const strings = new Map<string, string>();
  const sets = new Map<string, Set<string>>();
  for (const [key, record] of alive) {
    if (record.value !== undefined) strings.set(key, record.value);
    if (record.members !== undefined) sets.set(key, new Set(record.members));
  }
  return { rack: rack.rack, alive, strings, sets };
}

/**
 * Judges a history against every rack's keys and the log, in log terms at
 * `comparisonMs` (see the module's header).
 */
export function check(
  history: Entry[],
  rackData: RackData[],
  log: LoggedOp[],
  comparisonMs: number,
): Verdict {
  const racks = rackData.map((rack) => view(rack, comparisonMs));
  const anomalies: string[] = [];
  const perKind = new Map<string, number>();
  let unlisted = 0;
  const all: string[] = [];
  const figures: Record<string, number> = {};
  const count = (name: string) => figures[name] = (figures[name] ?? 0) + 1;
  /** Reports an anomaly of a kind; the kind is counted among the figures too. */
  const flag = (kind: string, text: string) => {
    all.push(text);
    count(kind);
    const seen = perKind.get(kind) ?? 0;
    perKind.set(kind, seen + 1);
    if (anomalies.length < MAX_LISTED && seen < MAX_LISTED_PER_KIND) anomalies.push(text);
    else unlisted++;
  };

  // The log itself: op ids once each; what each write key received.
  const ids = new Set<string>();
  const logIncrs = new Map<string, number>();
  const logMembers = new Map<string, number>();
  const logSets = new Map<string, number>();
  for (const op of log) {
    if (ids.has(op.id)) flag("log_duplicate_op", `op ${op.id} is in the log twice`);
    ids.add(op.id);
    for (const argv of op.commands) {
      const name = argv[0]?.toLowerCase();
      if (name === "incr") logIncrs.set(argv[1]!, (logIncrs.get(argv[1]!) ?? 0) + 1);
      else if (name === "sadd") {
        for (const m of argv.slice(2)) {
          logMembers.set(`${argv[1]}\u0000${m}`, (logMembers.get(`${argv[1]}\u0000${m}`) ?? 0) + 1);
        }
      } else if (name === "set") {
        logSets.set(
          `${argv[1]}\u0000${argv[2]}`,
          (logSets.get(`${argv[1]}\u0000${argv[2]}`) ?? 0) + 1,
        );
      }
    }
  }
  figures.logged_ops = log.length;
  for (const [key, n] of logMembers) {
    if (n > 1) {
      flag("log_duplicate_member", `SADD ${key.replace("\u0000", " ")} is in the log ${n} times`);
    }
  }

  // Outcomes by write.
  const writes = history.filter((e) => !isRead(e.kind));
  // A rack's condition (out of memory, read-only, loading, ...) is never a write's outcome.
  for (const e of writes) {
    if (
      e.error !== undefined && !e.error.startsWith("connection:") &&
      classifyRedisError(e.error) === "rack" && !/Pylon|rack|log/.test(e.error)
    ) {
      flag(
        "rack_condition_replies",
        `${e.kind} ${e.key} on ${e.node} was answered with a rack's condition: ${e.error}`,
      );
    }
  }
  for (const e of history) count(`${e.kind}_${e.outcome}`);
  figures.refused = history.filter((e) => e.outcome === "refused").length;
  const incrs = new Map<string, { ok: number[]; applied: number; unknown: number }>();
  for (const e of writes) {
    if (e.kind === "incr") {
      const t = incrs.get(e.key) ?? { ok: [], applied: 0, unknown: 0 };
      incrs.set(e.key, t);
      if (e.outcome === "ok") t.ok.push(Number(e.value));
      else if (e.outcome === "applied") t.applied++;
      else if (e.outcome === "unknown") t.unknown++;
    }
  }

  for (const rack of racks) {
    // Counters: exactly the INCRs the log holds; between the acknowledged and all that may be.
    for (const [key, t] of incrs) {
      const value = Number(rack.strings.get(key) ?? "0");
      const logged = logIncrs.get(key) ?? 0;
      if (value !== logged) {
        flag(
          "counter_not_log",
          `${rack.rack}: ${key} is ${value} but the log holds ${logged} INCRs of it`,
        );
      }
      const low = t.ok.length + t.applied;
      if (value < low) {
        flag(
          "counter_below_acknowledged",
          `${rack.rack}: ${key} is ${value}, below ${low} acknowledged`,
        );
      }
      if (value > low + t.unknown) {
        flag(
          "counter_above_possible",
          `${rack.rack}: ${key} is ${value}, above ${low} acknowledged + ${t.unknown} in doubt`,
        );
      }
    }
    for (const e of writes) {
      if (e.kind === "sadd") {
        const present = rack.sets.get(e.key)?.has(e.arg!) ?? false;
        if ((e.outcome === "ok" || e.outcome === "applied") && !present) {
          flag(
            "lost_sadd",
            `${rack.rack}: acknowledged SADD ${e.key} ${e.arg} (${e.outcome}) is missing`,
          );
        }
        if ((e.outcome === "fail" || e.outcome === "refused") && present) {
          flag("failed_sadd_there", `${rack.rack}: failed SADD ${e.key} ${e.arg} is there`);
        }
      } else if (e.kind === "set") {
        const value = rack.strings.get(e.key);
        if ((e.outcome === "ok" || e.outcome === "applied") && value !== e.arg) {
          flag(
            "lost_set",
            `${rack.rack}: acknowledged SET ${e.key} (${e.outcome}) reads ${value ?? "nil"}`,
          );
        }
        if ((e.outcome === "fail" || e.outcome === "refused") && value !== undefined) {
          flag("failed_set_there", `${rack.rack}: failed SET ${e.key} is there`);
        }
      }
    }
  }

  // Nothing made up: what was acknowledged is in the log; INCR values are distinct and possible.
  for (const e of writes) {
    if (e.outcome !== "ok" && e.outcome !== "applied") continue;
    if (e.kind === "sadd" && !logMembers.has(`${e.key}\u0000${e.arg}`)) {
      flag("made_up", `SADD ${e.key} ${e.arg} was answered ${e.outcome} but is not in the log`);
    }
    if (e.kind === "set" && !logSets.has(`${e.key}\u0000${e.arg}`)) {
      flag("made_up", `SET ${e.key} was answered ${e.outcome} but is not in the log`);
    }
  }
  for (const [key, t] of incrs) {
    const seen = new Set<number>();
    for (const v of t.ok) {
      if (seen.has(v)) {
        flag("made_up", `two INCRs of ${key} were both answered ${v}`);
      }
      seen.add(v);
      if (v > (logIncrs.get(key) ?? 0)) {
        flag(
          "made_up",
          `INCR ${key} was answered ${v}, more than the log's ${logIncrs.get(key) ?? 0}`,
        );
      }
    }
  }

  // Read-your-writes, per connection.
  const byConnection = new Map<string, Entry[]>();
  for (const e of history) {
    const k = `${e.client}/${e.connection}`;
    const list = byConnection.get(k) ?? [];
    list.push(e);
    byConnection.set(k, list);
  }
  for (const entries of byConnection.values()) {
    const floor = new Map<string, number>();
    const own = new Map<string, string>();
    for (const e of entries.sort((a, b) => a.invokeMs - b.invokeMs)) {
      if (e.kind === "incr" && e.outcome === "ok") {
        floor.set(e.key, Math.max(floor.get(e.key) ?? 0, Number(e.value)));
      } else if (e.kind === "set" && e.outcome === "ok") {
        own.set(e.key, e.arg!);
      } else if (e.kind === "get" && e.outcome === "ok") {
        const min = floor.get(e.key);
        if (min !== undefined && Number(e.value ?? "0") < min) {
          flag(
            "ryw_violations",
            `client ${e.client} read ${e.key}=${e.value} on ${e.node} after its INCR answered ${min}`,
          );
        }
        const mine = own.get(e.key);
        if (mine !== undefined && e.value !== mine) {
          flag(
            "ryw_violations",
            `client ${e.client} read ${e.key}=${e.value} on ${e.node} after its SET of ${mine}`,
          );
        }
      } else if (e.kind === "sadd" && e.outcome === "ok") {
        own.set(`${e.key}\u0000${e.arg}`, "1");
      } else if (e.kind === "ismember" && e.outcome === "ok") {
        if (own.has(`${e.key}\u0000${e.arg}`) && e.value !== "1") {
          flag(
            "ryw_violations",
            `client ${e.client} did not find its member ${e.arg} of ${e.key} on ${e.node}`,
          );
        }
      }
    }
  }

  // Convergence in log terms: every rack equal to the first, key by key.
  const [first, ...others] = racks;
  for (const rack of others) {
    for (const key of [...new Set([...first!.alive.keys(), ...rack.alive.keys()])].sort()) {
      const a = first!.alive.get(key);
      const b = rack.alive.get(key);
      const difference = keyDifference(a, b);
      if (difference !== undefined) {
        flag(
          "diverged_keys",
          `${key}: ${first!.rack} has ${shown(a)}, ${rack.rack} has ${shown(b)}: ${difference}`,
        );
      }
    }
  }
  for (const [i, rack] of rackData.entries()) {
    figures[`${rack.rack}_keys`] = rack.keys.size;
    figures[`${rack.rack}_alive_keys`] = racks[i]!.alive.size;
  }

  checkTime(history, rackData, log, comparisonMs, flag, count);
  figures.anomalies = anomalies.length + unlisted;
  if (unlisted > 0) anomalies.push(`… and ${unlisted} more anomalies not listed`);
  return { anomalies, all, kinds: Object.fromEntries(perKind), figures };
}

/** How two racks' records of one key differ, or undefined. */
function keyDifference(a: KeyRecord | undefined, b: KeyRecord | undefined): string | undefined {
  if (a === undefined || b === undefined) {
    return a === b ? undefined : `only on ${a === undefined ? "the second" : "the first"}`;
  }
  if (a.type !== b.type) return "types differ";
  const streams = a.stream !== undefined && b.stream !== undefined
    ? streamDifference(a.stream, b.stream)
    : undefined;
  if (streams !== undefined) return streams;
  if (a.digest !== b.digest) return "values differ";
  if (logicalExpiryMs(a) !== logicalExpiryMs(b)) return "expiries differ";
  return undefined;
}

function shown(record: KeyRecord | undefined): string {
  if (record === undefined) return "none";
  const expiry = logicalExpiryMs(record);
  const value = record.value !== undefined
    ? JSON.stringify(record.value.length > 40 ? `${record.value.slice(0, 40)}…` : record.value)
    : `${record.type} ${record.digest.slice(0, 8)}`;
  return `${value} ${expiry === undefined ? "(no expiry)" : `(expires at ${expiry})`}`;
}
