/** The OpLog contract against Kafka: the suite's shared broker, a fresh topic per test. */

import { KafkaLog } from "../../src/log/kafka_log.ts";
import { uniqueTopic, useKafka } from "../harness/mod.ts";
import { opLogContract } from "./contract.ts";

opLogContract("KafkaLog", async () => {
  const kafka = await useKafka();
  const [host, port] = kafka.brokers[0]!.split(":");
  const log = await KafkaLog.open([{ host: host!, port: Number(port) }], uniqueTopic("contract"), {
    partitions: 2,
    clientId: "contract",
  });
  let closed = false;
  return {
    log,
    async [Symbol.asyncDispose]() {
      if (!closed) {
        closed = true;
        await log.close().catch(() => {});
      }
      await kafka[Symbol.asyncDispose]();
    },
  };
}, { sanitize: false, deadlineScale: 2 });
