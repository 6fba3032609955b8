/**
 * The op log on Apache Kafka: one topic, created if missing with the
 * configured partitions. Appends go through an idempotent producer with
 * `acks=-1` (all in-sync replicas), one group commit per partition, so
 * concurrent writes share produce requests. Readers are kafkajs consumers
 * whose positions live outside Kafka (the applier stores them in Redis): a
 * group id of their own, no commits, `seek()` to where they must start.
 */

import { Buffer } from "node:buffer";
import type { Admin, Consumer, EachBatchPayload, Kafka, Producer } from "kafkajs";
import { getLogger } from "@logtape/logtape";
import { ulid } from "ulid";
import type { HostPort } from "../config.ts";
import { createKafka } from "./kafka_client.ts";
import { ensureTopic } from "./kafka_topic.ts";
import { GroupCommit, type GroupCommitOptions } from "./group_commit.ts";
import {
  type LogBounds,
  LogError,
  type LogReader,
  type LogRecord,
  type OpLog,
  type ReadLimits,
} from "./op_log.ts";

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
}

/**
 * Largest record the topic accepts. Kafka's broker default is about 1 MiB;
 * Pylon raises it on the topic it creates (a broker refuses requests over
 * `socket.request.max.bytes`, 100 MiB by default, so this stays below).
 */
export const KAFKA_MAX_RECORD_BYTES = 64 * 1024 * 1024;

const DEFAULT_GROUP_COMMIT: GroupCommitOptions = {
  maxBatchRecords: 1_000,
  maxBatchBytes: 1024 * 1024,
  lingerMs: 0,
};

/** Messages a reader holds ahead of the applier before it stops fetching. */
const READ_AHEAD_RECORDS = 10_000;

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
  #producer: Producer;
  #commits: GroupCommit[];
  #ackTimeoutMs: number;
  #readers = new Set<KafkaReader>();

  private constructor(
    kafka: Kafka,
    admin: Admin,
    producer: Producer,
    topic: string,
    options: KafkaLogOptions & { clusterId: string },
  ) {
    this.id = `kafka:${options.clusterId}/${topic}`;
    this.#kafka = kafka;
    this.#admin = admin;
    this.#producer = producer;
    this.topic = topic;
    this.partitions = options.partitions;
    this.#ackTimeoutMs = options.ackTimeoutMs ?? 5_000;
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
    });
    const admin = kafka.admin();
    await admin.connect();
    try {
      await ensureTopic(admin, {
        topic,
        partitions: options.partitions,
        replicationFactor: options.replicationFactor ?? -1,
        // Room for the record's own framing on top of the largest op.
        config: { "max.message.bytes": String(KAFKA_MAX_RECORD_BYTES + 64 * 1024) },
      });
      const producer = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
      });
      await producer.connect();
      const { clusterId } = await admin.describeCluster();
      return new KafkaLog(kafka, admin, producer, topic, { ...options, clusterId });
    } catch (error) {
      await admin.disconnect();
      throw error;
    }
  }

  get batches(): number {
    return this.#commits.reduce((sum, c) => sum + c.batches, 0);
  }

  append(partition: number, record: Uint8Array): Promise<number> {
    const commit = this.#commits[partition];
    if (commit === undefined) {
      return Promise.reject(
        new LogError(`No partition ${partition} (the log has ${this.partitions})`, false),
      );
    }
    return commit.append(record);
  }

  async #produce(partition: number, records: Uint8Array[]): Promise<number> {
    try {
      const [meta] = await this.#producer.send({
        topic: this.topic,
        acks: -1,
        timeout: this.#ackTimeoutMs,
        messages: records.map((value) => ({ partition, value: asBuffer(value) })),
      });
      if (meta === undefined || meta.baseOffset === undefined || meta.errorCode !== 0) {
        throw new LogError(`Kafka answered the produce with error code ${meta?.errorCode}`, true);
      }
      return Number(meta.baseOffset);
    } catch (error) {
      if (error instanceof LogError) throw error;
      // Sent or not, a failed send may still land: the caller must treat it as unknown.
      throw new LogError(`Kafka did not acknowledge the write: ${(error as Error).message}`, true);
    }
  }

  reader(partition: number, offset: number): LogReader {
    const reader = new KafkaReader(
      this.#kafka,
      this.topic,
      partition,
      offset,
      () => this.bounds(partition),
      (r) => this.#readers.delete(r),
    );
    this.#readers.add(reader);
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
    await Promise.all(this.#commits.map((c) => c.close()));
    await Promise.all([...this.#readers].map((r) => r.close()));
    await this.#producer.disconnect();
    await this.#admin.disconnect();
  }
}

/**
 * Reads one partition from a position. The consumer pushes batches; they wait
 * in a bounded buffer (fetching pauses when it is full) until `next()` takes
 * them. Only the record at exactly the expected offset is accepted: the topic
 * has no transactions or compaction, so offsets are dense, and anything else
 * is a stale batch from before a seek.
 */
class KafkaReader implements LogReader {
  #consumer: Consumer;
  #topic: string;
  #partition: number;
  #next: number;
  #buffer: LogRecord[] = [];
  #waiters: (() => void)[] = [];
  #spaceWaiters: (() => void)[] = [];
  #started: Promise<void>;
  #closed = false;
  #onClose: (r: KafkaReader) => void;
  #bounds: () => Promise<LogBounds>;
  /** Whether the position was checked against the log's bounds since the last seek. */
  #checked = false;

  constructor(
    kafka: Kafka,
    topic: string,
    partition: number,
    offset: number,
    bounds: () => Promise<LogBounds>,
    onClose: (r: KafkaReader) => void,
  ) {
    this.#topic = topic;
    this.#partition = partition;
    this.#next = offset;
    this.#bounds = bounds;
    this.#onClose = onClose;
    // A group of its own: no rebalances with other readers, no committed offsets.
    this.#consumer = kafka.consumer({
      groupId: `pylon-reader-${ulid()}`,
      maxWaitTimeInMs: 100,
      minBytes: 1,
      // The largest record must fit one fetch.
      maxBytesPerPartition: KAFKA_MAX_RECORD_BYTES + 1024 * 1024,
      maxBytes: 2 * (KAFKA_MAX_RECORD_BYTES + 1024 * 1024),
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      retry: { retries: 10 },
    });
    this.#consumer.on(this.#consumer.events.CRASH, (event) => {
      log.warning("reader of partition {partition} crashed: {error}", {
        partition,
        error: String(event.payload.error),
      });
    });
    this.#started = this.#start();
  }

  async #start(): Promise<void> {
    await this.#consumer.connect();
    await this.#consumer.subscribe({ topic: this.#topic, fromBeginning: true });
    await this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.#take(payload),
    });
    this.#consumer.seek({
      topic: this.#topic,
      partition: this.#partition,
      offset: String(this.#next),
    });
    // Only this reader's partition is wanted.
    const others = [];
    for (let p = 0; p < 1024; p++) if (p !== this.#partition) others.push(p);
    this.#consumer.pause([{ topic: this.#topic, partitions: others }]);
  }

  async #take(
    { batch, heartbeat, isRunning, isStale, resolveOffset }: EachBatchPayload,
  ): Promise<void> {
    if (batch.partition !== this.#partition) return;
    for (const message of batch.messages) {
      if (!isRunning() || isStale() || this.#closed) return;
      const offset = Number(message.offset);
      const expected = this.#next + this.#buffer.length;
      // Below what we hold: already taken. Resolving moves kafkajs's fetch position on.
      if (offset < expected) resolveOffset(message.offset);
      if (offset !== expected || message.value === null) continue;
      while (this.#buffer.length >= READ_AHEAD_RECORDS && !this.#closed) {
        await new Promise<void>((resolve) => {
          this.#spaceWaiters.push(resolve);
          setTimeout(resolve, 1_000);
        });
        await heartbeat();
        if (isStale()) return;
      }
      const value = message.value;
      this.#buffer.push({
        offset,
        value: new Uint8Array(value.buffer, value.byteOffset, value.byteLength),
      });
      // Without this kafkajs would fetch (and decode) the same records again and again.
      resolveOffset(message.offset);
      for (const wake of this.#waiters.splice(0)) wake();
    }
  }

  async next(limits: ReadLimits): Promise<LogRecord[]> {
    await this.#started;
    if (!this.#checked) {
      const { start, end } = await this.#bounds();
      if (this.#next < start || this.#next > end) {
        throw new LogError(
          `Offset ${this.#next} of partition ${this.#partition} is outside the log (${start} to ${end})`,
          false,
        );
      }
      this.#checked = true;
    }
    if (this.#buffer.length === 0 && !this.#closed) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, limits.waitMs);
      });
      clearTimeout(timer);
    }
    const out: LogRecord[] = [];
    let bytes = 0;
    while (out.length < limits.maxRecords && this.#buffer.length > 0) {
      const record = this.#buffer[0]!;
      if (out.length > 0 && bytes + record.value.length > limits.maxBytes) break;
      out.push(this.#buffer.shift()!);
      bytes += record.value.length;
    }
    this.#next += out.length;
    if (out.length > 0) { for (const wake of this.#spaceWaiters.splice(0)) wake(); }
    return out;
  }

  seek(offset: number): void {
    this.#next = offset;
    this.#checked = false;
    this.#buffer = [];
    for (const wake of this.#spaceWaiters.splice(0)) wake();
    void this.#started.then(() => {
      if (!this.#closed) {
        this.#consumer.seek({
          topic: this.#topic,
          partition: this.#partition,
          offset: String(offset),
        });
      }
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const wake of [...this.#waiters.splice(0), ...this.#spaceWaiters.splice(0)]) wake();
    await this.#started.catch(() => {});
    await this.#consumer.disconnect();
    this.#onClose(this);
  }
}
