/**
 * Apache Kafka in KRaft mode, started from the jars that tools/provision.ts
 * assembled: one combined broker+controller, or three of them for fault tests.
 */

import { join } from "node:path";
import { ensureKafka, type KafkaInstall } from "../../tools/provision.ts";
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
}

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

  private constructor(nodes: KafkaNode[], dir: string) {
    this.nodes = nodes;
    this.dir = dir;
  }

  /** Formats the storage of every node, starts them and waits until all are registered brokers. */
  static async start(options: KafkaOptions = {}): Promise<KafkaCluster> {
    const install = await ensureKafka();
    const count = options.nodes ?? 1;
    const dir = await scratchDir(`kafka-${count}`);
    const ports = freePorts(count * 2);
    const voters = Array.from({ length: count }, (_, i) => `${i + 1}@127.0.0.1:${ports[count + i]}`)
      .join(",");
    const id = clusterId();
    const nodes: KafkaNode[] = [];
    const cluster = new KafkaCluster(nodes, dir);
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
        await format(install, id, props, nodeDir);
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
    const admin = createKafka(alive, { retries: 0, requestTimeoutMs: 2_000 }).admin();
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
    "advertised.listeners": `PLAINTEXT://127.0.0.1:${layout.port}`,
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
    // A killed broker is fenced, and leaves the ISR, within seconds instead of 9 s / 30 s.
    "broker.session.timeout.ms": "3000",
    "broker.heartbeat.interval.ms": "500",
    "replica.lag.time.max.ms": "5000",
    // Two cores: keep the thread pools small.
    "num.network.threads": "2",
    "num.io.threads": "4",
    "num.recovery.threads.per.data.dir": "1",
    "background.threads": "2",
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
): Promise<void> {
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
