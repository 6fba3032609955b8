/**
 * The one place Pylon builds kafkajs clients: sockets with Nagle's algorithm off
 * (kafkajs leaves it on, which stalls small produce requests by tens of
 * milliseconds) and kafkajs's own logs routed into Pylon's structured logs.
 */

import {
  type ISocketFactory,
  Kafka,
  type KafkaConfig,
  type logCreator,
  logLevel,
  type SASLOptions,
} from "kafkajs";
import type { KafkaSecurity } from "../config/types.ts";
import * as net from "node:net";
import * as tls from "node:tls";
import process from "node:process";
import { getLogger } from "@logtape/logtape";

const KEEP_ALIVE_DELAY_MS = 60_000;

// kafkajs's request queue arms its throttle check with a negative delay when
// it is not throttled; the timer fires at once as intended, but the runtime
// prints a TimeoutNegativeWarning each time. Drop that one warning only.
const printWarning = process.listeners("warning");
process.removeAllListeners("warning");
process.on("warning", (warning: Error) => {
  if (warning.name === "TimeoutNegativeWarning") return;
  for (const listener of printWarning) (listener as (w: Error) => void)(warning);
});

/** Counts sockets the factory opened; tests read it to prove the factory is used. */
export const kafkaSocketStats = { opened: 0 };

/** A kafkajs socket factory whose sockets send small requests without delay. */
export const noDelaySocketFactory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
  const socket = ssl
    ? tls.connect(
      { host, port, ...(net.isIP(host) ? {} : { servername: host }), ...ssl },
      onConnect,
    )
    : net.connect({ host, port }, onConnect);
  socket.setNoDelay(true);
  socket.setKeepAlive(true, KEEP_ALIVE_DELAY_MS);
  kafkaSocketStats.opened++;
  return socket;
};

const kafkaLogger = getLogger(["pylon", "kafka"]);

/**
 * kafkajs messages Pylon answers for itself: it resends the same batch until
 * its own deadline (so bounded kafkajs retries keep idempotence), and it
 * names partitions explicitly (so the default partitioner does not matter).
 */
const ANSWERED = [/^Limiting retries for the idempotent producer/, /switched default partitioner/];

/** The same kafkajs complaint is written at most once per this long; repeats go to debug. */
const REPEAT_QUIET_MS = 60_000;
const lastWritten = new Map<string, number>();

/**
 * Routes kafkajs log entries into the `pylon.kafka` log category. kafkajs
 * logs every failed retry as an error; during a broker outage that is a
 * flood, so each message is written once a minute and its repeats go to debug.
 */
const logtapeCreator: logCreator = () => ({ namespace, level, log }) => {
  const { message, ...properties } = log;
  if (ANSWERED.some((pattern) => pattern.test(message))) return;
  const props = { namespace, ...properties };
  if (level === logLevel.ERROR || level === logLevel.WARN) {
    const key = `${namespace}:${message}`;
    const now = performance.now();
    if (now - (lastWritten.get(key) ?? -Infinity) < REPEAT_QUIET_MS) {
      kafkaLogger.debug(message, props);
      return;
    }
    if (lastWritten.size > 1_000) lastWritten.clear();
    lastWritten.set(key, now);
    kafkaLogger.warn(message, props);
    return;
  }
  if (level === logLevel.INFO) kafkaLogger.info(message, props);
  else kafkaLogger.debug(message, props);
};

/** Options of {@linkcode createKafka}. */
export interface KafkaClientOptions {
  /** Client id sent to the brokers (shows in their logs and quotas). */
  clientId?: string;
  /** How long one request may take before kafkajs gives up on it. */
  requestTimeoutMs?: number;
  /** How long to wait for a TCP connection. */
  connectionTimeoutMs?: number;
  /** Retries of a failed request (kafkajs's own backoff). */
  retries?: number;
  /** TLS and SASL. */
  security?: KafkaSecurity;
}

/** Builds a kafkajs client for `brokers` (`host:port` strings). */
export function createKafka(brokers: string[], options: KafkaClientOptions = {}): Kafka {
  return new Kafka({
    brokers,
    clientId: options.clientId ?? "pylon",
    socketFactory: noDelaySocketFactory,
    logCreator: logtapeCreator,
    logLevel: logLevel.INFO,
    requestTimeout: options.requestTimeoutMs ?? 10_000,
    connectionTimeout: options.connectionTimeoutMs ?? 3_000,
    ...securityOptions(options.security),
    retry: { retries: options.retries ?? 5, initialRetryTime: 100, maxRetryTime: 2_000 },
  });
}

/** kafkajs's `ssl` and `sasl` options for Pylon's security settings. */
function securityOptions(security: KafkaSecurity | undefined): Pick<KafkaConfig, "ssl" | "sasl"> {
  const out: Pick<KafkaConfig, "ssl" | "sasl"> = {};
  if (security?.tls !== undefined) {
    const tlsOptions: tls.ConnectionOptions = {};
    if (security.tls.ca !== undefined) tlsOptions.ca = [security.tls.ca];
    if (security.tls.cert !== undefined) tlsOptions.cert = security.tls.cert;
    if (security.tls.key !== undefined) tlsOptions.key = security.tls.key;
    out.ssl = tlsOptions;
  }
  if (security?.sasl !== undefined) {
    const { mechanism, username, password } = security.sasl;
    out.sasl = { mechanism, username, password } as SASLOptions;
  }
  return out;
}
