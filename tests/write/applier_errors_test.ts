/**
 * The applier's best-effort steps are counted and retried, never swallowed:
 * storing replies for another node of the rack, and fetching replies another
 * applier applied. Two appliers run in-process on a real Redis and a real
 * embedded log, with the failpoints of those steps armed.
 */

import assert from "node:assert/strict";
import { Applier } from "../../src/applier/applier.ts";
import { PendingWrites } from "../../src/applier/pending_writes.ts";
import { SegmentLog } from "../../src/log/segment_log.ts";
import { encodeOp } from "../../src/log/op.ts";
import { newOpId } from "../../src/log/op_id.ts";
import { LAYOUT_VERSION } from "../../src/identity/rack_marker.ts";
import { armFailpoints, disarmFailpoints } from "../../src/failpoints.ts";
import { ignoredCounts } from "../../src/observe/ignored.ts";
import { startRedis, waitFor } from "../harness/mod.ts";

const ignoredOf = (kind: string) => ignoredCounts().find(([k]) => k === kind)?.[1] ?? 0;
const utf8 = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("failed reply stores and recoveries are counted and retried; the write still settles", async () => {
  await using redis = await startRedis();
  const dir = await Deno.makeTempDir();
  const log = await SegmentLog.open(dir, { partitions: 1 });
  try {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const now = Date.now();
      const op = {
        id: newOpId(now),
        origin: "a",
        rack: "r",
        db: 0,
        protocol: 2 as const,
        transaction: false,
        acceptedAtMs: now,
        commands: [[new TextEncoder().encode("INCR"), new TextEncoder().encode("n")]],
      };
      ids.push(op.id);
      assert.equal(await log.append(0, encodeOp(op)), i);
    }
    const master = { address: () => ({ host: redis.host, port: redis.port }), onChange: () => {} };
    const options = { rack: "r", metaDb: 15, marker: { layout: LAYOUT_VERSION, log: log.id } };
    armFailpoints("applier.store_reply,applier.recover");

    // Node b applies node a's ops; a's link is down (handBack false), and storing the replies fails.
    const storesBefore = ignoredOf("reply_store");
    const b = new Applier(log, master, new PendingWrites(), {
      ...options,
      nodeId: "b",
      handBack: () => false,
    });
    b.start();
    await waitFor(
      "node b to apply the three ops",
      async () => (await redis.call("GET", "n")) === "3" ? true : undefined,
    );
    await b.stop();
    assert.ok(ignoredOf("reply_store") > storesBefore, "the failed store is counted");
    assert.equal(await redis.call("-n", "15", "KEYS", "pylon:reply:*"), "");

    // Node a learns its ops were applied elsewhere; fetching their replies fails, then is retried.
    const pending = new PendingWrites();
    const settled: string[] = [];
    for (const id of ids) {
      pending.register(id, 0, performance.now() + 60_000, (r) => settled.push(utf8(r)), () => {});
    }
    const a = new Applier(log, master, pending, { ...options, nodeId: "a" });
    a.start();
    await waitFor(
      "node a to read the stored position",
      () => a.status()[0]?.position === 3 ? true : undefined,
    );
    const recoveriesBefore = ignoredOf("reply_recovery");
    pending.placed(ids[0]!, 0);
    await waitFor(
      "the failed recovery to be retried",
      () => ignoredOf("reply_recovery") >= recoveriesBefore + 2 ? true : undefined,
    );
    disarmFailpoints();
    // With the failpoint gone a recovery runs to its end: no reply was stored, so the write is
    // answered as applied with its reply lost (its offset is below the applied position).
    pending.placed(ids[1]!, 1);
    await waitFor("the write to settle", () => settled.length > 0 ? true : undefined, {
      timeoutMs: 5_000,
    });
    assert.match(settled[0]!, /^-ERR the write was applied but its reply was lost/);
    await a.stop();
    assert.equal(await redis.call("GET", "n"), "3", "applied once, by b only");
  } finally {
    disarmFailpoints();
    await log.close();
    await Deno.remove(dir, { recursive: true });
  }
});
