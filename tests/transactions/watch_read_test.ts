/**
 * A read after WATCH shows at least what the watch is checked against: the
 * position this rack had applied when the key was watched. With the rack's
 * own Redis down, the read goes to a peer rack; a peer that has not applied
 * that far (here its Redis holds writes with CLIENT PAUSE WRITE, so its
 * applier stalls while it still serves reads) makes the read wait, and the
 * read never shows the value the watch has already moved past.
 */

import assert from "node:assert/strict";
import { waitHealthyPeer } from "../world/world.ts";
import { RawClient, type RedisServer, startWorld, useKafka, waitFor } from "../harness/mod.ts";
import type { RespValue } from "../../src/resp/value.ts";

function shown(reply: RespValue): string {
  if (reply.type === "bulk" && reply.value instanceof Uint8Array) {
    return new TextDecoder().decode(reply.value);
  }
  return JSON.stringify(reply);
}

Deno.test("with its Redis down, a read after WATCH waits for a peer that is behind the watch, never shows the older value", async () => {
  await using kafka = await useKafka();
  await using world = await startWorld({ brokers: kafka.brokers, racks: 2 });
  const [a, b] = world.racks as [typeof world.racks[0], typeof world.racks[0]];
  assert.equal(await a!.pylon.call("SET", "k", "old"), "OK");
  await waitFor(
    "k to reach rack1",
    async () => (await b!.pylon.call("GET", "k")) === "old" ? true : undefined,
  );
  await waitHealthyPeer(a!);

  // Rack1 keeps serving reads, but applies nothing while its Redis holds writes.
  const redisB = await world.master(b!);
  assert.equal(await redisB.call("CLIENT", "PAUSE", "60000", "WRITE"), "OK");
  try {
    assert.equal(await a!.pylon.call("SET", "k", "new"), "OK", "rack0 applies it");
    await using watcher = await RawClient.connect(a!.pylon.port);
    assert.deepEqual(await watcher.call("WATCH", "k"), { type: "simple", value: "OK" });

    await (a!.redis as RedisServer).kill();
    await waitFor(
      "rack0 to notice its Redis is gone",
      async () =>
        /upstream_healthy:0/.test(await a!.pylon.call("PYLON", "INFO")) ? true : undefined,
    );
    assert.equal(await redisB.call("GET", "k"), "old", "rack1 has not applied the new value");

    // The read goes to rack1, which must first apply what the watch saw.
    await watcher.command("GET", "k");
    const reply = watcher.read(15_000).then(shown);
    // A window in which no answer may come: rack1 is behind the watch all along.
    const early = await Promise.race([
      reply,
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 1_000)),
    ]);
    assert.equal(early, undefined, `no answer while rack1 is behind the watch (got ${early})`);
    assert.equal(await redisB.call("CLIENT", "UNPAUSE"), "OK");
    assert.equal(await reply, "new");
  } finally {
    await redisB.call("CLIENT", "UNPAUSE").catch(() => "");
  }
});
