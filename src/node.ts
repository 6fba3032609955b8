/**
 * A Pylon node: the gateway clients talk to, the rack's Redis behind it, the
 * op log writes go to, and (when enabled) the applier that applies the log to
 * the rack's Redis. `main.ts` starts one from the command line; tests and
 * embedders use {@linkcode startNode}.
 */

import { getLogger } from "@logtape/logtape";
import type { Config, HostPort } from "./config.ts";
import { Gateway } from "./gateway/server.ts";
import { WritePath } from "./gateway/write_path.ts";
import { Upstream } from "./redis/upstream.ts";
import { Applier } from "./applier/applier.ts";
import { PendingWrites } from "./applier/pending_writes.ts";
import type { LogBounds, OpLog } from "./log/op_log.ts";
import { KafkaLog } from "./log/kafka_log.ts";
import { SegmentLog } from "./log/segment_log.ts";
import { type InfoSection, renderInfo } from "./observe/info.ts";
import { VERSION } from "./version.ts";

const log = getLogger(["pylon"]);

/** A running node. */
export interface PylonNode {
  /** The address clients connect to (the real port when configured with port 0). */
  address: HostPort;
  /** Stops serving, finishes the writes in flight, closes everything. */
  stop(): Promise<void>;
}

/** Opens the op log the configuration names. */
export async function openLog(config: Config): Promise<OpLog> {
  if (config.log.kind === "kafka") {
    return await KafkaLog.open(config.log.brokers, config.log.topic, {
      partitions: config.partitions,
      clientId: `pylon-${config.nodeId}`,
    });
  }
  return await SegmentLog.open(config.log.dir, { partitions: config.partitions });
}

/** Starts a node from its configuration. */
export async function startNode(config: Config): Promise<PylonNode> {
  const startedAt = Date.now();
  const upstream = new Upstream(config.redis);
  await upstream.start();
  let opLog: OpLog;
  try {
    opLog = await openLog(config);
  } catch (error) {
    upstream.stop();
    throw error;
  }
  const metaDb = config.metaDb ?? upstream.databases - 1;
  const pending = new PendingWrites();
  const applier = config.applier
    ? new Applier(
      opLog,
      { address: () => upstream.address, onChange: (fn) => upstream.onMasterChange(fn) },
      pending,
      { nodeId: config.nodeId, metaDb },
    )
    : undefined;
  applier?.start();
  const writes = new WritePath(opLog, pending, {
    nodeId: config.nodeId,
    rack: config.rack,
    metaDb,
    ackLog: new Set(config.ackLog),
    writeTimeoutMs: config.writeTimeoutMs,
  });

  // Log ends for PYLON INFO's lag, refreshed in the background (INFO answers at once).
  const ends: (LogBounds | undefined)[] = [];
  const refreshEnds = async () => {
    for (let p = 0; p < opLog.partitions; p++) {
      ends[p] = await opLog.bounds(p).catch(() => ends[p]);
    }
  };
  void refreshEnds();
  const endsTimer = setInterval(() => void refreshEnds(), 1_000);
  const expireTimer = setInterval(() => writes.expire(Date.now()), 100);

  let gateway: Gateway | undefined = undefined;
  const pylonInfo = () => {
    const stats = gateway!.stats();
    const up = upstream.status();
    const w = writes.stats();
    const sections: InfoSection[] = [
      {
        title: "Node",
        fields: [
          ["node_id", config.nodeId],
          ["rack", config.rack],
          ["role", applier === undefined ? "gateway" : "applier"],
          ["pylon_version", VERSION],
          ["process_id", Deno.pid],
          ["listen", `${config.listen.host}:${config.listen.port}`],
          ["uptime_in_seconds", Math.floor((Date.now() - startedAt) / 1000)],
        ],
      },
      {
        title: "Clients",
        fields: [
          ["connected_clients", stats.connectedClients],
          ["total_connections_received", stats.totalConnections],
          ["rejected_connections", stats.rejectedConnections],
          ["total_commands_processed", stats.totalCommands],
        ],
      },
      {
        title: "Upstream",
        fields: [
          ["upstream_source", up.source],
          ["upstream_address", up.address],
          ["upstream_connections", up.connections],
          ["upstream_connected", up.connected],
          ["upstream_pending", up.pending],
          ["upstream_failovers", up.failovers],
          ["meta_db", metaDb],
        ],
      },
      {
        title: "Writes",
        fields: [
          ["log", config.log.kind],
          ["partitions", opLog.partitions],
          ["writes_accepted", w.accepted],
          ["writes_acknowledged", w.acknowledged],
          ["writes_refused", w.refused],
          ["writes_failed", w.failed],
          ["writes_timed_out", w.timedOut],
          ["writes_waiting", pending.size],
          ["log_batches", opLog.batches],
          ["ack_log", config.ackLog.join(",")],
        ],
      },
    ];
    if (applier !== undefined) {
      const now = Date.now();
      sections.push({
        title: "Applier",
        fields: applier.status().flatMap((s) => {
          const end = ends[s.partition]?.end;
          const lagOps = end === undefined || s.position === undefined
            ? "unknown"
            : Math.max(0, end - s.position);
          const lagMs = lagOps === 0
            ? 0
            : s.lastAcceptedAtMs === undefined
            ? "unknown"
            : now - s.lastAcceptedAtMs;
          return [
            [`partition_${s.partition}`, s.state],
            [`partition_${s.partition}_log_end`, end ?? "unknown"],
            [`partition_${s.partition}_applied`, s.position ?? "unknown"],
            [`partition_${s.partition}_lag_ops`, lagOps],
            [`partition_${s.partition}_lag_ms`, lagMs],
            [`partition_${s.partition}_applied_ops`, s.appliedOps],
            [`partition_${s.partition}_batches`, s.batches],
            [`partition_${s.partition}_last_error`, s.lastError ?? ""],
          ] as [string, string | number][];
        }),
      });
    }
    return renderInfo(sections);
  };
  gateway = new Gateway({
    forward: (request, db, protocol, sink) => upstream.send(request, db, protocol, sink),
    write: (request, reply) => writes.submit(request, reply),
    databases: () => upstream.databases,
    reservedDb: metaDb,
    pylonInfo,
  }, { listen: config.listen, maxClients: config.maxClients });
  let address: HostPort;
  try {
    address = await gateway.listen();
  } catch (error) {
    clearInterval(endsTimer);
    clearInterval(expireTimer);
    await applier?.stop();
    await opLog.close();
    upstream.stop();
    throw error;
  }
  return {
    address,
    async stop() {
      await gateway.close();
      clearInterval(endsTimer);
      clearInterval(expireTimer);
      await applier?.stop();
      await opLog.close().catch((error) =>
        log.warning("closing the log: {error}", { error: String(error) })
      );
      upstream.stop();
    },
  };
}
