/** INFO as a client sees it through Pylon, and PYLON INFO by section, against a real node. */

import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { startPylon, startRedis } from "../harness/mod.ts";

Deno.test("INFO hides Pylon's metadata db and adds a # Pylon section; PYLON INFO takes sections", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({ redis: { url: redis.url } });
  await pylon.waitApplying();
  const client = new Redis({ port: pylon.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  await client.connect();
  try {
    await client.set("k", "v");
    const info = await client.info();
    assert.match(info, /^# Server\r\n/);
    assert.match(info, /\r\n# Pylon\r\nnode_id:[^\r]+\r\nrack:/);
    assert.match(info, /\r\ndb0:keys=1,/);
    assert.doesNotMatch(info, /\r\ndb15:/, "the metadata db is no client's data");
    // Redis itself has it.
    assert.match(await redis.call("INFO", "keyspace"), /db15:keys=/);

    const keyspace = await client.info("keyspace");
    assert.equal(keyspace.trim(), "# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0");
    assert.match(await client.info("pylon"), /^# Pylon\r\n/);

    const clients = String(await client.call("PYLON", "INFO", "clients"));
    assert.match(clients, /^# Clients\r\nconnected_clients:\d+/);
    assert.doesNotMatch(clients, /# Node/);
    const two = String(await client.call("PYLON", "INFO", "NODE", "writes"));
    assert.deepEqual([...two.matchAll(/^# (\w+)/gm)].map((m) => m[1]), ["Node", "Writes"]);
    assert.equal(String(await client.call("PYLON", "INFO", "nosuch")), "");
    assert.match(String(await client.call("PYLON", "INFO")), /# Applier/);
  } finally {
    client.disconnect();
  }
});
