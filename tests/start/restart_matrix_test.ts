/**
 * Exactly once at every start: a node and its Redis are stopped with kill -9
 * and started again in every combination of start order, Redis `databases`,
 * metadata location given or not, listen port kept or changed, and Redis
 * keeping its data or coming back empty — on the embedded log and on Kafka.
 * After each restart the counter equals the acknowledged increments exactly,
 * checked on the rack's Redis itself, and Pylon's metadata is where the node
 * recorded it and nowhere else.
 */

import assert from "node:assert/strict";
import {
  freePort,
  parseInfo,
  type PylonProcess,
  type RedisServer,
  scratchDir,
  startPylon,
  startRedis,
  uniqueTopic,
  useKafka,
} from "../harness/mod.ts";

interface Scenario {
  order: "pylon-first" | "redis-first";
  databases: 16 | 32;
  metaGiven: boolean;
  samePort: boolean;
  redisKeeps: boolean;
}

const SCENARIOS: Scenario[] = [];
for (const order of ["pylon-first", "redis-first"] as const) {
  for (const databases of [16, 32] as const) {
    for (const metaGiven of [true, false]) {
      for (const samePort of [true, false]) {
        for (const redisKeeps of [true, false]) {
          SCENARIOS.push({ order, databases, metaGiven, samePort, redisKeeps });
        }
      }
    }
  }
}

/** A db that is neither the first nor the last, so a given location differs from the default. */
const GIVEN_META_DB = 7;
const INCREMENTS = 3;

function name(s: Scenario): string {
  return [
    s.order,
    `databases ${s.databases}`,
    s.metaGiven ? `--meta-db ${GIVEN_META_DB}` : "meta db not given",
    s.samePort ? "same port" : "another port",
    s.redisKeeps ? "Redis kept its data" : "Redis came back empty",
  ].join(", ");
}

/** The dbs of a Redis that hold keys, from INFO keyspace. */
async function dbsWithKeys(redis: RedisServer): Promise<number[]> {
  const info = parseInfo(await redis.call("INFO", "keyspace"));
  return [...info.keys()].map((k) => Number(k.slice(2))).sort((a, b) => a - b);
}

async function runScenario(s: Scenario, logArgs: () => string[]): Promise<void> {
  await using redis = await startRedis({
    appendonly: "always",
    config: { databases: String(s.databases) },
  });
  const dataDir = await scratchDir("pylon-matrix");
  try {
    const args = [...logArgs(), ...(s.metaGiven ? ["--meta-db", String(GIVEN_META_DB)] : [])];
    const metaDb = s.metaGiven ? GIVEN_META_DB : s.databases - 1;
    const portA = freePort();
    const portB = s.samePort ? portA : freePort();
    const redisOption = { url: redis.url };

    {
      await using first = await startPylon({ redis: redisOption, port: portA, dataDir, args });
      for (let i = 1; i <= INCREMENTS; i++) {
        assert.equal(await first.call("INCR", "counter"), String(i));
      }
      await first.kill();
    }
    await redis.kill();
    if (!s.redisKeeps) await redis.wipe();

    let second: PylonProcess;
    if (s.order === "pylon-first") {
      second = await startPylon({ redis: redisOption, port: portB, dataDir, args });
      // Proof that it ran without Redis before Redis came: its applier failed to connect.
      await second.waitForLog(/partition 0: .*ECONNREFUSED/);
      await redis.restart();
    } else {
      await redis.restart();
      second = await startPylon({ redis: redisOption, port: portB, dataDir, args });
    }
    await using _second = second;
    assert.equal(await second.call("INCR", "counter"), String(INCREMENTS + 1));
    assert.equal(await second.call("GET", "counter"), String(INCREMENTS + 1));
    // Independently, on the rack's Redis: the data, and Pylon's metadata in one place only.
    assert.equal(await redis.call("GET", "counter"), String(INCREMENTS + 1));
    assert.deepEqual(await dbsWithKeys(redis), [0, metaDb]);
    assert.match(await redis.call("-n", String(metaDb), "GET", "pylon:identity"), /"layout":1/);
    // Every increment applied; an idle partition also gets ticks (log time), so it may be past them.
    const applied = Number(await redis.call("-n", String(metaDb), "GET", "pylon:applied:0"));
    assert.ok(applied >= INCREMENTS + 1, `applied up to ${applied}`);
  } finally {
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
}

Deno.test(`restart matrix on the embedded log: ${SCENARIOS.length} scenarios`, async (t) => {
  for (const s of SCENARIOS) {
    await t.step(name(s), () => runScenario(s, () => []));
  }
});

Deno.test(`restart matrix on Kafka: ${SCENARIOS.length} scenarios`, async (t) => {
  await using kafka = await useKafka();
  for (const s of SCENARIOS) {
    const topic = uniqueTopic("matrix");
    await t.step(
      name(s),
      () => runScenario(s, () => ["--log", `kafka://${kafka.brokers.join(",")}/${topic}`]),
    );
  }
});
