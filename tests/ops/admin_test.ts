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

/**
 * Starts a node and, from its first moment, sends it reads and asks /readyz
 * right after each; returns the rounds (read served, /readyz status).
 */
async function readsAndReadiness(args: string[]): Promise<{ read: boolean; ready: number }[]> {
  await using redis = await startRedis();
  const adminPort = freePort();
  await using pylon = await startPylon({
    redis: { url: redis.url },
    args: ["--admin-listen", `127.0.0.1:${adminPort}`, ...args],
    waitReady: false,
  });
  const rounds: { read: boolean; ready: number }[] = [];
  await waitFor("reads served by the node", async () => {
    const read = await pylon.call("EXISTS", "k").then((v) => v === "0", () => false);
    const ready = (await adminGet(adminPort, "/readyz").catch(() => ({ status: 0 }))).status;
    rounds.push({ read, ready });
    return rounds.filter((r) => r.read).length >= 20 ? true : undefined;
  }, { timeoutMs: 60_000, intervalMs: 5 });
  return rounds;
}

function assertReadyWithFirstRead(rounds: { read: boolean; ready: number }[], what: string) {
  const first = rounds.findIndex((r) => r.read);
  assert.ok(first > 0, `${what}: the first rounds came before the node served reads`);
  for (const [i, round] of rounds.entries()) {
    if (i >= first) {
      assert.equal(
        round.ready,
        200,
        `${what}, round ${i}: a read was served, /readyz ${round.ready}`,
      );
    } else {
      assert.notEqual(
        round.ready,
        200,
        `${what}, round ${i}: /readyz 200 before any read was served`,
      );
    }
  }
}

Deno.test("/readyz turns 200 in the same moment the node first serves a read from its own Redis", async () => {
  assertReadyWithFirstRead(await readsAndReadiness([]), "one node");
  // A node of a world whose other rack is not up: it serves reads itself before it leads its rack.
  const peerPort = freePort();
  assertReadyWithFirstRead(
    await readsAndReadiness([
      "--node-id",
      "alone",
      "--rack",
      "east",
      "--peer-listen",
      `127.0.0.1:${freePort()}`,
      "--world-secret",
      "a-world-secret-for-readyz",
      "--peer",
      `absent@west@127.0.0.1:${peerPort}`,
    ]),
    "a world node whose peer is down",
  );
  // A node that does not apply (its rack's applier runs elsewhere, or is off) still serves reads.
  assertReadyWithFirstRead(await readsAndReadiness(["--applier", "off"]), "a node not applying");
});
