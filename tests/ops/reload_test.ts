/**
 * SIGHUP reloads the configuration file: the log level and other tuning
 * options change live, a peer that moved is dialled at its new address, open
 * connections keep working, options that need a restart are named and kept.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Redis } from "ioredis";
import {
  type RackSlot,
  Relay,
  startPylon,
  startRedis,
  useKafka,
  waitFor,
  World,
} from "../harness/mod.ts";

/** A configuration file in a folder of its own, removed with it. */
async function configFile(config: object) {
  const dir = await Deno.makeTempDir({ prefix: "pylon-reload-" });
  const path = join(dir, "pylon.json");
  const write = (next: object) => Deno.writeTextFile(path, JSON.stringify(next));
  await write(config);
  return {
    path,
    write,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

/** A client connection that counts its reconnects. */
async function connect(port: number) {
  const client = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0 });
  let reconnects = 0;
  client.on("reconnecting", () => reconnects++);
  await client.connect();
  return {
    client,
    reconnects: () => reconnects,
    [Symbol.dispose]: () => client.disconnect(),
  };
}

Deno.test("SIGHUP changes the log level, ack modes and contentious keys without dropping a connection", async () => {
  await using redis = await startRedis();
  await using file = await configFile({ "log-level": "warning" });
  await using pylon = await startPylon({
    redis: { url: redis.url },
    args: ["--config", file.path],
  });
  await pylon.waitApplying();
  using connection = await connect(pylon.port);
  const { client } = connection;
  assert.equal(await client.set("a", "1"), "OK");
  const before = await Deno.readTextFile(pylon.service.logPath);
  assert.doesNotMatch(before, /\[INF\]|INFO/i, "warning level: no info lines yet");

  assert.match(await pylon.call("PYLON", "INFO"), /contentious:\r\n/);
  await file.write({
    "log-level": "info",
    "ack-log": ["set"],
    "max-clients": 1,
    "log-segment-bytes": 1048576,
    "contentious": ["lock:*"],
  });
  pylon.service.signal("SIGHUP");
  await pylon.waitForLog(/reload: .*logLevel.*changed/);
  await pylon.waitForLog(/reload: "?logSegmentBytes"? change only at a restart/);
  // Info lines now appear: the level changed live.
  assert.equal(await client.set("b", "2"), "OK");
  assert.equal(await client.get("b"), "2");
  assert.equal(await client.ping(), "PONG");
  assert.equal(connection.reconnects(), 0, "the connection stayed up");
  // The client limit changed live: the open connection stays, a second one is refused.
  const second = await Deno.connect({ hostname: "127.0.0.1", port: pylon.port });
  try {
    const buffer = new Uint8Array(256);
    const n = await second.read(buffer);
    assert.match(
      new TextDecoder().decode(buffer.subarray(0, n ?? 0)),
      /^-ERR max number of clients reached\r\n/,
    );
  } finally {
    second.close();
  }
  const info = async () => String(await client.call("PYLON", "INFO"));
  assert.match(await info(), /node_id:/);
  // Contentious keys changed live: a read of one is now strong.
  assert.match(await info(), /contentious:lock:\*\r\n/);
  assert.equal(await client.get("lock:x"), null);
  assert.match(await info(), /strong_reads:1\r\n/);
});

Deno.test("SIGHUP dials a peer at its new address without dropping a connection", async () => {
  await using kafka = await useKafka();
  // Only the world's flags: no rack is started through it.
  const world = new World(kafka.brokers, []);
  const [slot0, slot1] = world.plan(2) as [RackSlot, RackSlot];
  // Node 0 first knows node 1 through a relay: its old address.
  await using relay = await Relay.start({ host: "127.0.0.1", port: slot1.peerPort });
  const peerAt = (address: string) => ({ peer: [`${slot1.nodeId}@${slot1.name}@${address}`] });
  await using file = await configFile(peerAt(relay.address));
  await using redis0 = await startRedis();
  await using redis1 = await startRedis();
  await using _node1 = await startPylon({
    redis: { url: redis1.url },
    args: world.nodeArgs(slot1, [slot0]),
  });
  await using node0 = await startPylon({
    redis: { url: redis0.url },
    args: [...world.nodeArgs(slot0, []), "--config", file.path],
  });
  const peerLine = async () =>
    (await node0.call("PYLON", "INFO") as string).match(/peer0:id=node1,[^\r\n]*/)?.[0] ?? "";
  await waitFor(
    "node1 up through the relay",
    async () => (await peerLine()).includes(`address=${relay.address},state=up`) || undefined,
  );

  using connection = await connect(node0.port);
  const { client } = connection;
  assert.equal(await client.set("a", "1"), "OK");
  // The old address goes dead: node1 is down for node0.
  relay.cut();
  await waitFor(
    "node1 down at its old address",
    async () => (await peerLine()).includes("state=down") || undefined,
  );
  const direct = `127.0.0.1:${slot1.peerPort}`;
  await file.write(peerAt(direct));
  node0.service.signal("SIGHUP");
  await node0.waitForLog(/reload: .*peers.* changed/);
  await waitFor(
    "node1 up at its new address",
    async () => (await peerLine()).includes(`address=${direct},state=up`) || undefined,
  );
  assert.equal(await client.get("a"), "1");
  assert.equal(connection.reconnects(), 0, "the client's connection stayed up");
  // The link works: a write through node0 reaches rack1.
  assert.equal(await client.set("b", "2"), "OK");
  await waitFor("b in rack1", async () => (await redis1.call("GET", "b")) === "2" || undefined);
});
