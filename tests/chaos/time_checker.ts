/**
 * The time clients' checks (tests/chaos/time_clients.ts): what their history
 * allows to count, judged against every rack's keys in log terms at the
 * comparison time C (the largest log time any rack had reached once every
 * rack had applied the log's end and been read). Pure, like the rest of the
 * checker.
 *
 * An op's log time T lies between its invocation and its completion on the
 * host's wall clock (I ≤ T ≤ K): T is at least the op's own accept time, and
 * no op before it in the log was accepted after it was acknowledged. So an
 * expiry set relative to an op, by `d` ms, lies in [I + d, K + d], and a key
 * whose expiry interval is [lo, hi] is surely alive for an op with K < lo and
 * surely expired for one with hi ≤ I.
 *
 * What it proves:
 * - keys with expiries (`t:`): each is written by one client; following its
 *   replies in order, the key's value and expiry interval are known, so at C
 *   it must be alive on every rack, with that value and an expiry in the
 *   interval, if the interval is after C, and not alive if it is before; and
 *   every reply along the way must fit (an `EXPIRE` answered 0, a `GETEX`
 *   answered nil, a boundary `INCR` answered 1 on a key surely alive at its
 *   log time; one answered as if alive on a key surely expired; a `TTL`
 *   read in a script outside the interval);
 * - script keys (`e:`): what an acknowledged script answered is what it wrote,
 *   alive on every rack; a refused script wrote nothing; `TIME` in a script is
 *   the op's log time; `SRANDMEMBER` answered a member the log added;
 * - streams: every id an acknowledged `XADD` (`*`, `<ms>-*`, or in a script)
 *   got is on every rack with the fields it sent, unless `MAXLEN` trimmed it
 *   (it is then before the stream's first entry); no two `XADD`s got one id;
 *   `XREADGROUP ... >` delivered each entry to at most one consumer per group;
 * - SPOP: no member returned by two pops (in scripts or not); a popped
 *   member is in no rack's set; it was added by the log.
 */

import type { Entry } from "./history.ts";
import { type KeyRecord, liveness, logicalExpiryMs, type RackData } from "./rack_data.ts";

/** Slack around the wall-clock bounds of a log time: ms rounding, TIME's microseconds. */
const SLACK_MS = 2;

/** What a `t:` key is, per its client's replies: undefined expiry is none. */
interface KeyModel {
  exists: boolean;
  value?: string;
  /** The logical expiry lies in [lo, hi]. */
  expiry?: [number, number];
}

/** Whether the key is alive at an op between I and K: undefined when it cannot be told. */
function aliveDuring(model: KeyModel, i: number, k: number): boolean | undefined {
  if (!model.exists) return false;
  if (model.expiry === undefined) return true;
  const [lo, hi] = model.expiry;
  if (hi <= i) return false;
  if (lo > k) return true;
  return undefined;
}

function shown(model: KeyModel): string {
  if (!model.exists) return "no key";
  const expiry = model.expiry === undefined
    ? "no expiry"
    : `expiring in log terms within [${model.expiry[0]}, ${model.expiry[1]}]`;
  return `${model.value}, ${expiry}`;
}

function describe(record: KeyRecord | undefined, atMs: number): string {
  if (record === undefined) return "absent";
  const expiry = logicalExpiryMs(record);
  const value = record.value === undefined ? record.type : record.value;
  if (expiry === undefined) return `${value}, no expiry`;
  if (expiry === null) {
    return `${value}, stored expiry ${record.storedExpiryMs}, below the shift (being removed)`;
  }
  return `${value}, expiring at ${expiry}${expiry <= atMs ? " (expired)" : ""}`;
}

/** Milliseconds of a relative expiry in an argv (`EX s`, `PX ms`, `EXPIRE k s`, ...). */
function relativeMs(argv: string[]): number | undefined {
  const name = argv[0]!.toUpperCase();
  if (name === "EXPIRE") return Number(argv[2]) * 1000;
  if (name === "PEXPIRE") return Number(argv[2]);
  for (let i = 2; i < argv.length - 1; i++) {
    const option = argv[i]!.toUpperCase();
    if (option === "EX") return Number(argv[i + 1]) * 1000;
    if (option === "PX") return Number(argv[i + 1]);
  }
  return undefined;
}

/** Reports an anomaly of a kind (counted under that name too). */
export type Flag = (kind: string, text: string) => void;

/** Judges the time clients' history; reports each anomaly through `flag`, figures to `count`. */
export function checkTime(
  history: Entry[],
  racks: RackData[],
  log: readonly { commands: string[][] }[],
  comparisonMs: number,
  flag: Flag,
  count: (name: string) => void,
): void {
  const acked = (e: Entry) => e.outcome === "ok" && e.error === undefined;
  const isAlive = (record: KeyRecord | undefined) =>
    record !== undefined && liveness(record, comparisonMs) === "alive";

  // Members the log added to each set.
  const added = new Set<string>();
  for (const op of log) {
    for (const argv of op.commands) {
      if (argv[0]?.toLowerCase() !== "sadd") continue;
      for (const member of argv.slice(2)) added.add(`${argv[1]}\u0000${member}`);
    }
  }

  // Keys with expiries, each followed through its client's replies.
  const byKey = new Map<string, Entry[]>();
  for (const e of history) {
    if (!e.key.startsWith("t:") || e.invokeWallMs === undefined) continue;
    const list = byKey.get(e.key) ?? [];
    list.push(e);
    byKey.set(e.key, list);
  }
  for (const [key, entries] of byKey) {
    const model = followKey(key, entries, flag, count);
    if (model === undefined) continue;
    count("ttl_keys_checked");
    for (const rack of racks) {
      const record = rack.keys.get(key);
      const alive = isAlive(record);
      const there = describe(record, comparisonMs);
      const expected = shown(model);
      if (!model.exists) {
        if (alive) {
          flag("ttl_not_gone", `${rack.rack}: ${key} is alive (${there}) but should be gone`);
        }
        continue;
      }
      const expiry = model.expiry;
      const mustLive = expiry === undefined || expiry[0] > comparisonMs;
      const mustNot = expiry !== undefined && expiry[1] <= comparisonMs;
      if (mustLive && !alive) {
        flag(
          "ttl_missing",
          `${rack.rack}: acknowledged ${key} (${expected}) should be alive at log time ${comparisonMs} but is ${there}`,
        );
      } else if (mustNot && alive) {
        flag(
          "ttl_not_expired",
          `${rack.rack}: ${key} (${expected}) should have expired by log time ${comparisonMs} but is ${there}`,
        );
      } else if (alive) {
        const at = logicalExpiryMs(record!);
        const wrongExpiry = expiry === undefined
          ? at !== undefined
          : at === undefined || at === null || at < expiry[0] || at > expiry[1];
        if (record!.value !== model.value || wrongExpiry) {
          flag("ttl_wrong", `${rack.rack}: ${key} is ${there}, expected ${expected}`);
        }
      }
    }
  }

  // Script keys: what the script answered is what it wrote.
  for (const e of history) {
    if (!["script-time", "script-srand", "script-ttl"].includes(e.kind) || e.arg === undefined) {
      continue;
    }
    if (e.outcome === "refused" || (acked(e) && e.value === null)) {
      for (const rack of racks) {
        const record = rack.keys.get(e.arg);
        if (record !== undefined) {
          flag(
            "script_wrote_anyway",
            `${rack.rack}: ${e.kind} was ${e.outcome} without writing, yet ${e.arg} is there`,
          );
        }
      }
      continue;
    }
    if (!acked(e) || typeof e.value !== "string") continue;
    count("script_writes_checked");
    for (const rack of racks) {
      const record = rack.keys.get(e.arg);
      if (!isAlive(record) || record!.value !== e.value) {
        flag(
          "script_write_missing",
          `${rack.rack}: ${e.kind} answered ${e.value} and wrote it to ${e.arg}, which is ${
            describe(record, comparisonMs)
          }`,
        );
      }
    }
    if (e.kind === "script-time") {
      const [seconds, micros] = e.value.split(".");
      const ms = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      if (ms < e.invokeWallMs! - SLACK_MS || ms > e.completeWallMs! + SLACK_MS) {
        flag(
          "script_time_outside",
          `TIME in a script answered ${e.value}, outside its op's log time [${e.invokeWallMs}, ${e.completeWallMs}]`,
        );
      }
    }
    if (e.kind === "script-srand" && !added.has(`${e.key}\u0000${e.value}`)) {
      flag(
        "made_up",
        `SRANDMEMBER ${e.key} in a script answered ${e.value}, which the log never added`,
      );
    }
  }

  // Streams: acknowledged XADD ids, '>' deliveries.
  const ids = new Map<string, Entry>();
  for (const e of history) {
    if (!["xadd", "xadd-ms", "script-xadd"].includes(e.kind)) continue;
    if (!acked(e) || typeof e.value !== "string") continue;
    count("xadd_ids_checked");
    const id = `${e.key} ${e.value}`;
    const other = ids.get(id);
    if (other !== undefined) {
      flag(
        "xadd_duplicate_ids",
        `two XADDs to ${e.key} were both answered ${e.value} (${other.arg} and ${e.arg})`,
      );
    }
    ids.set(id, e);
    for (const rack of racks) {
      const stream = rack.keys.get(e.key)?.stream;
      const entry = stream?.entries.find(([entryId]) => entryId === e.value);
      if (entry !== undefined) {
        if (JSON.stringify(entry[1]) !== JSON.stringify(["f", e.arg])) {
          flag(
            "xadd_wrong_entry",
            `${rack.rack}: ${e.key} ${e.value} holds ${
              entry[1].join(" ")
            }, but XADD of f ${e.arg} was answered that id`,
          );
        }
        continue;
      }
      const first = stream?.entries[0]?.[0];
      const trimmed = first !== undefined && compareIds(e.value, first) < 0 &&
        compareIds(e.value, stream!.lastGeneratedId) <= 0;
      if (!trimmed) {
        flag(
          "xadd_missing",
          `${rack.rack}: acknowledged XADD ${e.key} ${e.value} (f ${e.arg}, ${e.kind}) is missing${
            stream === undefined
              ? " (no stream)"
              : ` (entries ${first ?? "none"} to ${stream.lastGeneratedId})`
          }`,
        );
      }
    }
  }
  const deliveredTo = new Map<string, string>();
  for (const e of history) {
    if (e.kind !== "xreadgroup" || !acked(e) || e.values === undefined) continue;
    const group = e.argv?.[2] ?? "";
    const consumer = e.argv?.[3] ?? "";
    for (const id of e.values) {
      const slot = `${e.key} ${group} ${id}`;
      const before = deliveredTo.get(slot);
      if (before !== undefined) {
        flag(
          "xreadgroup_redelivered",
          `${e.key} ${id} was delivered as new in group ${group} twice (to ${before} and ${consumer})`,
        );
      }
      deliveredTo.set(slot, consumer);
    }
  }

  // SPOP: each member popped once, gone everywhere, added by the log.
  const poppedBy = new Map<string, Entry>();
  for (const e of history) {
    if (e.kind !== "spop" && e.kind !== "script-spop") continue;
    if (!acked(e)) continue;
    const members = e.values ?? (typeof e.value === "string" ? [e.value] : []);
    for (const member of members) {
      count("spop_members_checked");
      const slot = `${e.key}\u0000${member}`;
      const other = poppedBy.get(slot);
      if (other !== undefined) {
        flag(
          "spop_twice",
          `${member} of ${e.key} was popped twice (clients ${other.client} on ${other.node} and ${e.client} on ${e.node})`,
        );
      }
      poppedBy.set(slot, e);
      if (!added.has(slot)) {
        flag("made_up", `SPOP ${e.key} answered ${member}, which the log never added`);
      }
      for (const rack of racks) {
        const record = rack.keys.get(e.key);
        if (isAlive(record) && record!.members?.includes(member)) {
          flag("spop_still_there", `${rack.rack}: popped member ${member} is still in ${e.key}`);
        }
      }
    }
  }
}

/** A command as the anomaly shows it: a script's body left out. */
function commandText(argv: string[] | undefined): string {
  if (argv === undefined) return "";
  return argv[0]?.toUpperCase() === "EVAL"
    ? ["EVAL", "…", ...argv.slice(2)].join(" ")
    : argv.join(" ");
}

/** Orders stream ids (`ms-seq`). */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split("-").map(BigInt);
  const [bm, bs] = b.split("-").map(BigInt);
  if (am !== bm) return am! < bm! ? -1 : 1;
  if (as !== bs) return (as ?? 0n) < (bs ?? 0n) ? -1 : 1;
  return 0;
}

/**
 * Follows one `t:` key through its client's operations, reporting replies
 * that cannot be; returns what the key must be at the end, or undefined when
 * an operation in doubt leaves it unknown or a reply that cannot be was
 * reported (the key's end is then no news).
 */
function followKey(
  key: string,
  entries: Entry[],
  flag: Flag,
  count: (name: string) => void,
): KeyModel | undefined {
  let model: KeyModel = { exists: false };
  let broken = false;
  const wrong = (e: Entry, why: string) => {
    flag(
      `wrong_reply_${e.kind}`,
      `${e.kind} ${key} (${commandText(e.argv)}) answered ${e.value ?? "nil"} ${why}`,
    );
    broken = true;
  };
  for (const e of [...entries].sort((a, b) => a.invokeMs - b.invokeMs)) {
    // After a reply that cannot be, what the key is no longer follows: one anomaly per key.
    if (broken) return undefined;
    if (e.outcome === "fail" || e.outcome === "refused") continue;
    const i = e.invokeWallMs!;
    const k = e.completeWallMs!;
    const argv = e.argv ?? [];
    const relative = relativeMs(argv);
    const expiryFrom = (ms: number): [number, number] => [i + ms - SLACK_MS, k + ms + SLACK_MS];
    // Not alive at this op: it had an expiry and reached it.
    const reached = () => {
      if (model.expiry !== undefined) {
        model.expiry = [model.expiry[0], Math.min(model.expiry[1], k + SLACK_MS)];
      }
    };
    const knownWhenApplied = e.kind === "ttl-set" || e.kind === "script-expire";
    if (e.outcome === "applied" && knownWhenApplied) {
      // Applied, its reply lost: an unconditional SET's effect is known all the same.
    } else if (e.outcome !== "ok" || e.error !== undefined) {
      count("ttl_keys_in_doubt");
      return undefined;
    }
    const alive = aliveDuring(model, i, k);
    const reply = e.value;
    switch (e.kind) {
      case "ttl-set":
        model = {
          exists: true,
          value: argv[2]!,
          ...(relative === undefined ? {} : { expiry: expiryFrom(relative) }),
        };
        break;
      case "script-expire":
        if (e.outcome === "ok" && reply !== "1") wrong(e, "where EXPIRE of a key just set gives 1");
        model = { exists: true, value: argv[4]!, expiry: expiryFrom(Number(argv[5]) * 1000) };
        break;
      case "expire": {
        const condition = (argv[3] ?? "").toUpperCase();
        if (reply === "1") {
          if (alive === false) wrong(e, "on a key expired or gone at its log time");
          if (alive === true && condition === "NX" && model.expiry !== undefined) {
            wrong(e, "with NX on a key that had an expiry");
          }
          if (alive === true && condition === "XX" && model.expiry === undefined) {
            wrong(e, "with XX on a key without an expiry");
          }
          if (alive === true && condition === "GT" && model.expiry === undefined) {
            wrong(e, "with GT on a key without an expiry");
          }
          model.expiry = expiryFrom(relative!);
        } else if (reply === "0") {
          if (condition === "") {
            if (alive === true) wrong(e, "on a key alive at its log time");
            reached();
          } else if (alive === true) {
            if (condition === "NX" && model.expiry === undefined) {
              wrong(e, "with NX on a key without an expiry");
            }
            if (condition === "XX" && model.expiry !== undefined) {
              wrong(e, "with XX on a key that had an expiry");
            }
          }
          // With a condition, 0 is the condition failing or the key expired: the model holds either way.
        } else wrong(e, "instead of 0 or 1");
        break;
      }
      case "persist":
        if (reply === "1") {
          if (alive === false) wrong(e, "on a key expired or gone at its log time");
          if (model.expiry === undefined) wrong(e, "on a key without an expiry");
          delete model.expiry;
        } else if (reply === "0") {
          if (model.expiry !== undefined) {
            if (alive === true) wrong(e, "on a key alive with an expiry at its log time");
            reached();
          }
        } else wrong(e, "instead of 0 or 1");
        break;
      case "getex":
        if (reply === null || reply === undefined) {
          if (alive === true) wrong(e, "on a key alive at its log time");
          reached();
        } else {
          if (alive === false) wrong(e, "on a key expired or gone at its log time");
          if (reply !== model.value) wrong(e, `where the key holds ${model.value}`);
          const persist = argv.some((a) => a.toUpperCase() === "PERSIST");
          if (persist) delete model.expiry;
          else if (relative !== undefined) model.expiry = expiryFrom(relative);
        }
        break;
      case "edge-incr":
        if (reply === "1") {
          if (alive === true) wrong(e, "as if expired, on a key alive at its log time");
          model = { exists: true, value: "1" };
        } else if (reply === String(Number(model.value) + 1)) {
          if (alive === false) wrong(e, "as if alive, on a key expired at its log time");
          model.value = reply;
        } else wrong(e, `where the key held ${model.value} or had expired`);
        break;
      case "edge-append":
        if (reply === "1") {
          if (alive === true) wrong(e, "as if expired, on a key alive at its log time");
          model = { exists: true, value: "x" };
        } else if (reply === String((model.value ?? "").length + 1)) {
          if (alive === false) wrong(e, "as if alive, on a key expired at its log time");
          model.value = `${model.value}x`;
        } else wrong(e, `where the key held ${model.value} or had expired`);
        break;
      case "edge-setnx":
        if (reply === "OK") {
          if (alive === true) wrong(e, "as if expired, on a key alive at its log time");
          model = { exists: true, value: argv[2]! };
        } else if (reply === null) {
          if (alive === false) wrong(e, "as if alive, on a key expired at its log time");
        } else wrong(e, "instead of OK or nil");
        break;
      case "script-ttl": {
        const ttl = Number(reply);
        if (alive === false && ttl !== -2) wrong(e, "as TTL of a key expired at its log time");
        if (alive === true && model.expiry === undefined && ttl !== -1) {
          wrong(e, "as TTL of a key without an expiry");
        }
        if (alive === true && model.expiry !== undefined) {
          const [lo, hi] = model.expiry;
          if (ttl * 1000 < lo - k - 1000 || ttl * 1000 > hi - i + 1000) {
            wrong(e, `as TTL of a key expiring within [${lo}, ${hi}], read within [${i}, ${k}]`);
          }
        }
        break;
      }
      default:
        break;
    }
  }
  return broken ? undefined : model;
}
