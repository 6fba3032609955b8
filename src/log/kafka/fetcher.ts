/**
 * Pylon's own Kafka fetch client for one partition: it finds the partition's
 * leader (Metadata v4) and fetches from it (Fetch v4), reconnecting and
 * re-asking for the leader after any failure. No consumer group: positions
 * live in the rack's Redis, so there is nothing to coordinate, no group to
 * join after a broker restart, and no rebalance to wait for.
 */

import { describe, type HostPort } from "../../net/address.ts";
import type { KafkaSecurity } from "../../config/types.ts";
import { KafkaConnection, KafkaConnectionError } from "./connection.ts";
import { authenticate } from "./sasl.ts";
import { decodeBatches, type FetchedRecord } from "./record_batch.ts";
import { KafkaWriter } from "./wire.ts";

const API_FETCH = 1;
const API_METADATA = 3;

/** Kafka error codes the fetcher tells apart. */
const OFFSET_OUT_OF_RANGE = 1;

/** A fetch Kafka refused with an error code. */
export class KafkaFetchError extends Error {
  override name = "KafkaFetchError";
  readonly code: number;

  constructor(message: string, code: number) {
    super(message);
    this.code = code;
  }
}

/** The offset asked for is not in the partition (below its start or past its end). */
export class OffsetOutOfRange extends KafkaFetchError {
  override name = "OffsetOutOfRange";
}

/** Options of {@linkcode PartitionFetcher}. */
export interface FetcherOptions {
  /** The topic and partition fetched. */
  topic: string;
  partition: number;
  clientId: string;
  /** TLS and SASL for every broker connection. */
  security?: KafkaSecurity;
  connectTimeoutMs?: number;
  /** Extra time a request may take beyond the fetch's own wait. */
  requestTimeoutMs?: number;
}

/** What one fetch returned. */
export interface FetchResult {
  records: FetchedRecord[];
  highWatermark: number;
}

/** Fetches one partition of one topic. */
export class PartitionFetcher {
  readonly topic: string;
  readonly partition: number;
  #bootstrap: HostPort[];
  #options: Required<Omit<FetcherOptions, "topic" | "partition">>;
  #leader: KafkaConnection | undefined;
  #nextBootstrap = 0;

  constructor(bootstrap: HostPort[], options: FetcherOptions) {
    const { topic, partition, ...rest } = options;
    this.#bootstrap = bootstrap;
    this.topic = topic;
    this.partition = partition;
    this.#options = { connectTimeoutMs: 3_000, requestTimeoutMs: 10_000, security: {}, ...rest };
  }

  /**
   * Fetches from `offset`, waiting up to `waitMs` for a first record. Throws
   * {@linkcode OffsetOutOfRange}, or a connection or Kafka error after which
   * the next call starts over with a fresh leader lookup.
   */
  async fetch(offset: number, bytesMax: number, waitMs: number): Promise<FetchResult> {
    const leader = await this.#connectLeader();
    const body = new KafkaWriter()
      .int32(-1) // replica id: a consumer
      .int32(waitMs)
      .int32(1) // min bytes
      .int32(bytesMax)
      .int8(0) // read uncommitted: the topic has no transactions
      .array([this.topic], (w, topic) => {
        w.string(topic).array([this.partition], (w2, partition) => {
          w2.int32(partition).int64(offset).int32(bytesMax);
        });
      })
      .finish();
    let r;
    try {
      r = await leader.request(API_FETCH, 4, body, waitMs + this.#options.requestTimeoutMs);
    } catch (error) {
      this.#drop();
      throw error;
    }
    r.int32(); // throttle time
    let result: FetchResult | undefined;
    let failure: KafkaFetchError | undefined;
    r.array((rt) => {
      rt.string();
      rt.array((rp) => {
        const partition = rp.int32();
        const code = rp.int16();
        const highWatermark = rp.int64();
        rp.int64(); // last stable offset
        rp.array((ra) => [ra.int64(), ra.int64()]); // aborted transactions
        const records = rp.bytes();
        if (partition !== this.partition) return;
        if (code === OFFSET_OUT_OF_RANGE) {
          failure = new OffsetOutOfRange(
            `offset ${offset} is outside partition ${partition} of '${this.topic}'`,
            code,
          );
        } else if (code !== 0) {
          failure = new KafkaFetchError(`Kafka answered the fetch with error code ${code}`, code);
        } else {
          result = {
            records: records === null ? [] : decodeBatches(records, offset),
            highWatermark,
          };
        }
      });
    });
    if (failure !== undefined) {
      // Not the leader any more, a leader election, a storage error: ask again for the leader.
      if (!(failure instanceof OffsetOutOfRange)) this.#drop();
      throw failure;
    }
    if (result === undefined) throw new KafkaFetchError("the fetch answered for no partition", -1);
    return result;
  }

  close(): void {
    this.#drop();
  }

  #drop(): void {
    this.#leader?.close();
    this.#leader = undefined;
  }

  /** The partition leader's connection, found through any bootstrap broker. */
  async #connectLeader(): Promise<KafkaConnection> {
    if (this.#leader !== undefined && !this.#leader.closed) return this.#leader;
    const address = await this.#findLeader();
    this.#leader = await this.#open(address);
    return this.#leader;
  }

  /** A connection to `address`, over TLS and authenticated as configured. */
  async #open(address: HostPort): Promise<KafkaConnection> {
    const { security, clientId, connectTimeoutMs, requestTimeoutMs } = this.#options;
    const connection = await KafkaConnection.connect(
      address,
      clientId,
      connectTimeoutMs,
      security.tls,
    );
    if (security.sasl !== undefined) {
      try {
        await authenticate(connection, security.sasl, requestTimeoutMs);
      } catch (error) {
        connection.close();
        throw error;
      }
    }
    return connection;
  }

  async #findLeader(): Promise<HostPort> {
    const errors: string[] = [];
    for (let i = 0; i < this.#bootstrap.length; i++) {
      const address = this.#bootstrap[this.#nextBootstrap++ % this.#bootstrap.length]!;
      let connection: KafkaConnection | undefined;
      try {
        connection = await this.#open(address);
        const body = new KafkaWriter()
          .array([this.topic], (w, t) => w.string(t))
          .int8(0) // do not create the topic
          .finish();
        const r = await connection.request(API_METADATA, 4, body, this.#options.requestTimeoutMs);
        r.int32(); // throttle time
        const brokers = new Map<number, HostPort>();
        r.array((rb) => {
          const id = rb.int32();
          const host = rb.string()!;
          const port = rb.int32();
          rb.string(); // rack
          brokers.set(id, { host, port });
        });
        r.string(); // cluster id
        r.int32(); // controller
        let leader: number | undefined;
        r.array((rt) => {
          rt.int16();
          rt.string();
          rt.int8(); // internal
          rt.array((rp) => {
            const code = rp.int16();
            const partition = rp.int32();
            const id = rp.int32();
            rp.array((x) => x.int32()); // replicas
            rp.array((x) => x.int32()); // in-sync replicas
            if (partition === this.partition && code === 0 && id >= 0) leader = id;
          });
        });
        const found = leader === undefined ? undefined : brokers.get(leader);
        if (found !== undefined) return found;
        errors.push(
          `${describe(address)} knows no leader of partition ${this.partition}`,
        );
      } catch (error) {
        errors.push((error as Error).message);
      } finally {
        connection?.close();
      }
    }
    throw new KafkaConnectionError(
      `no leader found for partition ${this.partition} of '${this.topic}': ${errors.join("; ")}`,
    );
  }
}
