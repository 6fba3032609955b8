/**
 * The applier's fence on a real Redis: when another writer moves the
 * position, the next batch's EXEC runs nothing (the WATCH after the last EXEC
 * fired) and the applier applies the ops again from the stored position. The
 * aborted transaction's HELLO did not run either, so the ops applied again
 * still answer in their clients' protocol.
 */

import assert from "node:assert/strict";
import { Applier } from "../../src/applier/applier.ts";
import { positionKey } from "../../src/meta_keys.ts";
import { PendingWrites } from "../../src/write/pending_writes.ts";
import { RackProgress } from "../../src/applier/rack_progress.ts";
import { HandBack } from "../../src/applier/hand_back.ts";
import { readPosition } from "../../src/applier/rack_reads.ts";
import { SegmentLog } from "../../src/log/segment_log.ts";
import { encodeOp } from "../../src/log/op.ts";
import { newOpId } from "../../src/log/op_id.ts";
import type { Protocol } from "../../src/resp/value.ts";
import { LAYOUT_VERSION } from "../../src/identity/rack_marker.ts";
import { Upstream } from "../../src/redis/upstream.ts";
import type { HostPort } from "../../src/net/address.ts";
import { startRedis, waitFor } from "../harness/mod.ts";

const META_DB = 15;
const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("ops the fence sent back are applied again in their clients' protocol", async () => {
  await using redis = await startRedis();
  const dir = await Deno.makeTempDir();
  const log = await SegmentLog.open(dir, { partitions: 1 });
  const upstream = new Upstream({ kind: "direct", host: redis.host, port: redis.port, access: {} });
  await upstream.start();
  const pending = new PendingWrites();
  const replies = new Map<string, string>();
  const append = async (protocol: Protocol, argv: string[]) => {
    const now = Date.now();
    const id = newOpId(now);
    pending.register(
      id,
      0,
      Infinity,
      (r) => replies.set(id, new TextDecoder().decode(r)),
      () => {},
    );
    const op = {
      id,
      origin: "n1",
      rack: "r",
      db: 0,
      protocol,
      transaction: false,
      acceptedAtMs: now,
      commands: [argv.map(bytes)],
    };
    await log.append(0, encodeOp(op));
    return id;
  };
  const applier = new Applier(log, {
    master: {
      address: () => upstream.address,
      onChange: () => {},
      connect: (address: HostPort) => upstream.connectPipeline(address),
    },
    replies: new HandBack(pending, { nodeId: "n1", rack: "r" }),
    metaDb: META_DB,
    marker: { layout: LAYOUT_VERSION, log: log.id },
    progress: new RackProgress(1, readPosition(upstream, META_DB)),
  });
  try {
    const first = await append(2, ["ZINCRBY", "z", "1", "m"]);
    applier.start();
    await waitFor("the first op applied", () => replies.get(first));
    assert.equal(replies.get(first), "$1\r\n1\r\n", "RESP2: a bulk string");
    await waitFor(
      "the applier waiting for the log",
      () => applier.status()[0]?.state === "waiting" ? true : undefined,
    );
    // Another writer touches the position the applier WATCHes (the same value: only the fence fires).
    await redis.call("-n", String(META_DB), "SET", positionKey(0), "1");
    const second = await append(3, ["ZINCRBY", "z", "1", "m"]);
    await waitFor("the second op applied", () => replies.get(second));
    assert.equal(replies.get(second), ",2\r\n", "RESP3: a double, as its client speaks");
    assert.equal(await redis.call("ZSCORE", "z", "m"), "2", "each op applied once");
    assert.ok(applier.status()[0]!.batches >= 2);
  } finally {
    await applier.stop();
    upstream.stop();
    await log.close();
    await Deno.remove(dir, { recursive: true });
  }
});
