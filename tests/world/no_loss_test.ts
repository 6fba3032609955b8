/**
 * No acknowledged write is lost across racks: clients on every rack SADD
 * unique members while one rack's Redis is killed and comes back empty, one
 * node is killed with -9, and the Kafka broker restarts. Every acknowledged
 * member ends up in every rack.
 */

import assert from "node:assert/strict";
import {
  delay,
  RawClient,
  type RedisServer,
  startKafka,
  startWorld,
  waitFor,
  type WorldRack,
} from "../harness/mod.ts";
import { info, waitConverged } from "./world.ts";

Deno.test("every acknowledged SADD reaches every rack across an emptied Redis, a kill -9 and a broker restart", async () => {
  await using kafka = await startKafka();
  await using world = await startWorld({
    brokers: kafka.brokers,
    racks: 3,
    args: ["--write-timeout-ms", "8000"],
  });
  const acked = new Set<string>();
  const tally = { errors: 0, dropped: 0, forwarded: 0 };
  let stopped = false;
  const writer = async (rack: WorldRack, id: string) => {
    let n = 0;
    while (!stopped) {
      let client: RawClient;
      try {
        client = await RawClient.connect(rack.pylon.port);
      } catch {
        await delay(100);
        continue;
      }
      try {
        while (!stopped) {
          const member = `${id}-${n++}`;
          await client.command("SADD", "members", member);
          const reply = await client.read(20_000);
          if (reply.type === "integer") acked.add(member);
          else tally.errors++;
        }
      } catch {
        tally.dropped++;
        await delay(100);
      } finally {
        client.close();
      }
    }
  };
  const writers = world.racks.flatMap((rack) =>
    [0, 1, 2].map((c) => writer(rack, `${rack.name}-c${c}`))
  );
  const t0 = performance.now();
  const progress = async (what: string, more = 300) => {
    const target = acked.size + more;
    await waitFor(what, () => (acked.size >= target ? true : undefined), {
      timeoutMs: 90_000,
      intervalMs: 50,
    });
    console.log(`${Math.round(performance.now() - t0)} ms: ${what}`);
  };
  try {
    await progress("writes to flow");

    // rack1's Redis dies and comes back with nothing: its node replays the whole log.
    const emptied = world.racks[1]!.redis as RedisServer;
    await emptied.kill();
    await waitFor(
      "rack1 to notice its Redis is gone",
      async () => (await info(world.racks[1]!)).get("upstream_healthy") === "0" ? true : undefined,
    );
    await progress("writes to flow with rack1's Redis down", 200);
    await emptied.restart();
    await progress("writes to flow after rack1's Redis came back empty");

    await world.racks[2]!.pylon.kill();
    await world.racks[2]!.pylon.restart();
    await progress("writes to flow after rack2's node was killed");

    await kafka.restart(1);
    await progress("writes to flow after the broker restarted");
  } finally {
    stopped = true;
    await Promise.all(writers);
  }
  tally.forwarded = Number((await info(world.racks[1]!)).get("writes_forwarded"));
  await waitConverged(world.racks);
  for (const rack of world.racks) {
    const members = new Set(
      (await (await world.master(rack)).call("SMEMBERS", "members")).split("\n"),
    );
    const lost = [...acked].filter((m) => !members.has(m));
    assert.deepEqual(
      lost.slice(0, 10),
      [],
      `${rack.name} lacks ${lost.length} of ${acked.size} acknowledged members`,
    );
  }
  console.log(
    `no loss: ${acked.size} acknowledged members present in all 3 racks; ${tally.errors} error replies, ` +
      `${tally.dropped} dropped connections, ${tally.forwarded} writes rack1 forwarded while its Redis was away`,
  );
});
