/**
 * The configuration of a node and its parts, as {@linkcode parseConfig}
 * (parse.ts) gives it. Types only (and the error every configuration mistake
 * is), so any layer can name a part of the configuration without pulling in
 * the parser.
 */

import type { HostPort } from "../net/address.ts";
import type { TlsMaterial } from "../net/tls.ts";
import type { RedisAccess } from "../redis/access.ts";

/** Another node of the world. */
export interface PeerConfig {
  id: string;
  rack: string;
  /** Its peer address (`--peer-listen` there). */
  address: HostPort;
}

/** Where the rack's Redis is: a fixed address, or a master name Sentinels know. */
export type RedisTarget =
  | { kind: "direct"; host: string; port: number; access: RedisAccess }
  | {
    kind: "sentinel";
    sentinels: HostPort[];
    master: string;
    /** How to reach the master Sentinel names. */
    access: RedisAccess;
    /** How to reach the Sentinels themselves. */
    sentinelAccess: RedisAccess;
  };

/** Where ops are logged: Kafka (a world), or an embedded segment log (one rack). */
export type LogTarget =
  | { kind: "kafka"; brokers: HostPort[]; topic: string; security: KafkaSecurity }
  | { kind: "local"; dir: string };

/** How Pylon reaches Kafka: TLS, and SASL credentials. */
export interface KafkaSecurity {
  tls?: TlsMaterial;
  sasl?: {
    mechanism: "plain" | "scram-sha-256" | "scram-sha-512";
    username: string;
    password: string;
  };
}

/** Logging verbosity. */
export type LogLevelName = "debug" | "info" | "warning" | "error";

/** The TLS client port: where, and the PEM files read at start and on SIGHUP. */
export interface TlsListenConfig {
  listen: HostPort;
  certFile: string;
  keyFile: string;
  caFile: string | undefined;
  authClients: "yes" | "no" | "optional";
}

/** Mutual TLS for peer links: PEM text. */
export interface PeerTls {
  cert: string;
  key: string;
  ca: string;
}

/** Everything a node needs to start. */
export interface Config {
  /** This node's id; undefined: the one recorded in the data folder, or a new one. */
  nodeId: string | undefined;
  /** This node's rack; undefined: the one recorded in the data folder, or "default". */
  rack: string | undefined;
  /** Where clients connect in plain TCP; undefined: TLS only. */
  listen: HostPort | undefined;
  /** The TLS client port, if any. */
  tls: TlsListenConfig | undefined;
  /** Mutual TLS on peer links, if configured. */
  peerTls: PeerTls | undefined;
  redis: RedisTarget;
  log: LogTarget;
  /** Folder for the node's own files (identity, embedded log, Raft state). */
  dataDir: string;
  logLevel: LogLevelName;
  logFormat: "text" | "json";
  /** Client connections accepted at once. */
  clientsMax: number;
  /** Subscribed clients at once (each holds a connection to the rack's Redis). */
  subscribersMax: number;
  /** Where other nodes connect (peer links); undefined: this node has none. */
  peerListen: HostPort | undefined;
  /** Where `/metrics`, `/healthz` and `/readyz` are served (off when undefined). */
  adminListen: HostPort | undefined;
  /** The secret every node of the world shares; peer links prove it. */
  worldSecret: string | undefined;
  /** The other nodes: of this rack and of other racks. */
  peers: PeerConfig[];
  /** Start outside the world and wait to be added (`PYLON NODE ADD` on a member); peers are contacts. */
  join: boolean;
  /** Raft's clock: heartbeats every tick, elections after 10 to 20 ticks. */
  raftTickMs: number;
  /** Log partitions (one total order by default). */
  partitions: number;
  /** Whether this node applies the log to its rack's Redis. */
  applier: boolean;
  /** A Redis that lacks ops the log no longer holds: rebuilt from a peer by itself, or on command. */
  rebuild: "auto" | "manual";
  /** Commands acknowledged once logged (`ack=log`); only constant-reply commands qualify. */
  ackLog: string[];
  /** Key patterns (Redis globs) whose commands are linearizable (see src/consistency/). */
  contentious: string[];
  /** Racks that must have applied a strong write before its reply: a majority, all, or a count. */
  strongQuorum: "majority" | "all" | number;
  /** Redis db for Pylon's metadata; undefined: the one recorded, else the last db. */
  metaDb: number | undefined;
  /** How long a client waits for a write's reply. */
  writeTimeoutMs: number;
  /** The script budget ops accepted here carry, in ms (src/determinism/script_budget.ts). */
  scriptTimeMaxMs: number;
  /** Writes this node may have waiting for their replies, all connections and peers together. */
  writesInFlightMax: number;
  /** How long a stop (SIGTERM) lets connections finish what they took before closing them. */
  drainTimeoutMs: number;
  /** A message older than this when its rack applies it is not published there (a rack catching up). */
  publishMaxAgeMs: number;
  /** Keys the rack leader digests and compares with the other racks per second (0: none). */
  digestKeysPerSecond: number;
  /** Embedded log: segment size, and the bounds past which applied segments are removed. */
  logSegmentBytes: number;
  logRetentionBytes: number;
  logRetentionMs: number;
  /** Reply bytes a client may leave unread before it is closed. */
  clientOutputBufferLimit: number;
  /** Request and reply bytes all clients together may make the node hold. */
  clientMemoryBudget: number;
  /** The default user's password. */
  requirepass: string | undefined;
  /** Users as Redis ACL lines (`name rule ...`). */
  users: string[];
  /** Refuse non-loopback clients while the default user has no password. */
  protectedMode: boolean;
}

/** A configuration mistake, worded for the operator. */
export class ConfigError extends Error {
  override name = "ConfigError";
}
