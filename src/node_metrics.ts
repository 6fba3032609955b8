/**
 * `/metrics` and readiness from what a running node already counts (the same
 * snapshot `PYLON INFO` renders), set on the registry of src/observe/metrics.ts
 * at each scrape, beside the latencies measured where they happen.
 */

import client from "prom-client";
import { registry } from "./observe/metrics.ts";
import type { NodeSnapshot } from "./node_info.ts";

/** A counter whose value is a total the node keeps (set at scrape, never decreasing). */
function total<L extends string>(name: string, help: string, labelNames: readonly L[] = []) {
  const counter = new client.Counter({ name, help, labelNames, registers: [registry] });
  return (value: number, labels: Partial<Record<L, string>> = {}) => {
    counter.remove(labels as Record<L, string>);
    counter.inc(labels as Record<L, string>, value);
  };
}

function gauge<L extends string>(name: string, help: string, labelNames: readonly L[] = []) {
  const g = new client.Gauge({ name, help, labelNames, registers: [registry] });
  return {
    set: (value: number, labels: Partial<Record<L, string>> = {}) =>
      g.set(labels as Record<L, string>, value),
    reset: () => g.reset(),
  };
}

const m = {
  ready: gauge("pylon_ready", "1 when the node serves reads and its rack applies"),
  starting: gauge("pylon_starting", "1 while the node waits for its Redis or its log at start"),
  servesReads: gauge("pylon_serves_reads", "1 when this rack serves reads"),
  applies: gauge("pylon_applies", "1 when this rack applies the log"),
  draining: gauge("pylon_draining", "1 while the node drains before stopping"),
  upstreamHealthy: gauge("pylon_redis_up", "1 when the rack's Redis answers"),
  connectedClients: gauge("pylon_connected_clients", "Client connections open"),
  clientBufferBytes: gauge("pylon_client_buffer_bytes", "Bytes clients make the node hold"),
  connections: total("pylon_connections_received_total", "Client connections accepted"),
  commands: total("pylon_commands_total", "Requests handled"),
  writes: total("pylon_writes_total", "Writes by outcome", ["outcome"] as const),
  writesWaiting: gauge("pylon_writes_waiting", "Writes waiting for their reply"),
  logBatches: total("pylon_log_batches_total", "Writes to the log (group commits)"),
  forwarded: total("pylon_forwarded_total", "Requests served by a peer rack", ["kind"] as const),
  readsWaited: total("pylon_reads_waited_total", "Reads that waited for their writes to apply"),
  strong: total("pylon_strong_total", "Strong (linearizable) requests", ["kind"] as const),
  strongWait: total(
    "pylon_strong_wait_seconds_total",
    "Time strong requests waited: reads for the log's end, writes for their quorum",
    ["kind"] as const,
  ),
  quorumFailures: total(
    "pylon_strong_quorum_failures_total",
    "Strong writes answered with an error: too few racks confirmed them in time",
  ),
  position: gauge("pylon_applied_position", "Next offset to apply", ["partition"] as const),
  logEnd: gauge("pylon_log_end", "The log's end offset", ["partition"] as const),
  logStart: gauge(
    "pylon_log_start",
    "The first offset the log still holds",
    ["partition"] as const,
  ),
  logBytes: gauge("pylon_log_bytes", "Bytes the embedded log holds", ["partition"] as const),
  logFreed: total(
    "pylon_log_retention_freed_bytes_total",
    "Bytes the embedded log's retention removed",
  ),
  lagOps: gauge("pylon_apply_lag_ops", "Ops in the log not applied here", ["partition"] as const),
  lagSeconds: gauge(
    "pylon_apply_lag_seconds",
    "Age of the last applied op while ops wait (0 when caught up)",
    ["partition"] as const,
  ),
  appliedOps: total("pylon_applied_ops_total", "Ops applied by this node", ["partition"] as const),
  applyBatches: total("pylon_apply_batches_total", "Apply batches", ["partition"] as const),
  paused: gauge("pylon_applier_paused", "1 while Redis refuses writes", ["partition"] as const),
  halted: gauge(
    "pylon_applier_halted",
    "1 while this rack is halted: its data may differ from the other racks'",
    ["partition"] as const,
  ),
  peerUp: gauge("pylon_peer_up", "1 when the link to a peer is up", ["peer", "rack"] as const),
  peerRtt: gauge("pylon_peer_rtt_seconds", "Last round trip to a peer", ["peer"] as const),
  peerServesReads: gauge(
    "pylon_peer_serves_reads",
    "1 when a peer's rack serves reads",
    [
      "peer",
    ] as const,
  ),
  diverged: gauge(
    "pylon_diverged",
    "1 while this rack is stopped because it diverged from the world",
  ),
  rackDiverged: gauge(
    "pylon_rack_diverged",
    "1 for each other rack this node found diverged",
    ["rack"] as const,
  ),
  divergenceChecks: total(
    "pylon_divergence_checks_total",
    "What the divergence checks compared with other racks: outcome windows and last ops, data keys",
    ["kind"] as const,
  ),
  rebuildPhase: gauge(
    "pylon_rebuild_phase",
    "1 for the phase this rack's rebuild is in (idle, needed, snapshot, transfer, load, catch-up, done, failed)",
    ["phase"] as const,
  ),
  rebuildBytes: gauge(
    "pylon_rebuild_bytes",
    "Snapshot bytes received by the current or last rebuild",
  ),
  rebuildKeys: gauge("pylon_rebuild_keys", "Keys loaded by the current or last rebuild"),
  rebuildRate: gauge(
    "pylon_rebuild_bytes_per_second",
    "Snapshot bytes received per second, recently",
  ),
  rebuildLeft: gauge(
    "pylon_rebuild_seconds_left",
    "Seconds the transfer still needs at its rate (-1: unknown)",
  ),
  rebuilds: total("pylon_rebuilds_total", "Rebuild attempts by outcome", ["outcome"] as const),
  snapshots: total(
    "pylon_snapshots_served_total",
    "Snapshots this node served to other racks' rebuilds, by outcome",
    ["outcome"] as const,
  ),
  snapshotBytes: total("pylon_snapshot_bytes_sent_total", "Snapshot bytes sent to other racks"),
  raftTerm: gauge("pylon_raft_term", "Raft term", ["group"] as const),
  raftCommit: gauge("pylon_raft_commit", "Raft commit index", ["group"] as const),
  raftRole: gauge("pylon_raft_role", "1 for this node's Raft role", ["group", "role"] as const),
};

/** Whether the node should receive traffic: it serves reads, its rack applies, it is not draining. */
export function ready(s: NodeSnapshot, draining: boolean): boolean {
  return !draining && s.servesReads;
}

/** The Prometheus text of `/metrics` while the node still waits for its services. */
export async function renderStartingMetrics(): Promise<string> {
  m.starting.set(1);
  m.ready.set(0);
  return await registry.metrics();
}

/** The Prometheus text of `/metrics`, with the snapshot's values set first. */
export async function renderMetrics(s: NodeSnapshot, draining: boolean): Promise<string> {
  m.starting.set(0);
  m.ready.set(ready(s, draining) ? 1 : 0);
  m.servesReads.set(s.servesReads ? 1 : 0);
  m.applies.set(s.applies ? 1 : 0);
  m.draining.set(draining ? 1 : 0);
  m.upstreamHealthy.set(s.upstream.healthy ? 1 : 0);
  m.connectedClients.set(s.gateway.connectedClients);
  m.clientBufferBytes.set(s.gateway.clientBufferBytes);
  m.connections(s.gateway.totalConnections);
  m.commands(s.gateway.totalCommands);
  m.writes(s.writes.accepted, { outcome: "accepted" });
  m.writes(s.writes.acknowledged, { outcome: "answered" });
  m.writes(s.writes.refused, { outcome: "refused" });
  m.writes(s.writes.failed, { outcome: "failed" });
  m.writes(s.writes.timedOut, { outcome: "timed_out" });
  m.writesWaiting.set(s.writes.waiting);
  m.logBatches(s.writes.logBatches);
  m.forwarded(s.routing.readsForwarded, { kind: "read" });
  m.forwarded(s.routing.writesForwarded, { kind: "write" });
  m.readsWaited(s.routing.readsWaited);
  if (s.strong !== undefined) {
    m.strong(s.strong.reads, { kind: "read" });
    m.strong(s.strong.writes, { kind: "write" });
    m.strong(s.strong.waits, { kind: "wait" });
    m.strongWait(s.strong.readWaitMs / 1000, { kind: "read" });
    m.strongWait(s.strong.writeWaitMs / 1000, { kind: "write" });
    m.quorumFailures(s.strong.quorumFailures);
  }
  for (
    const g of [
      m.position,
      m.logEnd,
      m.lagOps,
      m.lagSeconds,
      m.paused,
      m.halted,
      m.logStart,
      m.logBytes,
    ]
  ) {
    g.reset();
  }
  s.logEnds.forEach((bounds, p) => {
    if (bounds !== undefined) m.logStart.set(bounds.start, { partition: String(p) });
  });
  s.logBytes?.forEach((bytes, p) => m.logBytes.set(bytes, { partition: String(p) }));
  if (s.logFreedBytes !== undefined) m.logFreed(s.logFreedBytes);
  for (const p of s.applier ?? []) {
    const partition = String(p.partition);
    const end = s.logEnds[p.partition]?.end;
    if (p.position !== undefined) m.position.set(p.position, { partition });
    if (end !== undefined) m.logEnd.set(end, { partition });
    if (end !== undefined && p.position !== undefined) {
      const behind = Math.max(0, end - p.position);
      m.lagOps.set(behind, { partition });
      const age = behind > 0 && p.lastAcceptedAtMs !== undefined
        ? (Date.now() - p.lastAcceptedAtMs) / 1000
        : 0;
      m.lagSeconds.set(age, { partition });
    }
    m.appliedOps(p.appliedOps, { partition });
    m.applyBatches(p.batches, { partition });
    m.paused.set(p.state === "paused" ? 1 : 0, { partition });
    m.halted.set(p.state === "halted" ? 1 : 0, { partition });
  }
  for (const g of [m.peerUp, m.peerRtt, m.peerServesReads]) g.reset();
  for (const peer of s.peers) {
    m.peerUp.set(peer.up ? 1 : 0, { peer: peer.id, rack: peer.rack });
    if (peer.rttMs !== undefined) m.peerRtt.set(peer.rttMs / 1000, { peer: peer.id });
    m.peerServesReads.set(peer.servesReads ? 1 : 0, { peer: peer.id });
  }
  m.rackDiverged.reset();
  if (s.divergence !== undefined) {
    const d = s.divergence;
    m.diverged.set(d.diverged === undefined ? 0 : 1);
    for (const [rack] of d.peersDiverged) m.rackDiverged.set(1, { rack });
    m.divergenceChecks(d.outcomeWindowsCompared, { kind: "outcome_window" });
    m.divergenceChecks(d.outcomeWindowsSkipped, { kind: "outcome_window_skipped" });
    m.divergenceChecks(d.outcomePointsCompared, { kind: "outcome_point" });
    m.divergenceChecks(d.dataKeysCompared, { kind: "data_key" });
    m.divergenceChecks(d.dataRoundsRetried, { kind: "data_round_retried" });
  }
  if (s.rebuild !== undefined) {
    const r = s.rebuild;
    m.rebuildPhase.reset();
    m.rebuildPhase.set(1, { phase: r.phase });
    m.rebuildBytes.set(r.bytes);
    m.rebuildKeys.set(r.keys);
    m.rebuildRate.set(r.bytesPerSecond);
    m.rebuildLeft.set(r.secondsLeft ?? -1);
    m.rebuilds(r.completed, { outcome: "completed" });
    m.rebuilds(r.failed, { outcome: "failed" });
  }
  if (s.snapshots !== undefined) {
    m.snapshots(s.snapshots.served, { outcome: "served" });
    m.snapshots(s.snapshots.failed, { outcome: "failed" });
    m.snapshots(s.snapshots.refused, { outcome: "refused" });
    m.snapshotBytes(s.snapshots.bytesSent);
  }
  for (const g of [m.raftTerm, m.raftCommit, m.raftRole]) g.reset();
  for (const group of s.raft) {
    m.raftTerm.set(group.term, { group: group.group });
    m.raftCommit.set(group.commit, { group: group.group });
    m.raftRole.set(1, { group: group.group, role: group.role });
  }
  return await registry.metrics();
}

/** The content type of the Prometheus text format. */
export const METRICS_CONTENT_TYPE = registry.contentType;
