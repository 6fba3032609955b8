/**
 * A broker that wrote a batch but whose answer was lost: Kafka's idempotence
 * holds only if the same batch is sent again. A relay between the node and
 * the broker lets an acknowledged SET's produce request through, drops the
 * answer, and cuts the link for longer than kafkajs retries by itself; then
 * new SETs follow. Every write answered OK must be in the log and in Redis,
 * and nothing answered OK may be missing (with ack=log, OK comes from the log
 * alone, so a lost op would be a lost acknowledged write).
 */

import assert from "node:assert/strict";
import {
  RawClient,
  Relay,
  startKafka,
  startPylon,
  startRedis,
  uniqueTopic,
  waitFor,
} from "../harness/mod.ts";
import { freePort } from "../harness/ports.ts";

Deno.test("a batch written whose answer was lost is sent again as the same batch: no acknowledged write lost", async () => {
  const brokerPort = freePort();
  await using relay = await Relay.start({ host: "127.0.0.1", port: brokerPort });
  await using _kafka = await startKafka({
    relayed: { port: brokerPort, advertisedPort: relay.port },
  });
  await using redis = await startRedis();
  const topic = uniqueTopic("lost-ack");
  await using pylon = await startPylon({
    redis: { url: redis.url },
    args: ["--log", `kafka://${relay.address}/${topic}`, "--ack-log", "set"],
  });
  await using client = await RawClient.connect(pylon.port);
  const answers = new Map<string, string>();
  const set = async (key: string) => {
    await client.command("SET", key, "v");
    const reply = await client.read(60_000);
    answers.set(key, "value" in reply ? String(reply.value) : reply.type);
  };
  await set("before");
  const fired = relay.loseNextAnswer();
  const lost = set("answer-lost");
  await fired;
  // Longer than kafkajs's own retries: only Pylon's resending of the same batch can save it.
  await new Promise((resolve) => setTimeout(resolve, 12_000));
  relay.heal();
  await lost;
  for (let i = 0; i < 5; i++) await set(`after-${i}`);

  const acknowledged = [...answers].filter(([, a]) => a === "OK").map(([k]) => k);
  assert.ok(
    acknowledged.includes("before") && acknowledged.includes("after-4"),
    JSON.stringify([...answers]),
  );
  // An acknowledged op is in the log, so the applier reaches it: wait for each
  // key with a deadline (the lag in PYLON INFO may be up to 500 ms stale).
  const missing: string[] = [];
  await waitFor("every acknowledged key in Redis", async () => {
    missing.length = 0;
    for (const key of acknowledged) {
      if ((await redis.call("EXISTS", key)) !== "1") missing.push(key);
    }
    return missing.length === 0 ? true : undefined;
  }, { timeoutMs: 30_000 }).catch(() => undefined);
  assert.deepEqual(missing, [], `acknowledged but lost: ${missing.join(", ")}`);
  console.log(`answers: ${JSON.stringify(Object.fromEntries(answers))}`);
});
