/**
 * Test harness: one-call helpers that start real Redis, Sentinel racks and
 * Kafka on free loopback ports, in scratch folders, and always stop them
 * (use them with `await using`); and the provisioning that installs them
 * (tests, benches and tools all take it from here).
 */

export { delay, waitFor, WaitTimeout } from "./wait.ts";
export { freePort, freePorts } from "./ports.ts";
export { scratchDir, Service } from "./service.ts";
export { parseInfo, redisCli, type RedisOptions, RedisServer, startRedis } from "./redis.ts";
export {
  type Address,
  MASTER_NAME,
  type RackOptions,
  SentinelRack,
  SentinelServer,
  startRack,
} from "./rack.ts";
export {
  expireLogBefore,
  KafkaCluster,
  type KafkaLease,
  KafkaNode,
  type KafkaOptions,
  setTopicConfig,
  startKafka,
  topicBounds,
  uniqueTopic,
  useKafka,
} from "./kafka.ts";
export { type PylonOptions, PylonProcess, startPylon } from "./pylon.ts";
export { RawClient, shown } from "./raw_client.ts";
export { type RackSetup, type RackSlot, startWorld, World, type WorldRack } from "./world.ts";
export { Relay } from "./relay.ts";
export { type RackNode, RaftRack, startRaftRack } from "./raft_rack.ts";
export { type CertPair, makeCerts, type TestCerts } from "./certs.ts";
export {
  ensureFaketime,
  ensureFrameworks,
  ensureKafka,
  ensureNutcracker,
  ensureRedis,
  ensureRedis62,
  ensureRedisPy,
  type FrameworksInstall,
  provision,
  ProvisionError,
  type RedisBinary,
} from "./provision.ts";
