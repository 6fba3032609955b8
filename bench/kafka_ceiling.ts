/**
 * The raw ceiling of a Kafka broker for Pylon's write path, run as its own
 * process (Pylon is one process too): one idempotent producer, `acks=-1`,
 * no-delay sockets, batches of a given size sent one after another (as
 * Pylon's group commit sends them). Prints JSON: records/s and the p50/p99
 * latency of a batch's acknowledgement.
 *
 * Usage: deno run -A bench/kafka_ceiling.ts <brokers> <topic> <batch size> <records> <record bytes>
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

const latencies: number[] = [];
const started = performance.now();
for (let sent = 0; sent < total; sent += batchSize) {
  const t = performance.now();
  await producer.send({ topic, acks: -1, messages });
  latencies.push(performance.now() - t);
}
const seconds = (performance.now() - started) / 1000;
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
