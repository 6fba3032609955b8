/**
 * `deno task world`: a complete local world to try Pylon with — one Kafka
 * broker, two racks ("east" and "west"), each a Sentinel-watched Redis
 * (master, replica, three Sentinels) with a Pylon node in front — peered with
 * a world secret. Stays in the foreground; Ctrl-C stops and removes
 * everything.
 */

import {
  ensureKafka,
  ensureRedis,
  freePort,
  ProvisionError,
  startKafka,
  startPylon,
  startRack,
} from "../tests/harness/mod.ts";

/** A port that is free now: `preferred` if possible. */
function portNear(preferred: number): number {
  try {
    Deno.listen({ hostname: "127.0.0.1", port: preferred }).close();
    return preferred;
  } catch {
    return freePort();
  }
}

async function main(): Promise<number> {
  try {
    await ensureRedis();
    await ensureKafka();
  } catch (error) {
    if (error instanceof ProvisionError) {
      console.error(`world: ${error.message}`);
      return 1;
    }
    throw error;
  }
  console.error("world: starting Kafka and two Sentinel-watched racks (about 15 s)...");
  await using kafka = await startKafka();
  await using east = await startRack();
  await using west = await startRack();
  const secret = crypto.randomUUID();
  const topic = "pylon-world";
  const nodes = [
    { id: "east-1", rack: "east", redis: east, port: portNear(6380), peerPort: freePort() },
    { id: "west-1", rack: "west", redis: west, port: portNear(6381), peerPort: freePort() },
  ];
  const pylons = [];
  for (const node of nodes) {
    const other = nodes.find((n) => n !== node)!;
    pylons.push(
      await startPylon({
        port: node.port,
        redis: { sentinels: node.redis.sentinelList, master: node.redis.masterName },
        args: [
          "--node-id",
          node.id,
          "--rack",
          node.rack,
          "--log",
          `kafka://${kafka.brokers.join(",")}/${topic}`,
          "--peer-listen",
          `127.0.0.1:${node.peerPort}`,
          "--peer",
          `${other.id}@${other.rack}@127.0.0.1:${other.peerPort}`,
          "--world-secret",
          secret,
        ],
      }),
    );
  }
  await using _east = pylons[0]!;
  await using _west = pylons[1]!;
  const [e, w] = nodes as [typeof nodes[0], typeof nodes[0]];
  const eastMaster = await east.master();
  const westMaster = await west.master();
  console.log(`
Pylon world is up. Ctrl-C stops and removes everything.

  Kafka       ${kafka.brokers.join(",")}  topic ${topic}
  rack east   Pylon 127.0.0.1:${e.port}  Redis master ${eastMaster.address}  Sentinels ${east.sentinelList}
  rack west   Pylon 127.0.0.1:${w.port}  Redis master ${westMaster.address}  Sentinels ${west.sentinelList}

Try:
  redis-cli -p ${e.port} SET greeting "hello from east"
  redis-cli -p ${w.port} GET greeting
  redis-cli -p ${w.port} INCR visits
  redis-cli -p ${e.port} INCR visits
  redis-cli -p ${e.port} PYLON INFO
  redis-cli -p ${eastMaster.port} GET greeting        # east's own Redis, written by the log
`);
  const stop = Promise.withResolvers<void>();
  Deno.addSignalListener("SIGINT", () => stop.resolve());
  Deno.addSignalListener("SIGTERM", () => stop.resolve());
  await stop.promise;
  console.error("world: stopping...");
  return 0;
}

Deno.exit(await main());
