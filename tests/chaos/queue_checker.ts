/**
 * The queue checks of the chaos suite: every element and stream entry the
 * queue clients (tests/chaos/queue_clients.ts) produced is counted against
 * what consumers got and what every rack's Redis holds at the end.
 *
 * Lists (`q:<n>`): no element taken twice; none taken that no producer
 * pushed; none both taken and still queued; every element whose push was
 * acknowledged is taken, still queued, or held by a claim (a node that never
 * came back: src/applier/claims.ts). Streams (`qs:<n>`, group `g`): no entry
 * delivered twice as new (`>`); none delivered that was not added; every entry
 * whose XADD was acknowledged is delivered, pending, or not yet delivered
 * (after the group's last delivered id); no entry whose XACK was acknowledged
 * is still pending.
 */

import type { Entry } from "./history.ts";
import type { RackData } from "./rack_data.ts";

/** One anomaly: its kind and its text. */
export interface QueueAnomaly {
  kind: string;
  text: string;
}

/** What the queue checks found, and their figures. */
export interface QueueVerdict {
  anomalies: QueueAnomaly[];
  figures: Record<string, number>;
}

/** Stream ids compare as (ms, seq). */
function idAfter(a: string, b: string): boolean {
  const [am, as] = a.split("-").map(BigInt);
  const [bm, bs] = b.split("-").map(BigInt);
  return am! > bm! || (am === bm && as! > bs!);
}

/**
 * Checks the queue clients' history against the racks' data (all racks agree:
 * checked apart). `emptiedMs`: when a fault emptied a rack's Redis outright
 * (its tries are replayed without claims: the README's stated window), so an
 * element pushed before one of them and lost is counted as
 * `queue_lost_redis_emptied`, not flagged.
 */
export function checkQueues(
  history: readonly Entry[],
  racks: readonly RackData[],
  claimed: readonly { key: string; element: string }[],
  emptiedMs: readonly number[] = [],
): QueueVerdict {
  const anomalies: QueueAnomaly[] = [];
  const figures: Record<string, number> = {};
  const flag = (kind: string, text: string) => {
    anomalies.push({ kind, text });
    figures[kind] = (figures[kind] ?? 0) + 1;
  };
  const rack = racks[0];
  if (rack === undefined) return { anomalies, figures };

  // Lists.
  const pushed = new Map<string, string>();
  const pushedAtMs = new Map<string, number>();
  const maybePushed = new Set<string>();
  const taken = new Map<string, number>();
  for (const e of history) {
    if (e.kind === "q-push" && e.arg !== undefined) {
      if (e.outcome === "ok") {
        pushed.set(e.arg, e.key);
        pushedAtMs.set(e.arg, e.invokeMs);
      } else if (e.outcome !== "fail" && e.outcome !== "refused") maybePushed.add(e.arg);
    } else if (e.kind === "q-pop" && e.outcome === "ok" && typeof e.value === "string") {
      taken.set(e.value, (taken.get(e.value) ?? 0) + 1);
    }
  }
  const queued = new Set<string>();
  for (const [key, record] of rack.keys) {
    if (key.startsWith("q:")) { for (const item of record.items ?? []) queued.add(item); }
  }
  const held = new Set(claimed.map((c) => c.element));
  for (const [element, times] of taken) {
    if (times > 1) flag("queue_taken_twice", `${element} was taken ${times} times`);
    if (!pushed.has(element) && !maybePushed.has(element)) {
      flag("queue_invented", `${element} was taken but never pushed`);
    }
    if (queued.has(element)) flag("queue_taken_and_queued", `${element} was taken and is queued`);
  }
  // A claim is put back when its node starts again: one of an element taken or queued is a
  // duplicate waiting to happen.
  for (const { key, element } of claimed) {
    if (taken.has(element) || queued.has(element)) {
      flag("queue_stale_claim", `a claim holds ${element} of ${key}, which is taken or queued`);
    }
  }
  for (const [element, key] of pushed) {
    if (!taken.has(element) && !queued.has(element) && !held.has(element)) {
      const at = pushedAtMs.get(element) ?? Infinity;
      if (emptiedMs.some((ms) => ms >= at)) {
        figures.queue_lost_redis_emptied = (figures.queue_lost_redis_emptied ?? 0) + 1;
        continue;
      }
      flag("queue_lost", `${element} pushed onto ${key} is neither taken, queued nor claimed`);
    }
  }
  figures.queue_pushed = pushed.size;
  figures.queue_taken = taken.size;
  figures.queue_left = queued.size;
  figures.queue_claimed_left = held.size;
  figures.queue_pops_in_doubt = history.filter((e) => e.kind === "q-pop" && e.outcome !== "ok")
    .length;

  // Streams.
  const added = new Map<string, { key: string; id: string }>();
  const maybeAdded = new Set<string>();
  const delivered = new Map<string, number>();
  const acked = new Map<string, Set<string>>();
  for (const e of history) {
    if (e.kind === "q-xadd" && e.arg !== undefined) {
      if (e.outcome === "ok" && typeof e.value === "string") {
        added.set(e.arg, { key: e.key, id: e.value });
      } else if (e.outcome !== "fail" && e.outcome !== "refused") maybeAdded.add(e.arg);
    } else if (e.kind === "q-xread" && e.outcome === "ok") {
      for (const pair of e.values ?? []) {
        const tag = pair.split(" ")[1]!;
        delivered.set(tag, (delivered.get(tag) ?? 0) + 1);
      }
    } else if (e.kind === "q-xack" && e.outcome === "ok" && e.arg !== undefined) {
      const ids = acked.get(e.key) ?? new Set<string>();
      for (const id of e.arg.split(" ")) ids.add(id);
      acked.set(e.key, ids);
    }
  }
  for (const [tag, times] of delivered) {
    if (times > 1) flag("stream_delivered_twice", `${tag} was delivered as new ${times} times`);
    if (!added.has(tag) && !maybeAdded.has(tag)) {
      flag("stream_invented", `${tag} was delivered but never added`);
    }
  }
  let undelivered = 0;
  let pendingLeft = 0;
  for (const [tag, { key, id }] of added) {
    if (delivered.has(tag)) continue;
    const group = rack.keys.get(key)?.stream?.groups.find((g) => g.name === "g");
    const pending = group?.pending.some((p) => p.id === id) ?? false;
    const waiting = group !== undefined && idAfter(id, group.lastDeliveredId) &&
      (rack.keys.get(key)?.stream?.entries.some(([e]) => e === id) ?? false);
    if (pending) pendingLeft++;
    else if (waiting) undelivered++;
    else flag("stream_lost", `${tag} (${id} on ${key}) is neither delivered, pending nor waiting`);
  }
  for (const [key, ids] of acked) {
    const group = rack.keys.get(key)?.stream?.groups.find((g) => g.name === "g");
    for (const p of group?.pending ?? []) {
      if (ids.has(p.id)) flag("stream_acked_pending", `${p.id} on ${key} was acked, still pending`);
    }
  }
  figures.stream_added = added.size;
  figures.stream_delivered = delivered.size;
  figures.stream_pending_left = pendingLeft;
  figures.stream_undelivered = undelivered;
  return { anomalies, figures };
}
