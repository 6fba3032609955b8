/**
 * The admin listener against a real node: `/healthz`, `/readyz` following the
 * rack's Redis, and `/metrics` read by an independent Prometheus text-format
 * parser, its series moving under load.
 */

import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { freePort, startPylon, startRedis, waitFor } from "../harness/mod.ts";
import { adminGet, type Family, parsePrometheusText, sampleValue } from "../harness/prometheus.ts";

async function scrape(port: number): Promise<Map<string, Family>> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /text\/plain/);
  return parsePrometheusText(await response.text());
}

/** The value of series `name` whose labels include `labels` (a histogram: its count). */
function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}) {
  const found = lookup(families, name, labels);
  assert.ok(found !== undefined, `${name} ${JSON.stringify(labels)} is exposed`);
  return found;
}

function lookup(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string>,
): number | undefined {
  return sampleValue(families, name, labels);
}

/** A Redis and a node serving the admin endpoints, applying; disposed together. */
async function startWithAdmin() {
  const redis = await startRedis();
  const adminPort = freePort();
  const pylon = await startPylon({
    redis: { url: redis.url },
    args: ["--admin-listen", `127.0.0.1:${adminPort}`],
  }).catch(async (error) => {
    await redis[Symbol.asyncDispose]();
    throw error;
  });
  await pylon.waitApplying();
  return {
    redis,
    pylon,
    adminPort,
    async [Symbol.asyncDispose]() {
      await pylon[Symbol.asyncDispose]();
      await redis[Symbol.asyncDispose]();
    },
  };
}

Deno.test("/healthz, /readyz and /metrics: parsed by a Prometheus parser, series move under load", async () => {
  await using node = await startWithAdmin();
  const { pylon, adminPort } = node;
  assert.deepEqual(await adminGet(adminPort, "/healthz"), { status: 200, body: "ok\n" });
  await waitFor(
    "/readyz",
    async () => (await adminGet(adminPort, "/readyz")).status === 200 || undefined,
  );
  assert.equal((await adminGet(adminPort, "/nope")).status, 404);

  const before = await scrape(adminPort);
  for (const family of before.values()) {
    assert.match(family.name, /^pylon_/, "every series is Pylon's");
  }
  const client = new Redis({ port: pylon.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  await client.connect();
  try {
    for (let i = 0; i < 100; i++) {
      await client.set(`m${i}`, "v");
      assert.equal(await client.get(`m${i}`), "v");
    }
    const beforeRefusal = await scrape(adminPort);
    await assert.rejects(client.call("NOSUCHCOMMAND"));
    const after = await scrape(adminPort);
    const moved = (name: string, labels: Record<string, string> = {}) =>
      value(after, name, labels) - (lookup(before, name, labels) ?? 0);
    assert.ok(moved("pylon_read_duration_seconds") >= 100, "reads observed");
    assert.ok(moved("pylon_write_duration_seconds", { stage: "logged" }) >= 100);
    assert.ok(moved("pylon_write_duration_seconds", { stage: "applied" }) >= 100);
    assert.ok(moved("pylon_write_duration_seconds", { stage: "answered" }) >= 100);
    assert.ok(moved("pylon_writes_total", { outcome: "accepted" }) >= 100);
    assert.ok(moved("pylon_apply_batch_duration_seconds") >= 1);
    assert.ok(value(after, "pylon_applied_position", { partition: "0" }) >= 100);
    assert.equal(value(after, "pylon_apply_lag_ops", { partition: "0" }) >= 0, true);
    const unknown = { reason: "unknown_command" };
    assert.equal(
      value(after, "pylon_refusals_total", unknown) -
        (lookup(beforeRefusal, "pylon_refusals_total", unknown) ?? 0),
      1,
    );
    assert.ok(value(after, "pylon_connected_clients") >= 1);
    assert.equal(value(after, "pylon_ready"), 1);
    assert.equal(after.get("pylon_writes_total")!.type, "counter");
    assert.equal(after.get("pylon_read_duration_seconds")!.type, "histogram");
  } finally {
    client.disconnect();
  }
});

Deno.test("/readyz is false while the rack's Redis is down and true again once it is back", async () => {
  await using node = await startWithAdmin();
  const { redis, adminPort } = node;
  await waitFor(
    "ready",
    async () => (await adminGet(adminPort, "/readyz")).status === 200 || undefined,
  );
  await redis.stop();
  const down = await waitFor("not ready", async () => {
    const r = await adminGet(adminPort, "/readyz");
    return r.status === 503 ? r.body : undefined;
  });
  assert.match(down, /does not serve reads/);
  assert.equal((await adminGet(adminPort, "/healthz")).status, 200, "alive all the same");
  await redis.restart();
  await waitFor(
    "ready again",
    async () => (await adminGet(adminPort, "/readyz")).status === 200 || undefined,
  );
  const families = await scrape(adminPort);
  assert.equal(value(families, "pylon_ready"), 1);
});
