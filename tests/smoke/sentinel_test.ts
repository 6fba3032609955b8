import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { startRack, waitFor } from "../harness/mod.ts";

Deno.test("ioredis finds the master through Sentinel and keeps writing after a forced failover", async () => {
  await using rack = await startRack();
  const client = new Redis({
    sentinels: rack.sentinelAddresses,
    name: rack.masterName,
    maxRetriesPerRequest: 3,
    // Sentinel closes clients of a demoted master; ioredis then asks the Sentinels again.
    sentinelRetryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
  });
  try {
    const before = await rack.master();
    await client.set("smoke:before", "1");
    assert.equal(await before.call("GET", "smoke:before"), "1");

    const after = await rack.failover();
    assert.notEqual(after.port, before.port, "the failover promoted the other server");

    // The first writes may fail while ioredis reconnects; a bounded poll waits for one that lands.
    await waitFor("a write through ioredis after the failover", async () => {
      await client.set("smoke:after", "2");
      return true;
    }, { timeoutMs: 20_000, intervalMs: 100 });
    assert.equal(await after.call("GET", "smoke:after"), "2", "the write reached the new master");
    const role = await after.info("replication");
    assert.equal(role.get("role"), "master");
    assert.equal(
      await client.get("smoke:before"),
      "1",
      "data written before the failover survived",
    );
  } finally {
    client.disconnect();
  }
});
