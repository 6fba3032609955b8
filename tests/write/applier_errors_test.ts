/**
 * Replies of writes another node applied, in-process on a real Redis and a
 * real embedded log: node b applies node a's ops while a's link is down, so
 * it stores their replies in the rack's Redis; node a notices its writes were
 * passed and takes the stored replies at once, not at their deadline. Failed
 * stores and failed recoveries are counted and retried; a reply nobody stored
 * is answered "applied, reply lost" only after the log shows the op is there.
 */

import assert from "node:assert/strict";
import { Applier } from "../../src/applier/applier.ts";
import { PendingWrites } from "../../src/write/pending_writes.ts";
import { RackProgress } from "../../src/applier/rack_progress.ts";
import { HandBack } from "../../src/applier/hand_back.ts";
import { ReplyRecovery } from "../../src/applier/reply_recovery.ts";
import { fetchStoredReplies, readPosition, verifyOpAt } from "../../src/applier/rack_reads.ts";
import { SegmentLog } from "../../src/log/segment_log.ts";
import { encodeOp } from "../../src/log/op.ts";
import { newOpId } from "../../src/log/op_id.ts";
import { LAYOUT_VERSION } from "../../src/identity/rack_marker.ts";
import { Upstream } from "../../src/redis/upstream.ts";
import type { HostPort } from "../../src/net/address.ts";
import { armFailpoints, disarmFailpoints } from "../../src/failpoints.ts";
import { ignoredCounts } from "../../src/observe/ignored.ts";
import { startRedis, waitFor } from "../harness/mod.ts";

const ignoredOf = (kind: string) => ignoredCounts().find(([k]) => k === kind)?.[1] ?? 0;
const utf8 = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const META_DB = 15;

async function withRack(
  fn: (
    rack: { log: SegmentLog; upstream: Upstream; redisCall: (...a: string[]) => Promise<string> },
  ) => Promise<void>,
): Promise<void> {
  await using redis = await startRedis();
  const dir = await Deno.makeTempDir();
  const log = await SegmentLog.open(dir, { partitions: 1 });
  const upstream = new Upstream({ kind: "direct", host: redis.host, port: redis.port, access: {} });
  await upstream.start();
  try {
    await fn({ log, upstream, redisCall: (...a) => redis.call(...a) });
  } finally {
    disarmFailpoints();
    upstream.stop();
    await log.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Appends `count` INCR ops of origin node `a`; their ids. */
async function opsOfA(log: SegmentLog, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const now = Date.now();
    const id = newOpId(now);
    ids.push(id);
    await log.append(
      0,
      encodeOp({
        id,
        origin: "a",
        rack: "r",
        db: 0,
        protocol: 2,
        transaction: false,
        acceptedAtMs: now,
        commands: [[new TextEncoder().encode("INCR"), new TextEncoder().encode("n")]],
      }),
    );
  }
  return ids;
}

/** Node b's applier, run until it applied `upto` ops, then stopped. */
async function applyAsB(log: SegmentLog, upstream: Upstream, upto: number): Promise<void> {
  const progress = new RackProgress(1, readPosition(upstream, META_DB));
  const b = new Applier(log, {
    master: {
      address: () => upstream.address,
      onChange: () => {},
      connect: (address: HostPort) => upstream.connectPipeline(address),
    },
    replies: new HandBack(new PendingWrites(), { nodeId: "b", rack: "r" }),
    metaDb: META_DB,
    marker: { layout: LAYOUT_VERSION, log: log.id },
    progress,
  });
  b.start();
  await waitFor("node b to apply", () => b.status()[0]?.position === upto ? true : undefined);
  await b.stop();
}

/** Node a's waiting writes and its reply recovery. */
function nodeA(log: SegmentLog, upstream: Upstream, ids: string[]) {
  const pending = new PendingWrites();
  const settled = new Map<string, string>();
  const deadline = performance.now() + 60_000;
  for (const id of ids) {
    pending.register(id, 0, deadline, (r) => settled.set(id, utf8(r)), () => {});
  }
  const recovery = new ReplyRecovery(pending, {
    replies: new HandBack(pending, { nodeId: "a", rack: "r" }),
    progress: new RackProgress(1, readPosition(upstream, META_DB)),
    fetchStored: fetchStoredReplies(upstream, META_DB),
    verify: verifyOpAt(log),
  });
  return { pending, settled, recovery };
}

Deno.test("replies another node applied and stored reach their writes at once", async () => {
  await withRack(async ({ log, upstream }) => {
    const ids = await opsOfA(log, 3);
    await applyAsB(log, upstream, 3);
    const a = nodeA(log, upstream, ids);
    const started = performance.now();
    ids.forEach((id, offset) => a.pending.placed(id, offset));
    a.recovery.start();
    await waitFor("every reply", () => a.settled.size === 3 ? true : undefined);
    a.recovery.stop();
    assert.deepEqual(ids.map((id) => a.settled.get(id)), [":1\r\n", ":2\r\n", ":3\r\n"]);
    assert.ok(performance.now() - started < 2_000, "long before any deadline");
  });
});

Deno.test("failed stores and recoveries are counted; an unstored reply is 'lost' only once the log shows the op", async () => {
  await withRack(async ({ log, upstream, redisCall }) => {
    const ids = await opsOfA(log, 2);
    armFailpoints("applier.store_reply");
    const storesBefore = ignoredOf("reply_store");
    await applyAsB(log, upstream, 2);
    assert.ok(ignoredOf("reply_store") > storesBefore, "the failed store is counted");
    assert.equal(await redisCall("-n", String(META_DB), "KEYS", "pylon:reply:*"), "");

    const a = nodeA(log, upstream, ids);
    armFailpoints("applier.recover");
    const recoveriesBefore = ignoredOf("reply_recovery");
    ids.forEach((id, offset) => a.pending.placed(id, offset));
    a.recovery.start();
    await waitFor(
      "the failing recovery to be retried",
      () => ignoredOf("reply_recovery") >= recoveriesBefore + 3 ? true : undefined,
    );
    assert.equal(a.settled.size, 0, "nothing answered while recovery fails");
    disarmFailpoints();
    await waitFor("the writes to settle", () => a.settled.size === 2 ? true : undefined, {
      timeoutMs: 10_000,
    });
    a.recovery.stop();
    for (const id of ids) {
      assert.match(a.settled.get(id)!, /^-ERR the write was applied but its reply was lost/);
    }
    assert.equal(await redisCall("GET", "n"), "2", "applied once, by b only");
  });
});
