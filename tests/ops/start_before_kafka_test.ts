/**
 * A node started before its Kafka waits for it (as containers start in any
 * order) instead of exiting, and serves once the broker is up.
 */

import assert from "node:assert/strict";
import {
  freePort,
  Relay,
  startKafka,
  startPylon,
  startRedis,
  uniqueTopic,
} from "../harness/mod.ts";

Deno.test("a node started before Kafka waits, then serves once Kafka is up", async () => {
  const brokerPort = freePort();
  // The relay refuses connections; no broker is behind it yet either.
  await using relay = await Relay.start({ host: "127.0.0.1", port: brokerPort });
  relay.cut();
  await using redis = await startRedis();
  await using pylon = await startPylon({
    redis: { url: redis.url },
    args: ["--log", `kafka://${relay.address}/${uniqueTopic("late-kafka")}`],
    waitReady: false,
  });
  await pylon.waitForLog(/waiting for "?the log/, 60_000);
  assert.ok(pylon.service.running, "still running while Kafka is away");
  // The relay passes connections again, to a port where no broker listens yet: still refused.
  relay.heal();
  await using _kafka = await startKafka({
    relayed: { port: brokerPort, advertisedPort: relay.port },
  });
  await pylon.waitReady(90_000);
  assert.equal(await pylon.call("SET", "k", "v"), "OK");
  assert.equal(await redis.call("GET", "k"), "v");
});
