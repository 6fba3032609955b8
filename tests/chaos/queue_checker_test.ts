import assert from "node:assert/strict";
import type { Entry, QueueKind } from "./history.ts";
import type { KeyRecord, RackData, StreamRecord } from "./rack_data.ts";
import { checkQueues } from "./queue_checker.ts";

let at = 0;
function entry(kind: QueueKind, key: string, extra: Partial<Entry>): Entry {
  at++;
  return {
    client: 1,
    connection: 1,
    node: "n",
    kind,
    key,
    invokeMs: at,
    completeMs: at,
    outcome: "ok",
    ...extra,
  };
}

function rack(lists: Record<string, string[]>, stream?: StreamRecord): RackData {
  const keys = new Map<string, KeyRecord>();
  for (const [key, items] of Object.entries(lists)) {
    keys.set(key, { type: "list", digest: "", storedExpiryMs: -1, items });
  }
  if (stream !== undefined) {
    keys.set("qs:0", { type: "stream", digest: "", storedExpiryMs: -1, stream });
  }
  return { rack: "r", keys };
}

function stream(entries: string[], lastDelivered: string, pending: string[]): StreamRecord {
  return {
    length: entries.length,
    lastGeneratedId: entries[entries.length - 1] ?? "0-0",
    maxDeletedId: "0-0",
    entriesAdded: entries.length,
    recordedFirstId: entries[0] ?? "0-0",
    entries: entries.map((id) => [id, ["tag", id]]),
    groups: [{
      name: "g",
      lastDeliveredId: lastDelivered,
      entriesRead: "nil",
      lag: "nil",
      pelCount: pending.length,
      pending: pending.map((id) => ({ id, consumer: "c", deliveryMs: 0, deliveries: 1 })),
      consumers: [],
    }],
  };
}

const kinds = (
  history: Entry[],
  racks: RackData[],
  claimed = [] as { key: string; element: string }[],
) => checkQueues(history, racks, claimed).anomalies.map((a) => a.kind).sort();

Deno.test("a queue where every element is taken once or still queued passes", () => {
  const history = [
    entry("q-push", "q:0", { arg: "a" }),
    entry("q-push", "q:0", { arg: "b" }),
    entry("q-push", "q:0", { arg: "c", outcome: "unknown" }),
    entry("q-pop", "q:0", { value: "a" }),
    entry("q-pop", "q:0", { value: "c" }),
  ];
  assert.deepEqual(kinds(history, [rack({ "q:0": ["b"] })]), []);
});

Deno.test("the checker catches an element taken twice, one lost, one invented, one taken and queued", () => {
  const history = [
    entry("q-push", "q:0", { arg: "a" }),
    entry("q-push", "q:0", { arg: "lost" }),
    entry("q-push", "q:0", { arg: "b" }),
    entry("q-pop", "q:0", { value: "a" }),
    entry("q-pop", "q:0", { value: "a" }),
    entry("q-pop", "q:0", { value: "ghost" }),
    entry("q-pop", "q:0", { value: "b" }),
  ];
  assert.deepEqual(kinds(history, [rack({ "q:0": ["b"] })]), [
    "queue_invented",
    "queue_lost",
    "queue_taken_and_queued",
    "queue_taken_twice",
  ]);
  const withClaim = checkQueues(history.slice(0, 4), [rack({ "q:0": ["b"] })], [
    { key: "q:0", element: "lost" },
  ]);
  assert.deepEqual(withClaim.anomalies, [], "an element a claim still holds is not lost");
  const stale = checkQueues(history.slice(0, 4), [rack({ "q:0": ["b"] })], [
    { key: "q:0", element: "lost" },
    { key: "q:0", element: "a" },
  ]);
  assert.deepEqual(
    stale.anomalies.map((a) => a.kind),
    ["queue_stale_claim"],
    "a claim of a taken element",
  );
});

Deno.test("streams: delivered once, pending or waiting pass; twice, lost, invented and acked-yet-pending are caught", () => {
  const ok = [
    entry("q-xadd", "qs:0", { arg: "t1", value: "1-1" }),
    entry("q-xadd", "qs:0", { arg: "t2", value: "1-2" }),
    entry("q-xadd", "qs:0", { arg: "t3", value: "1-3" }),
    entry("q-xread", "qs:0", { values: ["1-1 t1"] }),
    entry("q-xack", "qs:0", { arg: "1-1" }),
  ];
  // t2 was delivered to a reply that was lost (pending); t3 waits after the last delivered id.
  assert.deepEqual(kinds(ok, [rack({}, stream(["1-1", "1-2", "1-3"], "1-2", ["1-2"]))]), []);
  const bad = [
    ...ok,
    entry("q-xread", "qs:0", { values: ["1-1 t1", "9-9 nobody"] }),
  ];
  assert.deepEqual(kinds(bad, [rack({}, stream(["1-1", "1-2", "1-3"], "1-3", ["1-1"]))]), [
    "stream_acked_pending",
    "stream_delivered_twice",
    "stream_invented",
    "stream_lost",
    "stream_lost",
  ]);
});

Deno.test("an element lost while a fault emptied a rack's Redis is counted apart; one pushed after it is flagged", () => {
  const before = entry("q-push", "q:0", { arg: "before" });
  const emptiedMs = before.invokeMs + 0.5;
  const after = entry("q-push", "q:0", { arg: "after" });
  const verdict = checkQueues([before, after], [rack({ "q:0": [] })], [], [emptiedMs]);
  assert.deepEqual(verdict.anomalies.map((a) => a.text), [
    "after pushed onto q:0 is neither taken, queued nor claimed",
  ]);
  assert.equal(verdict.figures.queue_lost_redis_emptied, 1);
});
