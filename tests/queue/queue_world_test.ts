/**
 * A job queue across three racks over Kafka: producers `LPUSH` through every
 * rack, 30 consumers `BRPOP` through every rack, while one rack's node is
 * killed with -9 (and started again) and consumers walk away in the middle
 * of their `BRPOP` (closing the connection with the request unanswered). At
 * the end every element is checked against every rack's Redis, read
 * directly, as the README states it:
 *
 * - none is consumed twice, and none is consumed that no producer pushed;
 * - every element pushed is consumed or still in the list: what a try took
 *   for a consumer that walked away went back at once, what the killed
 *   node's tries took went back when it started again (its claims) — but
 *   for the README's one window (a node killed between Redis removing a
 *   claim and the socket write loses that element): at most one per BRPOP
 *   the killed node had in flight;
 * - no claim is left in any rack's metadata db.
 *
 * Every rack's list and digest end equal.
 */

import assert from "node:assert/strict";
import { delay, RawClient, startWorld, useKafka, waitFor, type WorldRack } from "../harness/mod.ts";
import { digests, waitConverged } from "../world/world.ts";
import type { RespValue } from "../../src/resp/value.ts";

const CONSUMERS_PER_RACK = 30;
const PER_PRODUCER = Number(Deno.env.get("PYLON_QUEUE_ELEMENTS") ?? "400");
const QUEUE = "jobs";

/** One BRPOP's element, if it had one. */
function element(reply: RespValue): string | undefined {
  if (reply.type !== "array" || reply.value === null) return undefined;
  const value = reply.value[1];
  return value?.type === "bulk" && value.value !== null
    ? new TextDecoder().decode(value.value)
    : undefined;
}

Deno.test("a queue across three racks: 90 BRPOP consumers take every element once, across a kill -9 and consumers walking away", async () => {
  await using kafka = await useKafka();
  await using world = await startWorld({
    brokers: kafka.brokers,
    racks: 3,
    args: ["--write-timeout-ms", "8000"],
  });
  const pushed = new Set<string>();
  const maybePushed = new Set<string>();
  const consumed = new Map<string, string[]>();
  const tally = { walkedAway: 0, reconnects: 0, errors: 0, timeouts: 0 };
  const errorTexts = new Set<string>();
  let consuming = true;
  const killed = world.racks[2]!;
  // Consumers of the killed node waiting for a BRPOP's reply, and how many were at the kill.
  const waitingOnKilled = new Set<string>();
  let inFlightAtKill = 0;

  const connect = async (rack: WorldRack): Promise<RawClient> => {
    for (let attempt = 0;; attempt++) {
      try {
        return await RawClient.connect(rack.pylon.port);
      } catch (error) {
        if (attempt > 400) throw error;
        await delay(50);
      }
    }
  };

  const producer = async (rack: WorldRack) => {
    let n = 0;
    let client = await connect(rack);
    while (n < PER_PRODUCER) {
      const value = `${rack.name}-${n}`;
      try {
        await client.command("LPUSH", QUEUE, value);
        const reply = await client.read(20_000);
        if (reply.type === "integer") pushed.add(value);
        else maybePushed.add(value);
        n++;
      } catch {
        maybePushed.add(value);
        n++;
        client.close();
        client = await connect(rack);
      }
    }
    client.close();
  };

  const consumer = async (rack: WorldRack, id: string, walker: boolean) => {
    let client = await connect(rack);
    let round = 0;
    while (consuming) {
      round++;
      try {
        if (rack === killed) waitingOnKilled.add(id);
        await client.command("BRPOP", QUEUE, "1");
        // Now and then a consumer walks away with its BRPOP unanswered.
        if (walker && round % 7 === 3) {
          tally.walkedAway++;
          client.close();
          client = await connect(rack);
          continue;
        }
        const reply = await client.read(20_000).finally(() => waitingOnKilled.delete(id));
        const value = element(reply);
        if (value !== undefined) consumed.set(value, [...(consumed.get(value) ?? []), id]);
        else if (reply.type === "error") {
          tally.errors++;
          errorTexts.add(reply.value.replace(/\d+/g, "N"));
        } else tally.timeouts++;
      } catch {
        tally.reconnects++;
        client.close();
        if (!consuming) break;
        client = await connect(rack);
      }
    }
    client.close();
  };

  const consumers = world.racks.flatMap((rack) =>
    Array.from(
      { length: CONSUMERS_PER_RACK },
      (_, c) => consumer(rack, `${rack.name}-c${c}`, c % 5 === 0),
    )
  );
  const startedAt = performance.now();
  const producers = world.racks.map(producer);
  try {
    await waitFor(
      "a third of the elements consumed",
      () => consumed.size >= PER_PRODUCER ? true : undefined,
      { timeoutMs: 120_000, intervalMs: 50 },
    );
    // kill -9 with tries in flight, then the node comes back on its port.
    await killed.pylon.kill();
    inFlightAtKill = waitingOnKilled.size;
    await delay(300);
    await killed.pylon.restart();
    await Promise.all(producers);
    // Consumers drain the queue: every rack's own Redis shows it empty, or the stragglers stop.
    await waitFor("the queue to drain", async () => {
      const lengths = await Promise.all(
        world.racks.map(async (rack) =>
          Number(await (await world.master(rack)).call("LLEN", QUEUE))
        ),
      );
      return lengths.every((n) => n === 0) ? true : undefined;
    }, {
      timeoutMs: 120_000,
      intervalMs: 200,
      context: async () => {
        const states = await Promise.all(world.racks.map(async (rack) => {
          const length = await (await world.master(rack)).call("LLEN", QUEUE);
          const info = await rack.pylon.info().catch(() => new Map<string, string>());
          const shown = [...info].filter(([k]) =>
            /^(partition_0|serves_reads|diverged|blocked_clients)/.test(k)
          ).map(([k, v]) => `${k}=${v}`).join(" ");
          return `${rack.name}: LLEN ${length} ${shown}\n${await rack.pylon.service.logTail(15)}`;
        }));
        return states.join("\n");
      },
    });
  } finally {
    consuming = false;
    await Promise.all(consumers);
  }
  const elapsedMs = performance.now() - startedAt;
  await waitConverged(world.racks);

  // Every rack's Redis, read directly.
  const lists = await Promise.all(
    world.racks.map(async (rack) =>
      (await (await world.master(rack)).call("LRANGE", QUEUE, "0", "-1")).split("\n").filter((l) =>
        l !== ""
      )
    ),
  );
  for (const list of lists.slice(1)) {
    assert.deepEqual(list, lists[0], "every rack holds the same list");
  }
  const left = new Set(lists[0]);

  const twice = [...consumed].filter(([, by]) => by.length > 1);
  assert.deepEqual(twice, [], "no element consumed twice");
  const invented = [...consumed.keys()].filter((v) => !pushed.has(v) && !maybePushed.has(v));
  assert.deepEqual(invented, [], "nothing consumed that no producer pushed");
  const inBoth = [...left].filter((v) => consumed.has(v));
  assert.deepEqual(inBoth, [], "nothing both consumed and still queued");
  // The README's one window: a node killed after Redis removed a claim and before the socket
  // write loses that element. At most one per BRPOP the killed node had in flight.
  const lost = [...pushed].filter((v) => !consumed.has(v) && !left.has(v));
  assert.ok(
    lost.length <= inFlightAtKill,
    `lost ${lost.length} (${lost.join(", ")}): more than the ${inFlightAtKill} BRPOPs in flight ` +
      `on the killed node`,
  );
  for (const rack of world.racks) {
    const master = await world.master(rack);
    const keys = (await master.call("-n", "15", "KEYS", "pylon:claims:*")).trim();
    const open = keys === ""
      ? 0
      : Number(await master.call("-n", "15", "HLEN", keys.split("\n")[0]!));
    assert.equal(open, 0, `claims left in ${rack.name}'s Redis`);
  }
  assert.ok(tally.walkedAway > 0, "consumers walked away in the middle");
  const killedLog = await Deno.readTextFile(killed.pylon.service.logPath).catch(() => "");
  const restored = [...killedLog.matchAll(/put back (\d+) elements/g)]
    .reduce((sum, m) => sum + Number(m[1]), 0);
  const [first, ...rest] = await digests(world);
  for (const digest of rest) assert.equal(digest, first, "every rack's digest is equal");
  console.log(
    `queue: ${pushed.size} pushed (${maybePushed.size} unconfirmed), ${consumed.size} consumed ` +
      `in ${Math.round(elapsedMs)} ms by ${world.racks.length * CONSUMERS_PER_RACK} consumers; ` +
      `${left.size} left, ${lost.length} lost (${inFlightAtKill} BRPOPs in flight at the kill), ${restored} put back by the killed node's restart; ` +
      `${tally.walkedAway} walked away, ${tally.reconnects} reconnects, ${tally.timeouts} timeouts, ` +
      `${tally.errors} errors ${JSON.stringify([...errorTexts])}`,
  );
});
