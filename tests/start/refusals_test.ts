/**
 * Starts that must be refused, never guessed around: each ends the node with
 * status 78 and a message that names the cause and the way forward, and
 * leaves the rack's Redis as it was. Where there is a right way, it is then
 * taken and the counters are exact.
 */

import assert from "node:assert/strict";
import { Kafka } from "kafkajs";
import {
  parseInfo,
  type PylonOptions,
  type RedisServer,
  scratchDir,
  startPylon,
  startRedis,
  uniqueTopic,
  useKafka,
} from "../harness/mod.ts";

const REFUSED = 78;

/** Starts a node that must refuse to start; its status and log. */
async function refusedStart(options: PylonOptions): Promise<string> {
  await using pylon = await startPylon({ ...options, waitReady: false });
  const { code, log } = await pylon.exit();
  assert.equal(code, REFUSED, `status ${code}; log:\n${log}`);
  return log;
}

/** A data folder for the test, removed after it. */
async function withDataDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await scratchDir("pylon-refusal");
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function keyspace(redis: RedisServer): Promise<string[]> {
  return [...parseInfo(await redis.call("INFO", "keyspace")).entries()].map(([k, v]) =>
    `${k}:${v.split(",")[0]}`
  );
}

Deno.test("a Redis that holds data but no Pylon marker is refused and left untouched", async () => {
  await using redis = await startRedis();
  await redis.call("SET", "their-key", "their-value");
  await withDataDir(async (dataDir) => {
    const log = await refusedStart({ redis: { url: redis.url }, dataDir });
    assert.match(log, /holds data \(in db 0\) but no Pylon marker.*FLUSHALL/);
  });
  assert.deepEqual(await keyspace(redis), ["db0:keys=1"]);
});

Deno.test("metadata that moved with the number of databases is refused, naming the db to give", async () => {
  await using redis = await startRedis({ appendonly: "always" });
  await withDataDir(async (dataDir) => {
    {
      await using first = await startPylon({ redis: { url: redis.url }, dataDir });
      assert.equal(await first.call("INCR", "counter"), "1");
    }
    // The same Redis with more databases keeps its data where it was, in db 15.
    await redis.stop();
    await Deno.writeTextFile(`${redis.dir}/redis.conf`, "databases 32\n", { append: true });
    await redis.restart();
    await withDataDir(async (freshDir) => {
      const log = await refusedStart({ redis: { url: redis.url }, dataDir: freshDir });
      assert.match(log, /metadata in db 15, but this node uses db 31.*--meta-db 15/);
    });
    // The node that recorded db 15 carries on; so does a new folder given --meta-db 15.
    {
      await using again = await startPylon({ redis: { url: redis.url }, dataDir });
      assert.equal(await again.call("INCR", "counter"), "2");
    }
  });
  await withDataDir(async (freshDir) => {
    // A new folder of its own has a log of its own: only a node of the same log may take over.
    const log = await refusedStart({
      redis: { url: redis.url },
      dataDir: freshDir,
      args: ["--meta-db", "15"],
    });
    assert.match(log, /is applied from the log local:\w+, not from this node's log/);
  });
  assert.equal(await redis.call("GET", "counter"), "2");
});

Deno.test("a data folder started as another node, rack or metadata db is refused", async () => {
  await using redis = await startRedis();
  await withDataDir(async (dataDir) => {
    {
      await using first = await startPylon({
        redis: { url: redis.url },
        dataDir,
        args: ["--node-id", "east-1", "--rack", "east"],
      });
      assert.equal(await first.call("INCR", "counter"), "1");
    }
    const cases: [string[], RegExp][] = [
      [["--node-id", "east-2"], /belongs to node 'east-1'.*names node 'east-2'/],
      [["--rack", "west"], /belongs to rack 'east'.*names rack 'west'/],
      [["--meta-db", "3"], /db 15 .*--meta-db 3/],
    ];
    for (const [args, message] of cases) {
      assert.match(await refusedStart({ redis: { url: redis.url }, dataDir, args }), message);
    }
    // Flags left out are read from the folder: the same node, on another port.
    await using again = await startPylon({ redis: { url: redis.url }, dataDir });
    assert.match(await again.call("PYLON", "INFO"), /node_id:east-1\r\nrack:east/);
    assert.equal(await again.call("INCR", "counter"), "2");
  });
});

Deno.test("a Redis applied from another log is refused", async () => {
  await using redis = await startRedis();
  await withDataDir(async (first) => {
    await using pylon = await startPylon({ redis: { url: redis.url }, dataDir: first });
    assert.equal(await pylon.call("INCR", "counter"), "1");
  });
  await withDataDir(async (other) => {
    const log = await refusedStart({ redis: { url: redis.url }, dataDir: other });
    assert.match(log, /is applied from the log local:\w+, not from this node's log local:\w+/);
  });
  assert.equal(await redis.call("GET", "counter"), "1");
});

Deno.test("a Kafka topic re-created under the same name is refused by the last applied op", async () => {
  await using kafka = await useKafka();
  await using redis = await startRedis({ appendonly: "always" });
  const topic = uniqueTopic("recreated");
  const args = ["--log", `kafka://${kafka.brokers.join(",")}/${topic}`];
  await withDataDir(async (dataDir) => {
    {
      await using pylon = await startPylon({ redis: { url: redis.url }, dataDir, args });
      for (let i = 1; i <= 3; i++) assert.equal(await pylon.call("INCR", "counter"), String(i));
    }
    // Same cluster, same name, other records: the marker alone cannot tell.
    const client = new Kafka({ brokers: kafka.brokers, logLevel: 0 });
    const admin = client.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] });
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = client.producer();
    await producer.connect();
    for (let i = 0; i < 4; i++) {
      await producer.send({ topic, messages: [{ partition: 0, value: `stranger ${i}` }] });
    }
    await producer.disconnect();
    const log = await refusedStart({ redis: { url: redis.url }, dataDir, args });
    assert.match(log, /says op \w+ was applied last, at offset 2.*holds \(not an op\) there/);
  });
  assert.equal(await redis.call("GET", "counter"), "3");
});

Deno.test("a Redis without CONFIG needs --meta-db on a first start, and then works", async () => {
  await using redis = await startRedis({ config: { "rename-command": 'CONFIG ""' } });
  await withDataDir(async (dataDir) => {
    const log = await refusedStart({ redis: { url: redis.url }, dataDir });
    assert.match(log, /refuses CONFIG GET databases .*give --meta-db/);
    await using pylon = await startPylon({
      redis: { url: redis.url },
      dataDir,
      args: ["--meta-db", "12"],
    });
    assert.equal(await pylon.call("INCR", "counter"), "1");
    assert.match(await redis.call("-n", "12", "GET", "pylon:identity"), /layout/);
  });
});

Deno.test("a Redis with fewer databases than the recorded metadata db is refused", async () => {
  await using redis = await startRedis({ config: { databases: "32" } });
  await withDataDir(async (dataDir) => {
    {
      await using pylon = await startPylon({ redis: { url: redis.url }, dataDir });
      assert.equal(await pylon.call("INCR", "counter"), "1");
    }
    await redis.stop();
    const conf = await Deno.readTextFile(`${redis.dir}/redis.conf`);
    await Deno.writeTextFile(
      `${redis.dir}/redis.conf`,
      conf.replace("databases 32", "databases 16"),
    );
    await redis.restart();
    const log = await refusedStart({ redis: { url: redis.url }, dataDir });
    assert.match(log, /refuses db 31, where Pylon's metadata is kept/);
  });
});

Deno.test("a second node on a data folder in use is refused", async () => {
  await using redis = await startRedis();
  await using first = await startPylon({ redis: { url: redis.url } });
  const log = await refusedStart({ redis: { url: redis.url }, dataDir: first.dir });
  assert.match(log, /data folder .* is in use by another Pylon process/);
  assert.equal(await first.call("INCR", "counter"), "1");
});
