/**
 * The node's Prometheus metrics (prom-client's registry and text format):
 * what is measured where it happens — latencies of reads, writes and apply
 * batches, refusals by reason. Values a node already counts (connections,
 * positions, peers, Raft) are read at scrape time (src/node_metrics.ts).
 */

import client from "prom-client";
import { LatencyHistogram, turnNow } from "./latency_histogram.ts";

export { turnNow };

/** Every series the node exposes on `/metrics`. */
export const registry = new client.Registry();

/** From 100 µs to 10 s: a read from the local Redis up to a write at its deadline. */
const LATENCY_BUCKETS = [
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

/** A read, from its request to its reply (served here or by a peer rack). */
export const readSeconds = new LatencyHistogram({
  name: "pylon_read_duration_seconds",
  help: "Reads from request to reply",
  buckets: LATENCY_BUCKETS,
}, registry);

/**
 * A write, from accepted to `logged` (the log holds it), to `applied` (its
 * rack applied it and its reply came back) and to `answered` (a reply sent:
 * `+OK` once logged for `--ack-log` commands, else the applied reply).
 */
export const writeSeconds = new LatencyHistogram({
  name: "pylon_write_duration_seconds",
  help: "Writes from accepted to logged, to applied and to answered",
  label: "stage",
  buckets: LATENCY_BUCKETS,
}, registry);

/** One apply batch: its MULTI/EXEC round trip to the rack's Redis. */
export const applyBatchSeconds = new LatencyHistogram({
  name: "pylon_apply_batch_duration_seconds",
  help: "Apply batches (one MULTI/EXEC on the rack's Redis)",
  buckets: LATENCY_BUCKETS,
}, registry);

/** Why Pylon itself refused a request or a connection. */
export type RefusalReason =
  | "noauth"
  | "noperm"
  | "unknown_command"
  | "arity"
  | "not_served"
  | "partition"
  | "crossslot"
  | "reserved_db"
  | "writes_in_flight"
  | "max_clients"
  | "max_subscribers"
  | "protected_mode"
  | "output_limit"
  | "memory_budget"
  | "protocol";

const refusals = new client.Counter({
  name: "pylon_refusals_total",
  help: "Requests and connections Pylon refused, by reason",
  labelNames: ["reason"] as const,
  registers: [registry],
});

/** Counts one refusal. */
export function refused(reason: RefusalReason): void {
  refusals.inc({ reason });
}

/** Seconds since `startMs` (on `performance.now()`'s clock). */
export function since(startMs: number): number {
  return (performance.now() - startMs) / 1000;
}

/** Seconds since `startMs`, a {@linkcode turnNow} reading, on the same per-turn clock. */
export function sinceTurn(startMs: number): number {
  return (turnNow() - startMs) / 1000;
}
