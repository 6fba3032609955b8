/**
 * A node started before its Kafka waits for it (as containers start in any
 * order) instead of exiting, and serves once the broker is up. Its admin
 * listener answers from the first moment: alive, not ready while it waits.
 */

import assert from "node:assert/strict";
import {
  freePort,
  Relay,
  startKafka,
  startPylon,
  startRedis,
  uniqueTopic,
  waitFor,
} from "../harness/mod.ts";
import { adminGet } from "../harness/prometheus.ts";

Deno.test("a node started before Kafka waits, alive and not ready, then serves once Kafka is up", async () => {
  const brokerPort = freePort();
  const adminPort = freePort();
  // The relay refuses connections; no broker is behind it yet either.
  await using relay = await Relay.start({ host: "127.0.0.1", port: brokerPort });
  relay.cut();
  await using redis = await startRedis();
  await using pylon = await startPylon({
    redis: { url: redis.url },
    args: [
      "--log",
      `kafka://${relay.address}/${uniqueTopic("late-kafka")}`,
      "--admin-listen",
      `127.0.0.1:${adminPort}`,
    ],
    waitReady: false,
  });
  await pylon.waitForLog(/waiting for "?the log/, 60_000);
  assert.ok(pylon.service.running, "still running while Kafka is away");
  assert.equal((await adminGet(adminPort, "/healthz")).status, 200, "alive while it waits");
  const waiting = await adminGet(adminPort, "/readyz");
  assert.equal(waiting.status, 503, "not ready while it waits");
  assert.match(waiting.body, /starting, waiting for the log/);
  const metrics = await adminGet(adminPort, "/metrics");
  assert.match(metrics.body, /^pylon_starting 1$/m);
  assert.match(metrics.body, /^pylon_ready 0$/m);
  // The relay passes connections again, to a port where no broker listens yet: still refused.
  relay.heal();
  await using _kafka = await startKafka({
    relayed: { port: brokerPort, advertisedPort: relay.port },
  });
  await pylon.waitReady(90_000);
  await waitFor(
    "/readyz once Kafka is up",
    async () => (await adminGet(adminPort, "/readyz")).status === 200 || undefined,
    { timeoutMs: 30_000 },
  );
  assert.match((await adminGet(adminPort, "/metrics")).body, /^pylon_starting 0$/m);
  assert.equal(await pylon.call("SET", "k", "v"), "OK");
  assert.equal(await redis.call("GET", "k"), "v");
});
