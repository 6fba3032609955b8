/**
 * Every write class, through Pylon on Kafka, replies exactly as the same
 * request does on a twin Redis from the same starting state: a generated
 * sequence of writes and reads over all data types, compared reply by reply,
 * in RESP2 and RESP3. Then both datasets must be identical.
 */

import assert from "node:assert/strict";
import type { RespValue } from "../../src/resp/value.ts";
import { RawClient, startPylon, startRedis, uniqueTopic, useKafka } from "../harness/mod.ts";
import { workload } from "./workload.ts";

const SEED = Number(Deno.env.get("PYLON_SEED") ?? 4242);
const STEPS = 700;

function normalize(value: RespValue, step: { unordered?: boolean; ttl?: boolean }): unknown {
  if (step.ttl && value.type === "integer") return value.value > 0n ? "positive" : value.value;
  if (step.unordered && (value.type === "array" || value.type === "set") && value.value !== null) {
    return value.value.map((v) => JSON.stringify(plain(v))).sort();
  }
  return plain(value);
}

function plain(value: RespValue): unknown {
  return JSON.parse(JSON.stringify(value, (_k, v) => {
    if (typeof v === "bigint") return `${v}n`;
    if (v instanceof Uint8Array) return new TextDecoder().decode(v);
    return v;
  }));
}

for (const protocol of [2, 3] as const) {
  Deno.test(`RESP${protocol}: ${STEPS} generated requests reply through Pylon exactly as on Redis (seed ${SEED})`, async () => {
    await using kafka = await useKafka();
    await using behind = await startRedis();
    await using twin = await startRedis();
    await using pylon = await startPylon({
      redis: { url: behind.url },
      args: ["--log", `kafka://${kafka.brokers.join(",")}/${uniqueTopic("equivalence")}`],
    });
    await using viaPylon = await RawClient.connect(pylon.port);
    await using direct = await RawClient.connect(twin.port);
    if (protocol === 3) {
      for (const client of [viaPylon, direct]) {
        await client.command("HELLO", "3");
        assert.equal((await client.read()).type, "map");
      }
    }
    const steps = workload(SEED + protocol, STEPS);
    let compared = 0;
    for (const [i, step] of steps.entries()) {
      await viaPylon.command(...step.argv);
      await direct.command(...step.argv);
      const got = await viaPylon.read(15_000);
      const want = await direct.read();
      assert.deepEqual(
        normalize(got, step),
        normalize(want, step),
        `step ${i}: ${step.argv.join(" ")}`,
      );
      compared++;
    }
    assert.equal(compared, steps.length);

    // The datasets behind both are identical (Pylon's own metadata lives in db 15).
    for (const db of ["0", "1", "2"]) {
      await viaPylon.command("SELECT", db);
      await viaPylon.read();
      await direct.command("SELECT", db);
      await direct.read();
      await viaPylon.command("KEYS", "*");
      await direct.command("KEYS", "*");
      assert.deepEqual(
        normalize(await viaPylon.read(), { unordered: true }),
        normalize(await direct.read(), { unordered: true }),
      );
    }
    const digests = await Promise.all([behind, twin].map(async (r) => {
      await r.call("-n", "15", "FLUSHDB");
      return await r.call("DEBUG", "DIGEST");
    }));
    assert.equal(digests[0], digests[1], "DEBUG DIGEST of Pylon's Redis equals the twin's");
  });
}
