/**
 * The op log on Apache Kafka: one topic, created if missing with the
 * configured partitions. Appends go through an idempotent producer with
 * `acks=-1` (all in-sync replicas), one group commit per partition, so
 * concurrent writes share produce requests. Readers are Pylon's own fetch
 * client (src/log/kafka/): positions live outside Kafka (the applier stores
 * them in Redis), so no consumer group is needed.
 *
 * Kafka's idempotence is per (producer id, epoch, partition, sequence): a
 * batch whose outcome is unknown is retried as the same batch (the same
 * sequence, so a copy already written is recognised, not written twice) until
 * it is acknowledged or its delivery deadline passes. Only then are its ops
 * reported in doubt, and the producer is replaced (a new producer id) before
 * anything new is sent, so no new op can ever be taken for a duplicate of the
 * abandoned batch and silently dropped.
 */

import { Buffer } from "node:buffer";
import type { Admin, Kafka, Producer } from "kafkajs";
import { getLogger } from "@logtape/logtape";
import type { HostPort } from "../net/address.ts";
import type { KafkaSecurity } from "../config/types.ts";
import { createKafka } from "./kafka_client.ts";
import { ensureTopic } from "./kafka_topic.ts";
import { ignored } from "../observe/ignored.ts";
import { GroupCommit, type GroupCommitOptions } from "./group_commit.ts";
import { type LogBounds, LogError, type LogReader, type OpLog } from "./op_log.ts";
import { KafkaPartitionReader } from "./kafka/reader.ts";
import { Backoff, backoffSchedule } from "../backoff.ts";

const log = getLogger(["pylon", "log", "kafka"]);

/** Options of {@linkcode KafkaLog.open}. */
export interface KafkaLogOptions {
  partitions: number;
  /** Replication factor when creating the topic; -1 takes the broker default. */
  replicationFactor?: number;
  clientId?: string;
  groupCommit?: Partial<GroupCommitOptions>;
  /** How long a broker may take to acknowledge one produce request. */
  ackTimeoutMs?: number;
  /** How long a batch is retried (as the same batch) before its ops are reported in doubt. */
  deliveryTimeoutMs?: number;
  /** TLS and SASL. */
  security?: KafkaSecurity;
}

/**
 * Largest record the topic accepts. Kafka's broker default is about 1 MiB;
 * Pylon raises it on the topic it creates (a broker refuses requests over
 * `socket.request.max.bytes`, 100 MiB by default, so this stays below).
 */
export const KAFKA_RECORD_BYTES_MAX = 64 * 1024 * 1024;

const DEFAULT_GROUP_COMMIT: GroupCommitOptions = {
  batchRecordsMax: 1_000,
  batchBytesMax: 1024 * 1024,
  lingerMs: 0,
};

/** Delays between sends of one batch until it is acknowledged or its delivery deadline passes. */
const PRODUCE_RETRY = backoffSchedule("Kafka produce", [50, 100, 200, 400, 500]);
/** Delays between attempts to connect a replacement producer. */
const PRODUCER_INIT_RETRY = backoffSchedule("Kafka producer start", [100, 200, 400, 800, 1_000]);

/** Kafka errors after which this producer's state is unusable: a new producer id is needed. */
const PRODUCER_STATE_ERRORS = new Set([
  45, // OUT_OF_ORDER_SEQUENCE_NUMBER
  46, // DUPLICATE_SEQUENCE_NUMBER (a copy older than the broker remembers)
  47, // INVALID_PRODUCER_EPOCH
  59, // UNKNOWN_PRODUCER_ID
]);
/** Kafka errors that refuse a batch outright: it was not written. */
const REFUSED_ERRORS = new Set([
  10, // MESSAGE_TOO_LARGE
  18, // RECORD_LIST_TOO_LARGE
  87, // INVALID_RECORD
]);

/** The Kafka error code of a kafkajs error, if it carries one. */
function kafkaCode(error: unknown): number | undefined {
  for (let e = error as { code?: unknown; originalError?: unknown } | undefined; e;) {
    if (typeof e.code === "number") return e.code;
    e = e.originalError as typeof e;
  }
  return undefined;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** An {@linkcode OpLog} on a Kafka topic. */
export class KafkaLog implements OpLog {
  readonly id: string;
  readonly partitions: number;
  readonly topic: string;
  #kafka: Kafka;
  #admin: Admin;
  #brokers: HostPort[];
  #clientId: string;
  #security: KafkaSecurity;
  #producer: Producer;
  /** Settles once the current producer has its producer id. */
  #producerReady: Promise<void>;
  /** Bumped each time the producer is replaced: a batch of an older one is in doubt. */
  #producerGeneration = 0;
  #commits: GroupCommit[];
  #ackTimeoutMs: number;
  #deliveryTimeoutMs: number;
  #readers = new Set<KafkaPartitionReader>();
  #closed = false;

  private constructor(
    clients: { kafka: Kafka; admin: Admin; producer: Producer },
    options: KafkaLogOptions & { topic: string; clusterId: string; brokers: HostPort[] },
  ) {
    const { topic } = options;
    this.id = `kafka:${options.clusterId}/${topic}`;
    this.#kafka = clients.kafka;
    this.#admin = clients.admin;
    this.#producer = clients.producer;
    this.#producerReady = Promise.resolve();
    this.#brokers = options.brokers;
    this.#clientId = options.clientId ?? "pylon";
    this.#security = options.security ?? {};
    this.topic = topic;
    this.partitions = options.partitions;
    this.#ackTimeoutMs = options.ackTimeoutMs ?? 5_000;
    this.#deliveryTimeoutMs = options.deliveryTimeoutMs ?? 20_000;
    const groupCommit = { ...DEFAULT_GROUP_COMMIT, ...options.groupCommit };
    this.#commits = Array.from(
      { length: options.partitions },
      (_, partition) =>
        new GroupCommit((records) => this.#produce(partition, records), groupCommit),
    );
  }

  /** Connects, creates the topic if missing (checking its partition count) and readies the producer. */
  static async open(
    brokers: HostPort[],
    topic: string,
    options: KafkaLogOptions,
  ): Promise<KafkaLog> {
    const kafka = createKafka(brokers.map((b) => `${b.host}:${b.port}`), {
      clientId: options.clientId ?? "pylon",
      requestTimeoutMs: 10_000,
      retries: 5,
      ...(options.security === undefined ? {} : { security: options.security }),
    });
    const admin = kafka.admin();
    await admin.connect();
    try {
      await ensureTopic(admin, {
        topic,
        partitions: options.partitions,
        replicationFactor: options.replicationFactor ?? -1,
        // Room for the record's own framing on top of the largest op.
        config: { "max.message.bytes": String(KAFKA_RECORD_BYTES_MAX + 64 * 1024) },
      });
      const producer = newProducer(kafka);
      await producer.connect();
      const { clusterId } = await admin.describeCluster();
      return new KafkaLog({ kafka, admin, producer }, { ...options, topic, clusterId, brokers });
    } catch (error) {
      await admin.disconnect();
      throw error;
    }
  }

  get batches(): number {
    return this.#commits.reduce((sum, c) => sum + c.batches, 0);
  }

  append(partition: number, record: Uint8Array, deadlineMs?: number): Promise<number> {
    const commit = this.#commits[partition];
    if (commit === undefined) {
      return Promise.reject(
        new LogError(`No partition ${partition} (the log has ${this.partitions})`, false),
      );
    }
    return commit.append(record, deadlineMs);
  }

  /**
   * Writes one batch: the same batch, again and again (kafkajs keeps the
   * batch's sequence when a send fails), until Kafka acknowledges it or the
   * delivery deadline passes; then its ops are in doubt and the producer is
   * replaced.
   */
  async #produce(partition: number, records: Uint8Array[]): Promise<number> {
    await this.#producerReady;
    const generation = this.#producerGeneration;
    const producer = this.#producer;
    const messages = records.map((value) => ({ partition, value: asBuffer(value) }));
    const deadline = performance.now() + this.#deliveryTimeoutMs;
    let failure: unknown;
    const backoff = new Backoff(PRODUCE_RETRY);
    while (generation === this.#producerGeneration && !this.#closed) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        const sent = await Promise.race([
          producer.send({ topic: this.topic, acks: -1, timeout: this.#ackTimeoutMs, messages }),
          new Promise<"deadline">((resolve) => timer = setTimeout(() => resolve("deadline"), left)),
        ]);
        if (sent === "deadline") {
          failure = new Error(`no acknowledgement within ${this.#deliveryTimeoutMs} ms`);
          break;
        }
        const [meta] = sent;
        if (meta !== undefined && meta.baseOffset !== undefined && meta.errorCode === 0) {
          return Number(meta.baseOffset);
        }
        failure = new Error(`Kafka answered the produce with error code ${meta?.errorCode}`);
      } catch (error) {
        failure = error;
        const code = kafkaCode(error);
        if (code !== undefined && REFUSED_ERRORS.has(code)) {
          throw new LogError(`Kafka refused the write: ${(error as Error).message}`, false);
        }
        if (code !== undefined && PRODUCER_STATE_ERRORS.has(code)) break;
      } finally {
        clearTimeout(timer);
      }
      ignored("kafka_produce_retry", failure);
      await new Promise((resolve) => setTimeout(resolve, backoff.next()!));
    }
    // In doubt: whatever becomes of this batch, nothing new goes out under its producer id.
    if (generation === this.#producerGeneration) this.#replaceProducer(failure);
    throw new LogError(
      `Kafka did not acknowledge the write: ${(failure as Error)?.message ?? String(failure)}`,
      true,
    );
  }

  /** A new producer (a new producer id); the old one is abandoned with its batch in flight. */
  #replaceProducer(why: unknown): void {
    this.#producerGeneration++;
    const old = this.#producer;
    const producer = newProducer(this.#kafka);
    this.#producer = producer;
    log.warning("replacing the Kafka producer after a batch in doubt ({why})", {
      why: (why as Error)?.message ?? String(why),
    });
    void old.disconnect().catch((error) => ignored("kafka_producer_close", error));
    this.#producerReady = (async () => {
      const backoff = new Backoff(PRODUCER_INIT_RETRY);
      while (!this.#closed) {
        try {
          await producer.connect();
          return;
        } catch (error) {
          ignored("kafka_producer_init", error);
          await new Promise((resolve) => setTimeout(resolve, backoff.next()!));
        }
      }
    })();
  }

  reader(partition: number, offset: number): LogReader {
    const reader = new KafkaPartitionReader(this.#brokers, {
      topic: this.topic,
      partition,
      offset,
      clientId: this.#clientId,
      bounds: () => this.bounds(partition),
      security: this.#security,
    });
    this.#readers.add(reader);
    const close = reader.close.bind(reader);
    reader.close = async () => {
      this.#readers.delete(reader);
      await close();
    };
    return reader;
  }

  async bounds(partition: number): Promise<LogBounds> {
    const offsets = await this.#fetchOffsets();
    const entry = offsets.find((o) => o.partition === partition);
    if (entry === undefined) {
      throw new LogError(`No partition ${partition} in topic '${this.topic}'`, false);
    }
    return { start: Number(entry.low), end: Number(entry.high) };
  }

  /**
   * The topic's offsets. Right after a topic is created (or its leader moves)
   * a broker may still answer "not the leader" for a moment: retried for up
   * to two seconds.
   */
  async #fetchOffsets(): Promise<{ partition: number; low: string; high: string }[]> {
    const deadline = performance.now() + 2_000;
    while (true) {
      try {
        return await this.#admin.fetchTopicOffsets(this.topic);
      } catch (error) {
        const retriable = (error as { retriable?: boolean }).retriable === true;
        if (!retriable || performance.now() >= deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#commits.map((c) => c.close()));
    await Promise.all([...this.#readers].map((r) => r.close()));
    await this.#producer.disconnect();
    await this.#admin.disconnect();
  }
}

/**
 * An idempotent producer. Its own retries are few and quick; the loop around
 * each send in {@linkcode KafkaLog} resends the same batch until the delivery
 * deadline, so no send outlives the batch it carries.
 */
function newProducer(kafka: Kafka): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 500 },
  });
}
