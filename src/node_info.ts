/** The sections of `PYLON INFO`, from the parts of a running node. */

import type { GateStats } from "./consistency/gate.ts";
import type { Config } from "./config/types.ts";
import { describe } from "./net/address.ts";
import type { NodeIdentity } from "./identity/node_identity.ts";
import { ignoredCounts } from "./observe/ignored.ts";
import { rackConditionCounts } from "./observe/rack_conditions.ts";
import { refusedCommandCounts } from "./observe/refused_commands.ts";
import type { GatewayStats } from "./gateway/server.ts";
import type { WriteStats } from "./write/write_path.ts";
import type { UpstreamStatus } from "./redis/upstream.ts";
import type { PartitionStatus } from "./applier/applier.ts";
import type { LogBounds } from "./log/op_log.ts";
import type { PeerStatus } from "./cluster/peers.ts";
import type { ReadStats } from "./read/read_service.ts";
import type { WriteRouterStats } from "./write/write_router.ts";
import type { PeerServerStats } from "./cluster/peer_server.ts";
import type { GroupStatus } from "./cluster/world.ts";
import type { DivergenceStatus } from "./divergence/checker.ts";
import { type InfoSection, renderInfo } from "./observe/info.ts";
import { VERSION } from "./version.ts";
import type { RebuildStatus } from "./rebuild/rebuilder.ts";
import type { SnapshotSourceStats } from "./rebuild/snapshot_source.ts";

/** Everything `PYLON INFO` reports, read at the moment it is asked. */
export interface NodeSnapshot {
  config: Config;
  identity: NodeIdentity;
  startedAt: number;
  metaDb: number;
  gateway: GatewayStats;
  upstream: UpstreamStatus & { healthy: boolean };
  writes: WriteStats & { waiting: number; logBatches: number; partitions: number };
  applier: PartitionStatus[] | undefined;
  logEnds: readonly (LogBounds | undefined)[];
  /** The embedded log's bytes per partition, and what retention freed (undefined on Kafka). */
  logBytes: number[] | undefined;
  logFreedBytes: number | undefined;
  servesReads: boolean;
  applies: boolean;
  routing: ReadStats & WriteRouterStats;
  peers: PeerStatus[];
  peerServer: PeerServerStats | undefined;
  raft: GroupStatus[];
  /** The divergence checks (src/divergence/): what was compared, and what was found. */
  divergence?: DivergenceStatus;
  /** Strong requests (src/consistency/), with the racks known and the quorum. */
  strong?: GateStats & { confirmedBy: Record<string, number>; racks: number; quorum: number };
  /** Rebuilds of this rack (src/rebuild/rebuilder.ts), and snapshots served to other racks. */
  rebuild?: RebuildStatus;
  snapshots?: SnapshotSourceStats | undefined;
}

/** Renders `PYLON INFO`. */
export function nodeInfo(s: NodeSnapshot, now = Date.now()): string {
  const sections: InfoSection[] = [
    {
      title: "Node",
      fields: [
        ["node_id", s.identity.nodeId],
        ["rack", s.identity.rack],
        // A rack leader holds its applier stopped while it rebuilds its rack's Redis.
        ["role", s.applier === undefined && !rebuilding(s.rebuild) ? "follower" : "leader"],
        ["pylon_version", VERSION],
        ["process_id", Deno.pid],
        [
          "listen",
          s.config.listen === undefined ? "none" : describe(s.config.listen),
        ],
        [
          "tls_listen",
          s.config.tls === undefined ? "none" : describe(s.config.tls.listen),
        ],
        ["uptime_in_seconds", Math.floor((now - s.startedAt) / 1000)],
        ["serves_reads", s.servesReads ? 1 : 0],
        ["applies", s.applies ? 1 : 0],
      ],
    },
    {
      title: "Clients",
      fields: [
        ["connected_clients", s.gateway.connectedClients],
        ["total_connections_received", s.gateway.totalConnections],
        ["rejected_connections", s.gateway.rejectedConnections],
        ["total_commands_processed", s.gateway.totalCommands],
        ["auth_failures", s.gateway.authFailures],
        ["auth_rate_limited", s.gateway.authRateLimited],
        ["client_buffer_bytes", s.gateway.clientBufferBytes],
        ["clients_closed_over_budget", s.gateway.clientsClosedOverBudget],
      ],
    },
    {
      title: "Upstream",
      fields: [
        ["upstream_source", s.upstream.source],
        ["upstream_address", s.upstream.address],
        ["upstream_healthy", s.upstream.healthy ? 1 : 0],
        ["upstream_connections", s.upstream.connections],
        ["upstream_connected", s.upstream.connected],
        ["upstream_pending", s.upstream.pending],
        ["upstream_failovers", s.upstream.failovers],
        ["meta_db", s.metaDb],
      ],
    },
    {
      title: "Writes",
      fields: [
        ["log", s.config.log.kind],
        ["log_id", s.identity.logId],
        ["partitions", s.writes.partitions],
        ["writes_accepted", s.writes.accepted],
        ["writes_acknowledged", s.writes.acknowledged],
        ["writes_refused", s.writes.refused],
        ["writes_failed", s.writes.failed],
        ["writes_timed_out", s.writes.timedOut],
        ["writes_waiting", s.writes.waiting],
        ["writes_forwarded", s.routing.writesForwarded],
        ["reads_forwarded", s.routing.readsForwarded],
        ["reads_waited_for_own_writes", s.routing.readsWaited],
        ["log_batches", s.writes.logBatches],
        ["ack_log", s.config.ackLog.join(",")],
      ],
    },
  ];
  if (s.strong !== undefined) {
    const t = s.strong;
    sections.push({
      title: "Consistency",
      fields: [
        ["contentious", s.config.contentious.join(",")],
        ["racks_known", t.racks],
        ["strong_quorum", t.quorum],
        ["strong_reads", t.reads],
        ["strong_read_wait_ms_total", Math.round(t.readWaitMs)],
        ["strong_writes", t.writes],
        ["strong_write_wait_ms_total", Math.round(t.writeWaitMs)],
        ["strong_quorum_failures", t.quorumFailures],
        ["waits", t.waits],
        [
          "racks_confirmed_applied",
          Object.entries(t.confirmedBy).map(([rack, at]) => `${rack}=${at}`).join(","),
        ],
      ],
    });
  }
  sections.push({
    title: "Log",
    fields: [
      ...(s.logBytes === undefined ? [] : [
        ["log_bytes", s.logBytes.reduce((a, b) => a + b, 0)] as [string, number],
        ["log_retention_freed_bytes", s.logFreedBytes ?? 0] as [string, number],
      ]),
      ...s.logEnds.flatMap((bounds, p) =>
        bounds === undefined ? [] : [
          [`partition_${p}_log_start`, bounds.start] as [string, number],
          [`partition_${p}_log_end`, bounds.end] as [string, number],
        ]
      ),
    ],
  });
  if (s.applier !== undefined) {
    sections.push({
      title: "Applier",
      fields: s.applier.flatMap((p) => {
        const end = s.logEnds[p.partition]?.end;
        const lagOps = end === undefined || p.position === undefined
          ? "unknown"
          : Math.max(0, end - p.position);
        const lagMs = lagOps === 0
          ? 0
          : p.lastAcceptedAtMs === undefined
          ? "unknown"
          : now - p.lastAcceptedAtMs;
        const name = `partition_${p.partition}`;
        return [
          [name, p.state],
          [`${name}_log_end`, end ?? "unknown"],
          [`${name}_applied`, p.position ?? "unknown"],
          [`${name}_lag_ops`, lagOps],
          [`${name}_lag_ms`, lagMs],
          [`${name}_applied_ops`, p.appliedOps],
          [`${name}_batches`, p.batches],
          [`${name}_last_error`, p.lastError ?? ""],
        ] as [string, string | number][];
      }),
    });
  }
  if (s.divergence !== undefined) {
    const d = s.divergence;
    const line = (text: string) => text.replaceAll(/[\r\n]+/g, " ");
    sections.push({
      title: "Divergence",
      fields: [
        ["diverged", d.diverged === undefined ? 0 : 1],
        ["diverged_reason", line(d.diverged ?? "")],
        ["outcome_ops_fingerprinted", d.outcomeOps],
        ["outcome_windows_compared", d.outcomeWindowsCompared],
        ["outcome_windows_skipped", d.outcomeWindowsSkipped],
        ["outcome_points_compared", d.outcomePointsCompared],
        ["data_digest_keys_per_second", d.dataKeysPerSecond],
        ["data_digest_rounds", d.dataRounds],
        ["data_digest_rounds_retried", d.dataRoundsRetried],
        ["data_keys_compared", d.dataKeysCompared],
        ["racks_diverged", d.peersDiverged.map(([rack]) => rack).join(",")],
        ...d.peersDiverged.map(([rack, why]) =>
          [`rack_diverged_${rack}`, line(why)] as [string, string]
        ),
      ],
    });
  }
  if (s.rebuild !== undefined) sections.push(rebuildSection(s.rebuild, s.snapshots));
  if (s.raft.length > 0) {
    sections.push({
      title: "Raft",
      fields: s.raft.flatMap((g) => {
        const name = g.group.startsWith("rack:") ? "rack" : g.group;
        return [
          [`${name}_group`, g.group],
          [`${name}_role`, g.role],
          [`${name}_term`, g.term],
          [`${name}_leader`, g.leader || "-"],
          [`${name}_commit`, g.commit],
          [`${name}_applied`, g.applied],
          [`${name}_last_index`, g.lastIndex],
          [`${name}_voters`, g.conf.voters.join(",")],
          [`${name}_learners`, g.conf.learners.join(",")],
        ] as [string, string | number][];
      }),
    });
  }
  if (s.peerServer !== undefined || s.peers.length > 0) {
    const fields: [string, string | number][] = [];
    if (s.config.peerListen !== undefined) {
      fields.push(["peer_listen", describe(s.config.peerListen)]);
    }
    if (s.peerServer !== undefined) {
      fields.push(
        ["peer_links_open", s.peerServer.linksOpen],
        ["peer_links_accepted", s.peerServer.linksAccepted],
        ["peer_links_refused", s.peerServer.linksRefused],
      );
    }
    // Fastest first: the order reads fail over in.
    s.peers.forEach((p, i) => {
      fields.push([
        `peer${i}`,
        [
          `id=${p.id}`,
          `rack=${p.rack}`,
          `address=${p.address}`,
          `state=${p.up ? "up" : "down"}`,
          `rtt_ms=${p.rttMs === undefined ? "unknown" : p.rttMs.toFixed(3)}`,
          `serves_reads=${p.servesReads ? 1 : 0}`,
          `applies=${p.applies ? 1 : 0}`,
          `last_error=${(p.lastError ?? "").replaceAll(/[,\r\n]/g, " ")}`,
        ].join(","),
      ]);
    });
    sections.push({ title: "Peers", fields });
  }
  sections.push({
    title: "Errors",
    fields: ignoredCounts().map(([kind, count]) => [`ignored_errors_${kind}`, count]),
  });
  sections.push({
    title: "Rack conditions",
    fields: rackConditionCounts().map(([reason, count]) => [`rack_condition_${reason}`, count]),
  });
  sections.push({
    title: "Refusals",
    fields: refusedCommandCounts().map(([command, count]) => [
      `refused_${command.replace("|", "_")}`,
      count,
    ]),
  });
  return renderInfo(sections);
}

/** `# Rebuild`: where this rack's rebuild stands, and the snapshots this node served. */
function rebuildSection(r: RebuildStatus, served: SnapshotSourceStats | undefined): InfoSection {
  const fields: [string, string | number][] = [
    ["rebuild_mode", r.mode],
    ["rebuild_phase", r.phase],
    ["rebuild_reason", oneLine(r.reason)],
    ["rebuild_requested_from", r.requested ?? ""],
    ["rebuild_source", r.source ?? ""],
    ["rebuild_attempts", r.attempts],
    ["rebuild_last_error", oneLine(r.lastError)],
    ["rebuild_retry_in_ms", r.retryInMs === undefined ? "" : Math.round(r.retryInMs)],
    ["rebuild_elapsed_ms", Math.round(r.elapsedMs)],
    ["rebuild_phase_elapsed_ms", Math.round(r.phaseElapsedMs)],
    ["rebuild_bytes", r.bytes],
    ["rebuild_bytes_total", r.bytesTotal ?? "unknown"],
    ["rebuild_keys", r.keys],
    ["rebuild_keys_total", r.keysTotal ?? "unknown"],
    ["rebuild_bytes_per_sec", Math.round(r.bytesPerSecond)],
    ["rebuild_keys_per_sec", Math.round(r.keysPerSecond)],
    ["rebuild_seconds_left", r.secondsLeft === undefined ? "unknown" : Math.ceil(r.secondsLeft)],
    ["rebuild_catch_up_ops", r.catchUpOps ?? ""],
    ["rebuilds_completed", r.completed],
    ["rebuilds_failed", r.failed],
    [
      "rebuild_last_duration_ms",
      r.lastDurationMs === undefined ? "" : Math.round(r.lastDurationMs),
    ],
  ];
  if (served !== undefined) {
    fields.push(
      ["snapshot_serving", served.serving ?? ""],
      ["snapshot_serving_bytes", served.servingBytes],
      ["snapshots_served", served.served],
      ["snapshots_failed", served.failed],
      ["snapshots_refused", served.refused],
      ["snapshot_bytes_sent", served.bytesSent],
    );
  }
  return { title: "Rebuild", fields };
}

/** Whether a rebuild is replacing this rack's Redis now (this node leads it). */
function rebuilding(r: RebuildStatus | undefined): boolean {
  return r !== undefined &&
    (r.phase === "snapshot" || r.phase === "transfer" || r.phase === "load");
}

function oneLine(text: string | undefined): string {
  return (text ?? "").replaceAll(/[\r\n]+/g, " ");
}
