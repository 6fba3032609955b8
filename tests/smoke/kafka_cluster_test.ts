import assert from "node:assert/strict";
import { createKafka } from "../../src/log/kafka_client.ts";
import { ensureTopic } from "../../src/log/kafka_topic.ts";
import { startKafka, uniqueTopic } from "../harness/mod.ts";

Deno.test("an acks=-1 produce to three brokers succeeds after the partition leader is killed", async () => {
  await using cluster = await startKafka({ nodes: 3 });
  const topic = uniqueTopic("smoke-ha");
  const client = createKafka(cluster.brokers, {
    clientId: "smoke-ha",
    requestTimeoutMs: 5_000,
    retries: 10,
  });

  const admin = client.admin();
  await admin.connect();
  const producer = client.producer({ idempotent: true, maxInFlightRequests: 1 });
  try {
    await ensureTopic(admin, {
      topic,
      partitions: 1,
      replicationFactor: 3,
      config: { "min.insync.replicas": "2" },
    });
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ value: "before" }] });

    const [partition] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions;
    const leader = partition!.leader;
    assert.equal(partition!.replicas.length, 3);
    await cluster.kill(leader);

    // kafkajs retries until the controller fences the dead broker and elects a new leader.
    const [meta] = await producer.send({ topic, acks: -1, messages: [{ value: "after" }] });
    assert.equal(meta?.errorCode, 0);
    assert.equal(meta?.baseOffset, "1", "the second record follows the first");

    const [moved] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions;
    assert.notEqual(moved!.leader, leader, "leadership moved off the killed broker");
    const offsets = await admin.fetchTopicOffsets(topic);
    assert.equal(offsets[0]?.high, "2", "both acknowledged records are in the log");
  } finally {
    await producer.disconnect();
    await admin.disconnect();
  }
});
