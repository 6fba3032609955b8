/**
 * Issue 24, item 7: a message's age comes from the log's own times, never
 * from one node's clock against another's. A node whose clock lags by 40 s
 * (run under libfaketime, Debian `faketime`: LD_PRELOAD shifts the wall
 * clock Deno reads, monotonic clocks untouched) publishes messages that every
 * rack's Redis delivers; with the default 30 s `--publish-max-age-ms` they
 * used to be dropped by every other rack. (That a rack catching up after an
 * outage still drops old messages is tests/pubsub/pubsub_test.ts.)
 */

import assert from "node:assert/strict";
import { ensureFaketime, RawClient, startWorld, useKafka, waitFor } from "../harness/mod.ts";
import { logOps, opText, replyText } from "./contract.ts";

const LAG_S = 40;

Deno.test("messages published through a node whose clock lags 40 s reach subscribers on every rack", async () => {
  const started = performance.now();
  const lagging = await ensureFaketime(-LAG_S);
  await using kafka = await useKafka();
  await using world = await startWorld({
    brokers: kafka.brokers,
    racks: 2,
    setups: [{}, { env: lagging }],
  });
  const [east, west] = world.racks as [typeof world.racks[0], typeof world.racks[0]];
  // Subscribed on each rack's Redis itself (what its applier publishes) and through east's node.
  const subscribers = await Promise.all(
    [(await world.master(east)).port, (await world.master(west)).port, east.pylon.port].map(
      async (port) => {
        const client = await RawClient.connect(port);
        assert.equal(replyText(await client.call("SUBSCRIBE", "news")), "[subscribe, news, 1]");
        return client;
      },
    ),
  );
  try {
    await using publisher = await RawClient.connect(west.pylon.port);
    for (let i = 0; i < 3; i++) {
      const reply = replyText(await publisher.call("PUBLISH", "news", `m${i}`));
      assert.match(reply, /^\d+$/, `PUBLISH through the lagging node: ${reply}`);
    }
    for (const [k, subscriber] of subscribers.entries()) {
      for (let i = 0; i < 3; i++) {
        const message = replyText(
          await subscriber.read(15_000).catch((error) => {
            throw new Error(`subscriber ${k} never got m${i}: ${error.message}`);
          }),
        );
        assert.equal(message, `[message, news, m${i}]`, `subscriber ${k}`);
      }
    }
    // The lag was real: the log holds the messages with accept times 40 s behind.
    const ops = await logOps(world);
    const published = ops.filter(({ op }) => opText(op).some((c) => c.startsWith("PUBLISH news")));
    assert.equal(published.length, 3);
    for (const { op } of published) {
      const behindMs = Date.now() - op.acceptedAtMs;
      assert.ok(behindMs > (LAG_S - 5) * 1000, `accepted ${behindMs} ms before now`);
    }
    await waitFor("west to apply its own messages", async () => {
      const info = await west.pylon.info();
      return info.get("partition_0_lag_ops") === "0" ? true : undefined;
    });
    console.log(
      `lagging clock: 3 messages, accepted ${
        Math.round((Date.now() - published[0]!.op.acceptedAtMs) / 1000)
      } s in the past, delivered on both racks; ${
        Math.round((performance.now() - started) / 1000)
      } s`,
    );
  } finally {
    for (const subscriber of subscribers) subscriber.close();
  }
});
