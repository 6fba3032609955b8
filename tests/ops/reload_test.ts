/**
 * SIGHUP reloads the configuration file: the log level and other tuning
 * options change live, open connections keep working, options that need a
 * restart are named and kept.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Redis } from "ioredis";
import { startPylon, startRedis } from "../harness/mod.ts";

Deno.test("SIGHUP changes the log level, ack modes and contentious keys without dropping a connection", async () => {
  await using redis = await startRedis();
  const dir = await Deno.makeTempDir({ prefix: "pylon-reload-" });
  try {
    const file = join(dir, "pylon.json");
    await Deno.writeTextFile(file, JSON.stringify({ "log-level": "warning" }));
    await using pylon = await startPylon({ redis: { url: redis.url }, args: ["--config", file] });
    await pylon.waitApplying();
    const client = new Redis({ port: pylon.port, lazyConnect: true, maxRetriesPerRequest: 0 });
    let reconnects = 0;
    client.on("reconnecting", () => reconnects++);
    await client.connect();
    try {
      assert.equal(await client.set("a", "1"), "OK");
      const before = await Deno.readTextFile(pylon.service.logPath);
      assert.doesNotMatch(before, /\[INF\]|INFO/i, "warning level: no info lines yet");

      assert.match(await pylon.call("PYLON", "INFO"), /contentious:\r\n/);
      await Deno.writeTextFile(
        file,
        JSON.stringify({
          "log-level": "info",
          "ack-log": ["set"],
          "max-clients": 5,
          "contentious": ["lock:*"],
        }),
      );
      pylon.service.signal("SIGHUP");
      await pylon.waitForLog(/reload: .*logLevel.*changed/);
      await pylon.waitForLog(/reload: "?clientsMax"? change only at a restart/);
      // Info lines now appear: the level changed live.
      assert.equal(await client.set("b", "2"), "OK");
      assert.equal(await client.get("b"), "2");
      assert.equal(await client.ping(), "PONG");
      assert.equal(reconnects, 0, "the connection stayed up");
      assert.match(await pylon.call("PYLON", "INFO"), /node_id:/);
      // Contentious keys changed live: a read of one is now strong.
      assert.match(await pylon.call("PYLON", "INFO"), /contentious:lock:\*\r\n/);
      assert.equal(await client.get("lock:x"), null);
      assert.match(await pylon.call("PYLON", "INFO"), /strong_reads:1\r\n/);
    } finally {
      client.disconnect();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
