import assert from "node:assert/strict";
import type { EachBatchPayload } from "kafkajs";
import { createKafka, kafkaSocketStats } from "../../src/log/kafka_client.ts";
import { ensureTopic } from "../../src/log/kafka_topic.ts";
import { uniqueTopic, useKafka, waitFor } from "../harness/mod.ts";

Deno.test("kafkajs produces idempotently with acks=-1 and reads back from a chosen offset", async () => {
  await using kafka = await useKafka();
  const topic = uniqueTopic("smoke");
  const client = createKafka(kafka.brokers, { clientId: "smoke" });
  const socketsBefore = kafkaSocketStats.opened;

  const admin = client.admin();
  await admin.connect();
  try {
    await ensureTopic(admin, { topic, partitions: 1 });
  } finally {
    await admin.disconnect();
  }

  const producer = client.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const offsets: string[] = [];
  try {
    for (let i = 0; i < 10; i++) {
      const [meta] = await producer.send({
        topic,
        acks: -1,
        messages: [{ key: "k", value: `op-${i}` }],
      });
      assert.equal(meta?.errorCode, 0);
      offsets.push(meta!.baseOffset!);
    }
  } finally {
    await producer.disconnect();
  }
  assert.deepEqual(
    offsets,
    ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
    "offsets are dense and ordered",
  );
  assert.ok(kafkaSocketStats.opened > socketsBefore, "sockets came from the no-delay factory");

  // Offsets live outside Kafka: no commits, and the reader seeks where it wants.
  const consumer = client.consumer({ groupId: uniqueTopic("smoke-reader"), maxWaitTimeInMs: 100 });
  const seen: string[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: ({ batch, resolveOffset }: EachBatchPayload) => {
        for (const message of batch.messages) {
          seen.push(`${message.offset}:${message.value?.toString()}`);
          resolveOffset(message.offset);
        }
        return Promise.resolve();
      },
    });
    consumer.seek({ topic, partition: 0, offset: "6" });
    await waitFor("the consumer to read offsets 6..9", () => seen.length >= 4 ? true : undefined, {
      timeoutMs: 20_000,
    });
  } finally {
    await consumer.disconnect();
  }
  assert.deepEqual(seen, ["6:op-6", "7:op-7", "8:op-8", "9:op-9"]);
});
