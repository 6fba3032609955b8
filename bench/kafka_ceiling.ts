/**
 * The raw ceiling of a Kafka broker for Pylon's write path, run as its own
 * process (Pylon is one process too): one idempotent producer, `acks=-1`,
 * no-delay sockets, batches of a given size sent one after another (as
 * Pylon's group commit sends them). Prints JSON: records/s and the p50/p99
 * latency of a batch's acknowledgement.
 *
 * With `roundtrip` it is the fair anchor for Pylon on Kafka: the same process
 * also consumes what it produced, and a batch counts as answered when its
 * last record comes back — the least work any log-replicated write can do.
 *
 * With a rate after `roundtrip`, batches are sent at that many per second
 * (open loop), as `bench world` sends Pylon's writes.
 *
 * Usage: deno run -A bench/kafka_ceiling.ts <brokers> <topic> <batch size> <records> <record bytes> [roundtrip [rate]]
 */

import { Buffer } from "node:buffer";
import { createKafka } from "../src/log/kafka_client.ts";
import { ensureTopic } from "../src/log/kafka_topic.ts";

const [brokers, topic, batchText, totalText, bytesText] = Deno.args;
if (brokers === undefined || topic === undefined) {
  console.error("usage: kafka_ceiling.ts <brokers> <topic> <batch size> <records> <record bytes>");
  Deno.exit(2);
}
const batchSize = Math.max(1, Math.round(Number(batchText ?? 1)));
const total = Number(totalText ?? 100_000);
const recordBytes = Number(bytesText ?? 100);
const roundTrip = Deno.args[5] === "roundtrip";
const ratePerSec = Number(Deno.args[6] ?? 0);

const kafka = createKafka(brokers.split(","), { clientId: "ceiling" });
const admin = kafka.admin();
await admin.connect();
await ensureTopic(admin, { topic, partitions: 1 });
await admin.disconnect();
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
await producer.connect();

const value = Buffer.alloc(recordBytes, 7);
const messages = Array.from({ length: batchSize }, () => ({ partition: 0, value }));
// Warm up connections and the JIT like Pylon's earlier runs did.
for (let i = 0; i < 20; i++) await producer.send({ topic, acks: -1, messages });

/** Records of a batch still to come back, and when the batch was sent (round trip only). */
const sentAt: number[] = [];
const missing: number[] = [];
const latencies: number[] = [];
let answered = 0;
let allBack: (() => void) | undefined;
const consumer = roundTrip
  ? kafka.consumer({ groupId: `ceiling-${crypto.randomUUID()}`, maxWaitTimeInMs: 20, minBytes: 1 })
  : undefined;
if (consumer !== undefined) {
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: false });
  const joined = new Promise<void>((resolve) => {
    consumer.on(consumer.events.GROUP_JOIN, () => resolve());
  });
  await consumer.run({
    eachBatchAutoResolve: true,
    eachBatch: ({ batch }) => {
      const now = performance.now();
      for (const message of batch.messages) {
        const v = message.value;
        if (v === null || v.length < 4) continue;
        const index = v.readUInt32BE(0);
        if (index === 0xffffffff || missing[index] === undefined) continue;
        if (--missing[index]! === 0) {
          latencies.push(now - sentAt[index]!);
          if (++answered === Math.ceil(total / batchSize)) allBack?.();
        }
      }
      return Promise.resolve();
    },
  });
  await joined;
  // The consumer starts at the end: one marked batch proves it reads before timing starts.
  const marker = Buffer.alloc(recordBytes, 7);
  marker.writeUInt32BE(0xffffffff, 0);
  await producer.send({ topic, acks: -1, messages: [{ partition: 0, value: marker }] });
  await new Promise((resolve) => setTimeout(resolve, 2_000));
}

const started = performance.now();
const done = new Promise<void>((resolve) => {
  allBack = resolve;
});
let index = 0;
for (let sent = 0; sent < total; sent += batchSize, index++) {
  const t = performance.now();
  if (roundTrip) {
    const batch = Array.from({ length: batchSize }, () => {
      const own = Buffer.alloc(recordBytes, 7);
      own.writeUInt32BE(index, 0);
      return { partition: 0, value: own };
    });
    sentAt[index] = t;
    missing[index] = batchSize;
    await producer.send({ topic, acks: -1, messages: batch });
    if (ratePerSec > 0) {
      const wait = started + ((index + 1) * 1000) / ratePerSec - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  } else {
    await producer.send({ topic, acks: -1, messages });
    latencies.push(performance.now() - t);
  }
}
if (roundTrip) {
  await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 60_000))]);
}
const seconds = (performance.now() - started) / 1000;
await consumer?.disconnect();
await producer.disconnect();
latencies.sort((a, b) => a - b);
const at = (q: number) =>
  latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
console.log(JSON.stringify({
  opsPerSec: (latencies.length * batchSize) / seconds,
  p50Ms: at(0.5),
  p99Ms: at(0.99),
  batchSize,
}));
