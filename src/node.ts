/**
 * A Pylon node: the gateway clients talk to, the rack's Redis behind it, the
 * op log writes go to, the applier (when enabled) that applies the log to the
 * rack's Redis, and the peer links to the other nodes of the world. `main.ts`
 * starts one from the command line; tests and embedders use
 * {@linkcode startNode}.
 */

import { getLogger } from "@logtape/logtape";
import { type Config, configChanges } from "./config/mod.ts";
import { setupLogging } from "./observe/log.ts";
import { describe, type HostPort } from "./net/address.ts";
import { EMPTY_GATEWAY_STATS, Gateway } from "./gateway/server.ts";
import { WritePath } from "./write/write_path.ts";
import { Upstream } from "./redis/upstream.ts";
import { Applier } from "./applier/applier.ts";
import { HandBack } from "./applier/hand_back.ts";
import { LogEnds } from "./log/log_ends.ts";
import { Retention } from "./log/retention.ts";
import { RackApplier } from "./applier/rack_applier.ts";
import { PendingWrites } from "./write/pending_writes.ts";
import { RackProgress } from "./applier/rack_progress.ts";
import { ReplyRecovery } from "./applier/reply_recovery.ts";
import { fetchStoredReplies, readPosition, verifyOpAt } from "./applier/rack_reads.ts";
import type { OpLog } from "./log/op_log.ts";
import { KafkaLog } from "./log/kafka_log.ts";
import { SegmentLog } from "./log/segment_log.ts";
import { Peers } from "./cluster/peers.ts";
import { PeerServer } from "./cluster/peer_server.ts";
import { peerService } from "./cluster/peer_service.ts";
import { WriteRouter } from "./write/write_router.ts";
import { ReadService } from "./read/read_service.ts";
import { rackHealth } from "./cluster/rack_health.ts";
import { nodeInfo, type NodeSnapshot } from "./node_info.ts";
import { type AdminServer, serveAdmin } from "./admin_http.ts";
import { World } from "./cluster/world.ts";
import { adminCommand } from "./cluster/admin.ts";
import { join } from "node:path";
import { markerFor, settleIdentity, settleNaming } from "./identity/establish.ts";
import type { NodeIdentity } from "./identity/node_identity.ts";
import { whenReachable } from "./identity/when_reachable.ts";
import { ignored } from "./observe/ignored.ts";
import { Users } from "./auth/users.ts";
import { ScriptRunner } from "./redis/script_runner.ts";
import { ScriptOps } from "./applier/script_ops.ts";
import { checkWatchAtAccept } from "./applier/watch.ts";
import { budgetSteps } from "./determinism/script_budget.ts";
import { Contentious } from "./consistency/contentious.ts";
import { StrongConsistency } from "./consistency/strong.ts";
import { ConsistencyGate } from "./consistency/gate.ts";
import { DivergenceGuard } from "./divergence/guard.ts";
import { DivergenceChecker } from "./divergence/checker.ts";
import { verdictStore } from "./divergence/verdict_store.ts";
import { KeyWaiters } from "./write/key_waiters.ts";
import { Claims } from "./write/claims.ts";
import { decodeClaim } from "./applier/claims.ts";
import { claimsKey } from "./meta_keys.ts";
import { newOpId } from "./log/op_id.ts";
import { encodeCommand } from "./resp/encoder.ts";
import { frameText, isErrorFrame } from "./resp/frames.ts";
import { UpstreamError } from "./redis/upstream_connection.ts";
import { keyHashSlot, slotPartition } from "./command/mod.ts";
import { Rebuilder } from "./rebuild/rebuilder.ts";
import { describeRedis, SnapshotSource } from "./rebuild/snapshot_source.ts";
import { rebuildCommand } from "./rebuild/command.ts";

const log = getLogger(["pylon", "node"]);

/** How far log time may fall behind the clock while no one writes before a tick moves it on. */
const LOG_TICK_MS = 1_000;

/**
 * How often a node whose own applier is not applying (it does not lead its
 * rack, or its rack's Redis is paused) tries its waiting clients' keys again:
 * it hears of no applied op.
 */
const WAITERS_POLL_MS = 1_000;

/** A running node. */
export interface PylonNode {
  /** Who the node is: id, rack, log, metadata db. */
  identity: NodeIdentity;
  /** The address clients connect to (the real port when configured with port 0). */
  address: HostPort;
  /** The peer address, when peer links are configured. */
  peerAddress: HostPort | undefined;
  /** The TLS client address, when there is one. */
  tlsAddress: HostPort | undefined;
  /**
   * Reads the TLS certificates again and takes from `next` (the configuration
   * read again) what can change live (src/config/changes.ts); logs the rest.
   */
  reload(next?: Config): Promise<void>;
  /** Stops serving, finishes the writes in flight, closes everything. */
  stop(): Promise<void>;
}

/** Opens the op log the configuration names. */
export async function openLog(config: Config, nodeId: string): Promise<OpLog> {
  if (config.log.kind === "kafka") {
    return await KafkaLog.open(config.log.brokers, config.log.topic, {
      partitions: config.partitions,
      clientId: `pylon-${nodeId}`,
      security: config.log.security,
    });
  }
  return await SegmentLog.open(config.log.dir, {
    partitions: config.partitions,
    segmentBytes: config.logSegmentBytes,
  });
}

/** What {@linkcode startNode} needs besides the configuration. */
export interface StartOptions {
  /** Names a new node by default. */
  hostname: string;
  /** Stops a start that waits (for Redis, on a first start). */
  signal?: AbortSignal;
}

/** Starts a node from its configuration. */
export async function startNode(config: Config, options: StartOptions): Promise<PylonNode> {
  const startedAt = Date.now();
  const naming = await settleNaming(config, options.hostname);
  const upstream = new Upstream(config.redis);
  let opLog: OpLog | undefined;
  let identity: NodeIdentity;
  let admin: AdminServer | undefined;
  // What a start waits for, as /readyz tells it.
  let waitingFor = "connecting to the rack's Redis";
  try {
    if (config.adminListen !== undefined) {
      admin = await serveAdmin(config.adminListen, () => waitingFor);
    }
    await upstream.start();
    const signal = options.signal ?? new AbortController().signal;
    waitingFor = "waiting for the log";
    opLog = await whenReachable("the log", () => openLog(config, naming.nodeId), signal);
    waitingFor = "settling this node's identity with the rack's Redis and the log";
    identity = await settleIdentity(
      config,
      naming,
      opLog,
      upstream,
      options.signal ?? new AbortController().signal,
    );
  } catch (error) {
    await admin?.close();
    upstream.stop();
    await opLog?.close().catch((e) => ignored("log_close", e));
    naming.lock.close();
    throw error;
  }
  const node = await runNode(config, identity, { upstream, opLog, admin, startedAt }).catch(
    (error) => {
      naming.lock.close();
      throw error;
    },
  );
  return {
    ...node,
    stop: async () => {
      await node.stop();
      naming.lock.close();
    },
  };
}

/** How long a start waits for its rack to apply the log before it puts back its old claims. */
const CLAIMS_RESTORE_WAIT_MS = 10 * 60_000;
/** How often claims brought back for answered tries are looked for. */
const STALE_CLAIMS_MS = 1_000;

/**
 * Puts back what tries of this node's earlier life took for clients it lost
 * (src/write/claims.ts), once the rack applied the log up to its end now:
 * every try of that life is applied by then, its claim kept.
 */
async function restoreClaims(
  claims: Claims,
  beforeId: string,
  opLog: OpLog,
  progress: RackProgress,
): Promise<void> {
  try {
    const need = new Map<number, number>();
    for (let p = 0; p < opLog.partitions; p++) need.set(p, (await opLog.bounds(p)).end);
    if (!await progress.reached(need, CLAIMS_RESTORE_WAIT_MS)) {
      throw new Error("the rack did not apply the log's end in time");
    }
    const restored = await claims.restoreOrphans(beforeId);
    if (restored > 0) {
      log.info("put back {n} elements taken for clients of this node's earlier life", {
        n: restored,
      });
    }
  } catch (error) {
    log.error("could not put back the claims of this node's earlier life: {error}", {
      error: String(error),
    });
  }
}

/** Wires and starts the parts of a node whose identity is settled. */
async function runNode(
  config: Config,
  identity: NodeIdentity,
  started: { upstream: Upstream; opLog: OpLog; admin: AdminServer | undefined; startedAt: number },
): Promise<PylonNode> {
  const { upstream, opLog, admin, startedAt } = started;
  const { nodeId, rack, metaDb } = identity;
  const pending = new PendingWrites();
  // One set for the write path and the router, so a reload changes both.
  const ackLog = new Set(config.ackLog);
  // The options as last (re)loaded.
  let current = config;
  const progress = new RackProgress(opLog.partitions, readPosition(upstream, metaDb));
  // A Redis that restarted or failed over may be behind what this node knew.
  upstream.onReset(() => progress.invalidate());
  const peers = config.worldSecret === undefined || config.peers.length === 0
    ? undefined
    : new Peers(
      {
        id: nodeId,
        rack,
        secret: config.worldSecret,
        ...(config.peerTls === undefined ? {} : { tls: config.peerTls }),
      },
      { peers: config.peers, timeouts: { readMs: 5_000, writeMs: config.writeTimeoutMs } },
    );

  // Linearizable requests: contentious keys, PYLON CONSISTENCY strong, WAIT (src/consistency/).
  const contentious = new Contentious(config.contentious);
  const strong = new StrongConsistency({
    log: opLog,
    reached: (need, timeoutMs) => progress.reached(need, timeoutMs),
    ...(peers === undefined ? {} : { racks: peers }),
    quorum: () => current.strongQuorum,
  });
  const gate = new ConsistencyGate({
    service: strong,
    contentious,
    timeoutMs: () => current.writeTimeoutMs,
  });

  // Clients waiting in blocking commands, woken by the keys this node's applier readies.
  const waiters = new KeyWaiters((key) => slotPartition(keyHashSlot(key), opLog.partitions));

  const replies = new HandBack(pending, {
    nodeId,
    rack,
    toPeer: (origin, opId, reply) => peers?.handBack(origin, opId, reply) ?? false,
  });
  const recovery = new ReplyRecovery(pending, {
    replies,
    progress,
    fetchStored: fetchStoredReplies(upstream, metaDb),
    verify: verifyOpAt(opLog),
  });
  recovery.start();
  // Divergence: the verdict kept in the rack's Redis, and the rack leader's checks (src/divergence/).
  const verdicts = verdictStore({
    address: () => upstream.address,
    connect: (address) => upstream.connectPipeline(address),
  }, metaDb);
  const guard = new DivergenceGuard(verdicts);
  // Read before the first client is served (bounded: a Redis that does not answer serves no reads).
  await Promise.race([guard.start(), new Promise((resolve) => setTimeout(resolve, 2_000))]);
  let applierStatus: () => ReturnType<RackApplier["liveStatus"]> = () => undefined;
  const checker = new DivergenceChecker({
    rack,
    partitions: opLog.partitions,
    metaDb,
    applier: () => applierStatus(),
    peers,
    guard,
    connect: async () => {
      const address = upstream.address;
      return address === undefined ? undefined : await upstream.connectPipeline(address);
    },
    dbs: () =>
      Array.from({ length: upstream.databases }, (_, db) => db).filter((db) => db !== metaDb),
    dataKeysPerSecond: config.digestKeysPerSecond,
  });
  // A rack whose Redis lacks ops the log no longer holds is rebuilt from a peer's snapshot.
  const rebuilder: Rebuilder = new Rebuilder({
    nodeId,
    rack,
    metaDb,
    mode: config.rebuild,
    marker: markerFor(opLog),
    log: opLog,
    // Closures: the applier and the world are made below, and used only once the node runs.
    applier: {
      hold: () => applier.hold(),
      release: () => applier.release(),
      liveStatus: () => applier.liveStatus(),
    },
    peers,
    rackLeader: (name) => world.state.rackLeaders.get(name)?.node,
    master: () => upstream.address,
    connect: (address) => upstream.connectPipeline(address),
    databases: () => upstream.databases,
    invalidatePositions: () => progress.invalidate(),
  });
  // The rack's Raft group decides which node applies: its leader, and only while it leads.
  const applier = new RackApplier(() =>
    new Applier(opLog, {
      master: {
        address: () => upstream.address,
        onChange: (fn) => upstream.onMasterChange(fn),
        connect: (address) => upstream.connectPipeline(address),
      },
      replies,
      metaDb,
      marker: markerFor(opLog),
      progress,
      publishMaxAgeMs: config.publishMaxAgeMs,
      scriptOps: new ScriptOps(config.redis.access, opLog.id),
      sweepDbs: () =>
        Array.from({ length: upstream.databases }, (_, db) => db).filter((db) => db !== metaDb),
      ticks: { nodeId, rack, intervalMs: LOG_TICK_MS },
      contract: {
        current: () => world.state.contract,
        propose: (contract, replace) =>
          void world.propose({ op: "contract", contract, replace: replace ?? false }).catch((
            error,
          ) => ignored("contract_proposal", error)),
        soleRack: () => [...world.state.nodes.values()].every((n) => n.rack === rack),
      },
      outcomes: checker,
      readied: (ops) => waiters.readied(ops),
      claims: { rack },
      rebuild: { needed: (partition, reason) => rebuilder.needed(partition, reason) },
    }), { enabled: config.applier });
  applierStatus = () => applier.liveStatus();
  const waitersPoll = setInterval(() => {
    if (waiters.size === 0) return;
    const status = applier.liveStatus();
    const applying = status !== undefined &&
      status.every((p) => p.state === "applying" || p.state === "waiting");
    if (!applying) waiters.poll();
  }, WAITERS_POLL_MS);
  const me = {
    id: nodeId,
    rack,
    peer: config.peerListen === undefined ? "" : describe(config.peerListen),
  };
  const world = new World({
    nodeId,
    rack,
    dir: join(config.dataDir, "raft"),
    founders: config.join
      ? []
      : [me, ...config.peers.map((p) => ({ id: p.id, rack: p.rack, peer: describe(p.address) }))],
    peers,
    tickMs: config.raftTickMs,
    electionTicks: 10,
    onRackLeader: (leading) => {
      applier.lead(leading);
      rebuilder.lead(leading);
    },
  });

  const writes = new WritePath(opLog, pending, {
    nodeId,
    rack,
    metaDb,
    worldMetaDb: () => world.state.contract?.metaDb,
    ackLog,
    writeTimeoutMs: config.writeTimeoutMs,
    writesInFlightMax: config.writesInFlightMax,
    scriptTimeMaxMs: config.scriptTimeMaxMs,
    storedReply: async (opId) => (await fetchStoredReplies(upstream, metaDb)([opId])).get(opId),
    // Watches are checked against the log before their transaction is logged (src/applier/watch.ts).
    checkWatch: (watch, partition) => checkWatchAtAccept(opLog, partition, watch),
  });

  // What tries took for this node's clients, until they have it (src/write/claims.ts).
  const lifeStartId = newOpId(Date.now());
  const claims = new Claims({
    key: claimsKey(nodeId),
    run: (argv) =>
      new Promise((resolve, reject) =>
        upstream.send(encodeCommand(argv), metaDb, 2, (reply) => {
          if (reply instanceof UpstreamError) reject(reply);
          else if (isErrorFrame(reply)) reject(new Error(frameText(reply)));
          else resolve(reply);
        })
      ),
    write: (request, reply) => router.write(request, reply),
    decode: decodeClaim,
  });
  // Claims a re-application brought back for answered tries (src/write/claims.ts).
  const staleClaims = setInterval(() => {
    void claims.removeStale().then((n) => {
      if (n > 0) log.info("removed {n} claims that came back for answered clients", { n });
    }, (error) => ignored("claims_stale", error));
  }, STALE_CLAIMS_MS);

  const logEnds = new LogEnds(opLog);
  logEnds.start();
  // The embedded log keeps what the rack has not applied, and drops the rest past its bounds.
  const retention = opLog instanceof SegmentLog
    ? new Retention(opLog, {
      bytesMax: config.logRetentionBytes,
      ageMsMax: config.logRetentionMs,
      applied: (p) => applier.status()?.find((s) => s.partition === p)?.position,
    })
    : undefined;
  retention?.start();
  const expireTimer = setInterval(() => writes.expire(performance.now()), 100);

  const health = rackHealth({
    redisReachable: () => upstream.healthy,
    applier: () => applier.liveStatus(),
    leaderFlags: () => {
      const leader = world.rackLeader;
      return leader === "" || leader === nodeId ? 0 : (peers?.flagsOf(leader) ?? 0);
    },
    rebuilding: () => rebuilder.rebuilding,
  });
  // This rack's snapshot, for other racks' rebuilds.
  const snapshots = peers === undefined ? undefined : new SnapshotSource({
    nodeId,
    rack,
    metaDb,
    servesReads: () => health.servesReads(),
    master: () => upstream.address,
    access: upstream.target.access,
    databases: () => upstream.databases,
    describeRedis: async (address) => {
      const connection = await upstream.connectPipeline(address);
      try {
        return await describeRedis(connection);
      } finally {
        connection.close();
      }
    },
  });
  const scripts = new ScriptRunner(
    { connect: (address) => upstream.connectPipeline(address), address: () => upstream.address },
    {
      access: config.redis.access,
      logId: opLog.id,
      budgetSteps: () => budgetSteps(current.scriptTimeMaxMs),
    },
  );
  const reads = new ReadService({
    rack,
    upstream,
    progress,
    metaDb,
    scripts,
    health,
    peers,
    diverged: () => guard.reason(),
  });
  const router = new WriteRouter({ writes, peers, health, ackLog });

  let peerServer: PeerServer | undefined;
  let peerAddress: HostPort | undefined;
  let gateway: Gateway | undefined = undefined;
  let draining = false;
  // No read is served before the client port listens, whatever the rack's Redis says.
  let listening = false;
  const snapshot = (): NodeSnapshot => ({
    config: current,
    identity,
    startedAt,
    metaDb,
    gateway: gateway?.stats() ?? EMPTY_GATEWAY_STATS,
    upstream: { ...upstream.status(), healthy: upstream.healthy },
    writes: {
      ...writes.stats(),
      waiting: pending.size,
      logBatches: opLog.batches,
      partitions: opLog.partitions,
    },
    applier: applier.status(),
    logEnds: logEnds.ends,
    logBytes: opLog instanceof SegmentLog
      ? Array.from({ length: opLog.partitions }, (_, p) => opLog.sizeBytes(p))
      : undefined,
    logFreedBytes: retention?.freedBytes,
    servesReads: listening && reads.servesHere(),
    applies: health.applies(),
    routing: { ...reads.stats(), ...router.stats() },
    peers: peers?.status() ?? [],
    peerServer: peerServer?.stats(),
    divergence: checker.status(),
    raft: world.status(),
    strong: {
      ...gate.stats(),
      confirmedBy: { ...strong.confirmedBy },
      racks: strong.racks(),
      quorum: strong.quorum(),
    },
    rebuild: rebuilder.status(),
    snapshots: snapshots?.stats(),
  });
  const stopAll = async () => {
    // Not ready from here on; clients first, while the applier still runs: every write they
    // are waiting for is answered (applied, or its deadline) before the rest stops.
    draining = true;
    await gateway?.drain(current.drainTimeoutMs);
    await admin?.close();
    await peerServer?.close();
    peers?.stop();
    logEnds.stop();
    retention?.stop();
    clearInterval(expireTimer);
    clearInterval(waitersPoll);
    clearInterval(staleClaims);
    recovery.stop();
    await checker.stop();
    guard.stop();
    verdicts.close();
    scripts.close();
    snapshots?.stop();
    await world.stop();
    await rebuilder.stop();
    await applier.stop();
    await opLog.close().catch((error) => ignored("log_close", error));
    upstream.stop();
  };

  try {
    if (config.peerListen !== undefined && config.worldSecret !== undefined) {
      peerServer = new PeerServer(
        peerService({
          reads,
          writes,
          replies,
          health,
          raft: (from, batch) => world.receive(from, batch),
          propose: (group, data) => world.proposeForPeer(group, data),
          leads: () => applier.liveStatus() !== undefined,
          divergence: (type, payload) => checker.serve(type, payload),
          ...(snapshots === undefined ? {} : {
            snapshot: (from, request, link) => snapshots.serve(from, request, link),
          }),
        }),
        {
          nodeId,
          secret: config.worldSecret,
          listen: config.peerListen,
          ...(config.peerTls === undefined ? {} : { tls: config.peerTls }),
        },
      );
      peerAddress = await peerServer.listen();
    }
    admin?.attach({ snapshot, draining: () => draining });
    peers?.start();
    checker.start();
    await world.start();
    gateway = new Gateway({
      read: (read, sink) => reads.serve(read, sink),
      // Strong writes wait for a quorum at the gate (src/write/answer_policy.ts decides).
      write: (request, reply) =>
        gate.write(request, reply, (request, reply) => router.write(request, reply)),
      // The world's number of dbs once its contract records it (every rack's is the same then).
      databases: () => Number(world.state.contract?.settings.databases ?? upstream.databases),
      reservedDb: metaDb,
      worldMetaDb: () => world.state.contract?.metaDb,
      admin: (argv) => adminCommand(world, argv) ?? rebuildCommand(rebuilder, argv),
      users: new Users({
        requirepass: config.requirepass,
        users: config.users,
        worldSecret: config.worldSecret,
      }),
      protectedMode: config.protectedMode,
      pylonInfo: () => nodeInfo(snapshot()),
      appliedPositions: () =>
        Array.from({ length: opLog.partitions }, (_, p) => progress.position(p)),
      subscriberTarget: { address: () => upstream.address, access: upstream.target.access },
      gate,
      waiters,
      claims,
    }, {
      listen: config.listen,
      ...(config.tls === undefined ? {} : {
        tls: {
          listen: config.tls.listen,
          authClients: config.tls.authClients,
          material: () => {
            const tls = config.tls!;
            const read = (path: string) => Deno.readTextFileSync(path);
            return {
              cert: read(tls.certFile),
              key: read(tls.keyFile),
              ...(tls.caFile === undefined ? {} : { ca: read(tls.caFile) }),
            };
          },
        },
      }),
      clientsMax: config.clientsMax,
      subscribersMax: config.subscribersMax,
      limits: { outputBytesMax: config.clientOutputBufferLimit },
      memoryBudgetBytes: config.clientMemoryBudget,
    });
    const address = await gateway.listen();
    listening = true;
    void restoreClaims(claims, lifeStartId, opLog, progress);
    return {
      identity,
      address,
      tlsAddress: gateway.tlsAddress,
      peerAddress,
      stop: stopAll,
      reload: async (next) => {
        gateway!.reloadTls();
        if (next === undefined) return;
        const { live, restart } = configChanges(current, next, { peerLinks: peers !== undefined });
        if (restart.length > 0) {
          log.warning("reload: {names} change only at a restart; kept as they were", {
            names: restart.join(", "),
          });
        }
        if (live.length === 0) return;
        if (live.includes("logLevel") || live.includes("logFormat")) {
          await setupLogging(next.logLevel, next.logFormat);
        }
        ackLog.clear();
        for (const command of next.ackLog) ackLog.add(command);
        contentious.set(next.contentious);
        if (live.includes("peers")) {
          const moved = peers?.readdress(next.peers) ?? [];
          if (moved.length > 0) {
            log.info("reload: peers {ids} dialled at their new address", { ids: moved.join(", ") });
          }
        }
        writes.configure({
          writeTimeoutMs: next.writeTimeoutMs,
          writesInFlightMax: next.writesInFlightMax,
          scriptTimeMaxMs: next.scriptTimeMaxMs,
        });
        gateway!.setClientLimits({
          clientsMax: next.clientsMax,
          outputBytesMax: next.clientOutputBufferLimit,
          memoryBudgetBytes: next.clientMemoryBudget,
        });
        current = { ...current, ...Object.fromEntries(live.map((k) => [k, next[k]])) };
        log.info("reload: {names} changed", { names: live.join(", ") });
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
