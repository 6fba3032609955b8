/**
 * Reads stay available: while a rack's Redis is down its node answers reads
 * from the fastest peer rack (and forwards data-reply writes), and once its
 * Redis is back and caught up, it serves from it again.
 */

import assert from "node:assert/strict";
import { type RedisServer, startWorld, useKafka, waitFor } from "../harness/mod.ts";
import { info, waitHealthyPeer } from "./world.ts";

Deno.test("reads through a rack whose Redis is down are served by a peer, and come home when it returns", async () => {
  await using kafka = await useKafka();
  await using world = await startWorld({ brokers: kafka.brokers, racks: 2 });
  const [a, b] = world.racks as [typeof world.racks[0], typeof world.racks[0]];
  assert.equal(await a!.pylon.call("SET", "k", "from-a"), "OK");
  await waitFor(
    "k to reach rack1",
    async () => (await b!.pylon.call("GET", "k")) === "from-a" ? true : undefined,
  );
  await waitHealthyPeer(b!);

  const redisB = b!.redis as RedisServer;
  await redisB.kill();
  await waitFor(
    "rack1 to notice its Redis is gone",
    async () => (await info(b!)).get("upstream_healthy") === "0" ? true : undefined,
  );
  for (let i = 0; i < 50; i++) {
    assert.equal(
      await b!.pylon.call("GET", "k"),
      "from-a",
      `read ${i} while rack1's Redis is down`,
    );
  }
  assert.equal(
    await b!.pylon.call("INCR", "n"),
    "1",
    "a data-reply write is forwarded and gets the real reply",
  );
  const down = await info(b!);
  assert.ok(
    Number(down.get("reads_forwarded")) >= 50,
    `reads forwarded: ${down.get("reads_forwarded")}`,
  );
  assert.ok(Number(down.get("writes_forwarded")) >= 1);

  await redisB.restart();
  await waitFor(
    "rack1 to catch up and serve its own reads",
    async () => (await info(b!)).get("serves_reads") === "1" ? true : undefined,
    {
      timeoutMs: 30_000,
    },
  );
  const before = Number((await info(b!)).get("reads_forwarded"));
  for (let i = 0; i < 20; i++) assert.equal(await b!.pylon.call("GET", "k"), "from-a");
  assert.equal(
    await b!.pylon.call("GET", "n"),
    "1",
    "rack1's own Redis replayed the forwarded write",
  );
  assert.equal(
    Number((await info(b!)).get("reads_forwarded")),
    before,
    "no read is forwarded once it is back",
  );
});
