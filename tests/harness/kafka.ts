/**
 * Apache Kafka in KRaft mode, started from the jars that provision.ts
 * assembled: one combined broker+controller, or three of them for fault tests.
 */

import { dirname, join } from "node:path";
import type { KafkaSecurity } from "../../src/config/types.ts";
import { ensureKafka, type KafkaInstall } from "./provision.ts";
import { createKafka } from "../../src/log/kafka_client.ts";
import { freePorts } from "./ports.ts";
import { scratchDir, Service } from "./service.ts";
import { waitFor } from "./wait.ts";

/** Environment variable with the suite's shared broker (`host:port`), set by tests/run.ts. */
export const SHARED_KAFKA_ENV = "PYLON_TEST_KAFKA";

/** Options of {@linkcode startKafka}. */
export interface KafkaOptions {
  /** 1 (default) or 3 combined broker+controller nodes. */
  nodes?: 1 | 3;
  /** Full JIT for benchmarks; tests start faster with the client compiler only. */
  fullJit?: boolean;
  /** More `server.properties` settings. */
  config?: Record<string, string>;
  /** One SASL_SSL listener instead of PLAINTEXT: this certificate, these SASL users. */
  secure?: SecureKafka;
  /**
   * One broker only: listen on `port` but tell clients to connect to
   * `advertisedPort` (a relay in front of it, for faults on the client link).
   */
  relayed?: { port: number; advertisedPort: number };
}

/** A broker that speaks only TLS and wants SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512). */
export interface SecureKafka {
  /** The broker's certificate (SAN 127.0.0.1) and key, and the CA clients trust. */
  certFile: string;
  keyFile: string;
  caFile: string;
  /** SASL users: a PLAIN user and SCRAM users of both hashes get these. */
  users: { name: string; password: string }[];
}

/** The broker's own credentials for its listener (it talks to itself over it). */
const BROKER_USER = { name: "broker", password: "broker-secret" };

/** One broker+controller process. */
export class KafkaNode {
  readonly id: number;
  readonly port: number;
  readonly controllerPort: number;
  readonly service: Service;

  constructor(id: number, port: number, controllerPort: number, service: Service) {
    this.id = id;
    this.port = port;
    this.controllerPort = controllerPort;
    this.service = service;
  }

  /** The client (PLAINTEXT) address. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }
}

function clusterId(): string {
  // Kafka cluster ids are 16 random bytes in URL-safe base64 without padding.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(
    /=+$/,
    "",
  );
}

/** A KRaft cluster of one or three nodes. */
export class KafkaCluster implements AsyncDisposable {
  readonly nodes: KafkaNode[];
  readonly dir: string;

  /** How clients reach a secure cluster (TLS and the broker's own SCRAM user); empty when plain. */
  readonly security: KafkaSecurity;

  private constructor(nodes: KafkaNode[], dir: string, security: KafkaSecurity) {
    this.nodes = nodes;
    this.dir = dir;
    this.security = security;
  }

  /** Formats the storage of every node, starts them and waits until all are registered brokers. */
  static async start(options: KafkaOptions = {}): Promise<KafkaCluster> {
    const install = await ensureKafka();
    const count = options.nodes ?? 1;
    const dir = await scratchDir(`kafka-${count}`);
    const ports = freePorts(count * 2);
    if (options.relayed !== undefined) ports[0] = options.relayed.port;
    const voters = Array.from({ length: count }, (_, i) => `${i + 1}@127.0.0.1:${ports[count + i]}`)
      .join(",");
    const id = clusterId();
    const nodes: KafkaNode[] = [];
    const security: KafkaSecurity = options.secure === undefined ? {} : {
      tls: { ca: Deno.readTextFileSync(options.secure.caFile) },
      sasl: {
        mechanism: "scram-sha-256",
        username: BROKER_USER.name,
        password: BROKER_USER.password,
      },
    };
    const cluster = new KafkaCluster(nodes, dir, security);
    try {
      await Promise.all(Array.from({ length: count }, async (_, i) => {
        const nodeId = i + 1;
        const port = ports[i]!;
        const controllerPort = ports[count + i]!;
        const nodeDir = join(dir, `node-${nodeId}`);
        await Deno.mkdir(nodeDir, { recursive: true });
        const props = join(nodeDir, "server.properties");
        await Deno.writeTextFile(
          props,
          serverProperties({
            nodeId,
            port,
            controllerPort,
            voters,
            count,
            dataDir: join(nodeDir, "data"),
          }, options),
        );
        await format(install, id, props, nodeDir, options.secure);
        const service = new Service({
          name: `kafka-${nodeId}`,
          cmd: "java",
          args: [...jvmArgs(install, options), "kafka.Kafka", props],
          dir: nodeDir,
        });
        nodes[i] = new KafkaNode(nodeId, port, controllerPort, service);
      }));
      for (const node of nodes) node.service.start();
      await cluster.waitBrokers(count);
      return cluster;
    } catch (error) {
      await cluster[Symbol.asyncDispose]();
      throw error;
    }
  }

  /** Bootstrap addresses of every node. */
  get brokers(): string[] {
    return this.nodes.map((n) => n.address);
  }

  /** The logs of every node, for error messages. */
  async logTails(lines = 25): Promise<string> {
    return (await Promise.all(this.nodes.map((n) => n.service.logTail(lines)))).join("\n");
  }

  /** Waits until `count` brokers are registered and unfenced. */
  async waitBrokers(count: number, timeoutMs = 60_000): Promise<void> {
    const alive = this.nodes.filter((n) => n.service.running).map((n) => n.address);
    const admin = createKafka(alive, {
      retries: 0,
      requestTimeoutMs: 2_000,
      security: this.security,
    })
      .admin();
    try {
      await waitFor(`${count} Kafka broker(s) to register`, async () => {
        for (const node of this.nodes) {
          if (!node.service.running && alive.includes(node.address)) {
            throw new Error(`kafka node ${node.id} exited`);
          }
        }
        await admin.connect();
        const { brokers } = await admin.describeCluster();
        return brokers.length >= count ? true : undefined;
      }, { timeoutMs, intervalMs: 100, context: () => this.logTails() });
    } finally {
      await admin.disconnect();
    }
  }

  /** `kill -9` node `id` (1-based). */
  async kill(id: number): Promise<void> {
    await this.#node(id).service.kill();
  }

  /** `kill -STOP` node `id`: it hangs with its sockets open. */
  pause(id: number): void {
    this.#node(id).service.pause();
  }

  /** `kill -CONT` node `id`. */
  resume(id: number): void {
    this.#node(id).service.resume();
  }

  /** Starts a stopped or killed node again and waits until all nodes are brokers again. */
  async restart(id: number): Promise<void> {
    const node = this.#node(id);
    if (node.service.running) await node.service.stop();
    node.service.start();
    await this.waitBrokers(this.nodes.length);
  }

  #node(id: number): KafkaNode {
    const node = this.nodes[id - 1];
    if (node === undefined) throw new Error(`No Kafka node ${id} (have ${this.nodes.length})`);
    return node;
  }

  /** Stops every node and removes their data. */
  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all(this.nodes.map((n) => n?.service.stop(10_000)));
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

interface NodeLayout {
  nodeId: number;
  port: number;
  controllerPort: number;
  voters: string;
  count: number;
  dataDir: string;
}

function serverProperties(layout: NodeLayout, options: KafkaOptions): string {
  const replicas = layout.count;
  const minIsr = replicas >= 3 ? 2 : 1;
  const settings: Record<string, string> = {
    "process.roles": "broker,controller",
    "node.id": String(layout.nodeId),
    "controller.quorum.voters": layout.voters,
    "listeners":
      `PLAINTEXT://127.0.0.1:${layout.port},CONTROLLER://127.0.0.1:${layout.controllerPort}`,
    "advertised.listeners": `PLAINTEXT://127.0.0.1:${
      options.relayed?.advertisedPort ?? layout.port
    }`,
    "controller.listener.names": "CONTROLLER",
    "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    "inter.broker.listener.name": "PLAINTEXT",
    "log.dirs": layout.dataDir,
    "num.partitions": "1",
    "default.replication.factor": String(replicas),
    "min.insync.replicas": String(minIsr),
    "offsets.topic.replication.factor": String(replicas),
    // One partition: a fresh __consumer_offsets of 50 partitions costs seconds.
    "offsets.topic.num.partitions": "1",
    "transaction.state.log.replication.factor": String(replicas),
    "transaction.state.log.min.isr": String(minIsr),
    "transaction.state.log.num.partitions": "1",
    "group.initial.rebalance.delay.ms": "0",
    "auto.create.topics.enable": "false",
    // A test that shortens a topic's retention sees old segments go within seconds, not 5 min.
    "log.retention.check.interval.ms": "1000",
    // A killed broker is fenced, and leaves the ISR, within seconds instead of 9 s / 30 s.
    "broker.session.timeout.ms": "3000",
    "broker.heartbeat.interval.ms": "500",
    "replica.lag.time.max.ms": "5000",
    // Two cores: keep the thread pools small.
    "num.network.threads": "2",
    "num.io.threads": "4",
    "num.recovery.threads.per.data.dir": "1",
    "background.threads": "2",
    ...(options.secure === undefined ? {} : secureSettings(layout, options.secure)),
    ...options.config,
  };
  return Object.entries(settings).map(([k, v]) => `${k}=${v}`).join("\n") + "\n";
}

function jvmArgs(install: KafkaInstall, options: KafkaOptions): string[] {
  return [
    "-Xms256m",
    "-Xmx768m",
    ...(options.fullJit ? [] : ["-XX:TieredStopAtLevel=1"]),
    "-XX:+UseSerialGC",
    "-Djava.awt.headless=true",
    `-Dlog4j.configuration=file:${install.log4jConfig}`,
    "-cp",
    install.classpath,
  ];
}

async function format(
  install: KafkaInstall,
  clusterId: string,
  props: string,
  dir: string,
  secure?: SecureKafka,
): Promise<void> {
  // SCRAM credentials live in the cluster's metadata, written when storage is formatted.
  const scram = secure === undefined
    ? []
    : [BROKER_USER, ...secure.users].flatMap((u) =>
      ["SCRAM-SHA-256", "SCRAM-SHA-512"].flatMap((
        mechanism,
      ) => ["--add-scram", `${mechanism}=[name=${u.name},password=${u.password}]`])
    );
  const { success, stdout, stderr } = await new Deno.Command("java", {
    args: [
      ...jvmArgs(install, {}),
      "kafka.tools.StorageTool",
      "format",
      // One argument: an id may begin with "-", which would read as an option.
      `--cluster-id=${clusterId}`,
      "-c",
      props,
      "--ignore-formatted",
      ...scram,
    ],
    cwd: dir,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!success) {
    const decoder = new TextDecoder();
    throw new Error(
      `Kafka storage format failed:\n${decoder.decode(stdout)}${decoder.decode(stderr)}`,
    );
  }
}

/** Starts a Kafka cluster; use with `await using`. */
export function startKafka(options: KafkaOptions = {}): Promise<KafkaCluster> {
  return KafkaCluster.start(options);
}

/** The suite's shared broker, or a private one when a test file runs on its own. */
export interface KafkaLease extends AsyncDisposable {
  brokers: string[];
}

/**
 * Leases the suite's shared single broker (started by tests/run.ts). Run
 * outside the suite runner, it starts a private broker that the lease stops.
 * Tests sharing the broker use their own topics (see {@linkcode uniqueTopic}).
 */
export async function useKafka(): Promise<KafkaLease> {
  const shared = Deno.env.get(SHARED_KAFKA_ENV);
  if (shared !== undefined && shared !== "") {
    return { brokers: shared.split(","), [Symbol.asyncDispose]: () => Promise.resolve() };
  }
  const cluster = await startKafka();
  return { brokers: cluster.brokers, [Symbol.asyncDispose]: () => cluster[Symbol.asyncDispose]() };
}

/** A topic name no other test uses. */
export function uniqueTopic(prefix: string): string {
  const suffix = crypto.getRandomValues(new Uint32Array(2)).join("");
  return `${prefix}-${suffix}`;
}

/** `server.properties` of a SASL_SSL-only broker. */
function secureSettings(layout: NodeLayout, secure: SecureKafka): Record<string, string> {
  const keystore = join(dirname(layout.dataDir), "keystore.pem");
  // Kafka's PEM keystore: the key and its certificate chain in one file.
  Deno.writeTextFileSync(
    keystore,
    Deno.readTextFileSync(secure.keyFile) + Deno.readTextFileSync(secure.certFile),
  );
  const plainUsers = [BROKER_USER, ...secure.users].map((u) => `user_${u.name}="${u.password}"`)
    .join(" ");
  const scram =
    `org.apache.kafka.common.security.scram.ScramLoginModule required username="${BROKER_USER.name}" password="${BROKER_USER.password}";`;
  return {
    "listeners":
      `SASL_SSL://127.0.0.1:${layout.port},CONTROLLER://127.0.0.1:${layout.controllerPort}`,
    "advertised.listeners": `SASL_SSL://127.0.0.1:${layout.port}`,
    "listener.security.protocol.map": "SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
    "inter.broker.listener.name": "SASL_SSL",
    "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
    "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-256",
    "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config": scram,
    "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": scram,
    "listener.name.sasl_ssl.plain.sasl.jaas.config":
      `org.apache.kafka.common.security.plain.PlainLoginModule required username="${BROKER_USER.name}" password="${BROKER_USER.password}" ${plainUsers};`,
    "ssl.keystore.type": "PEM",
    "ssl.keystore.location": keystore,
    "ssl.truststore.type": "PEM",
    "ssl.truststore.location": secure.caFile,
    "ssl.client.auth": "none",
  };
}

/** Sets configs of `topic` (`retention.ms`, `segment.ms`, ...), as `kafka-configs --alter` does. */
export async function setTopicConfig(
  brokers: string[],
  topic: string,
  configs: Record<string, string>,
): Promise<void> {
  const admin = createKafka(brokers, { retries: 3 }).admin();
  await admin.connect();
  try {
    await admin.alterConfigs({
      validateOnly: false,
      resources: [{
        type: 2, // TOPIC
        name: topic,
        configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })),
      }],
    });
  } finally {
    await admin.disconnect();
  }
}

/** The first offset partition `partition` of `topic` still holds, and its end. */
export async function topicBounds(
  brokers: string[],
  topic: string,
  partition = 0,
): Promise<{ start: number; end: number }> {
  const admin = createKafka(brokers, { retries: 3 }).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    const entry = offsets.find((o) => o.partition === partition);
    if (entry === undefined) throw new Error(`no partition ${partition} in ${topic}`);
    return { start: Number(entry.low), end: Number(entry.high) };
  } finally {
    await admin.disconnect();
  }
}

/**
 * Lets the broker's retention remove the start of `topic` (partition 0) up
 * to at least `offset`, as a short `retention.ms` does in production: the
 * retention is shortened (and segments roll every 200 ms while records keep
 * coming: a test's writes, or the nodes' idle ticks), the broker deletes the
 * old segments, then the retention is set back to keeping everything.
 * Returns the new start.
 */
export async function expireLogBefore(
  brokers: string[],
  topic: string,
  offset: number,
  timeoutMs = 60_000,
): Promise<number> {
  await setTopicConfig(brokers, topic, { "segment.ms": "200", "retention.ms": "500" });
  try {
    return await waitFor(`the broker's retention to remove ${topic} up to ${offset}`, async () => {
      const { start } = await topicBounds(brokers, topic);
      return start >= offset ? start : undefined;
    }, { timeoutMs, intervalMs: 250 });
  } finally {
    await setTopicConfig(brokers, topic, { "segment.ms": "604800000", "retention.ms": "-1" });
  }
}
