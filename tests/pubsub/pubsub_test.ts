/**
 * Pub/sub across the world. PUBLISH and SPUBLISH are ops, so every rack's
 * applier publishes each message into its own Redis, and a client
 * subscribed through any rack's node receives what was published anywhere,
 * once, in log order. Subscribe commands are answered by the rack's Redis on
 * the client's own connection: compared here with a Redis used directly.
 */

import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { encodeCommand } from "../../src/resp/encoder.ts";
import {
  RawClient,
  shown,
  startPylon,
  startRedis,
  startWorld,
  useKafka,
  waitFor,
} from "../harness/mod.ts";
import { waitConverged } from "../world/world.ts";

const utf8 = new TextDecoder();

/** Sends `argv` and reads `frames` replies. */
async function exchange(client: RawClient, argv: string[], frames: number): Promise<string[]> {
  await client.send(encodeCommand(argv));
  const replies: string[] = [];
  for (let i = 0; i < frames; i++) replies.push(shown(await client.read()));
  return replies;
}

for (const protocol of [2, 3] as const) {
  Deno.test(`RESP${protocol}: subscribe commands, messages and refusals as Redis gives them`, async () => {
    await using rack = await startRedis();
    await using twin = await startRedis();
    await using pylon = await startPylon({ redis: { url: rack.url } });
    await using subscriber = await RawClient.connect(pylon.port);
    await using publisher = await RawClient.connect(pylon.port);
    await using twinSubscriber = await RawClient.connect(twin.port);
    await using twinPublisher = await RawClient.connect(twin.port);
    for (const client of [subscriber, twinSubscriber]) {
      await exchange(client, ["HELLO", String(protocol)], 1);
    }
    const steps: { sub?: [string[], number]; pub?: string[]; messages?: number }[] = [
      { sub: [["SUBSCRIBE", "a", "b"], 2] },
      { sub: [["PSUBSCRIBE", "n*"], 1] },
      { sub: [["SSUBSCRIBE", "s"], 1] },
      { sub: [["PING"], 1] },
      { sub: [["PING", "hi"], 1] },
      { sub: [["GET", "k"], 1] },
      { sub: [["SUBSCRIBE"], 1] },
      { pub: ["PUBLISH", "a", "m1"], messages: 1 },
      { pub: ["PUBLISH", "news", "m2"], messages: 1 },
      { pub: ["SPUBLISH", "s", "m3"], messages: 1 },
      { pub: ["PUBLISH", "zzz", "m4"], messages: 0 },
      { pub: ["PUBSUB", "NUMSUB", "a", "b", "c"] },
      { pub: ["PUBSUB", "NUMPAT"] },
      { pub: ["PUBSUB", "SHARDCHANNELS"] },
      { sub: [["UNSUBSCRIBE", "a"], 1] },
      { sub: [["UNSUBSCRIBE"], 1] },
      { sub: [["PUNSUBSCRIBE"], 1] },
      { sub: [["SUNSUBSCRIBE"], 1] },
      { sub: [["PING"], 1] },
      { sub: [["UNSUBSCRIBE"], 1] },
      { pub: ["PUBSUB", "NUMSUB", "a", "b"] },
    ];
    for (const step of steps) {
      const label = JSON.stringify(step);
      if (step.sub !== undefined) {
        const [argv, frames] = step.sub;
        assert.deepEqual(
          await exchange(subscriber, argv, frames),
          await exchange(twinSubscriber, argv, frames),
          label,
        );
      }
      if (step.pub !== undefined) {
        assert.deepEqual(
          await exchange(publisher, step.pub, 1),
          await exchange(twinPublisher, step.pub, 1),
          label,
        );
        for (let i = 0; i < (step.messages ?? 0); i++) {
          assert.equal(shown(await subscriber.read()), shown(await twinSubscriber.read()), label);
        }
      }
    }
    if (protocol === 3) {
      // RESP3: other commands run on a subscribed connection, as on Redis.
      await exchange(subscriber, ["SUBSCRIBE", "c"], 1);
      await exchange(twinSubscriber, ["SUBSCRIBE", "c"], 1);
      for (const argv of [["SET", "k", "v"], ["GET", "k"], ["PING"]]) {
        assert.deepEqual(
          await exchange(subscriber, argv, 1),
          await exchange(twinSubscriber, argv, 1),
          argv.join(" "),
        );
      }
    }
    // The subscriber's own connection to the rack's Redis is gone once it subscribes to nothing.
    await exchange(subscriber, ["RESET"], 1);
    await waitFor("the subscribed connection to close", async () => {
      const clients = await rack.call("CLIENT", "LIST");
      return / flags=P /.test(clients) ? undefined : true;
    }, { timeoutMs: 10_000 });
  });
}

Deno.test("three racks: every message reaches subscribers on every rack once, in log order", async () => {
  await using kafka = await useKafka();
  await using world = await startWorld({ brokers: kafka.brokers, racks: 3 });
  const subscribers = await Promise.all(world.racks.map(async (rack) => {
    const client = await RawClient.connect(rack.pylon.port);
    await exchange(client, ["SUBSCRIBE", "news"], 1);
    await exchange(client, ["PSUBSCRIBE", "ne*"], 1);
    await exchange(client, ["SSUBSCRIBE", "shard"], 1);
    return client;
  }));
  // ioredis as applications use it, on the last rack.
  const received: string[] = [];
  const listener = new Redis({ port: world.racks[2]!.pylon.port, maxRetriesPerRequest: 0 });
  listener.on(
    "message",
    (channel: string, message: string) => received.push(`${channel}:${message}`),
  );
  await listener.subscribe("news");
  // What each rack's Redis itself publishes: the independent look.
  const direct = await Promise.all(world.racks.map(async (rack) => {
    const client = await RawClient.connect((await world.master(rack)).port);
    await exchange(client, ["SUBSCRIBE", "news"], 1);
    return client;
  }));
  try {
    const publishers = await Promise.all(
      world.racks.map((rack) => RawClient.connect(rack.pylon.port)),
    );
    const COUNT = 30;
    const sent: string[] = [];
    // Publishers on racks 0 and 1 at once: the log decides one order for everyone.
    await Promise.all([0, 1].map(async (r) => {
      for (let i = 0; i < COUNT; i++) {
        const message = `r${r}-${i}`;
        sent.push(message);
        const reply = await exchange(publishers[r]!, ["PUBLISH", "news", message], 1);
        assert.match(reply[0]!, /"integer"/, `PUBLISH answers the receiver count: ${reply[0]}`);
      }
    }));
    await exchange(publishers[2]!, ["SPUBLISH", "shard", "s-1"], 1);
    for (const p of publishers) p.close();

    const readMessages = async (client: RawClient, count: number) => {
      const out: string[] = [];
      for (let i = 0; i < count; i++) {
        const value = await client.read(30_000);
        assert.ok(value.type === "array", shown(value));
        const items = value.value!.map((v) =>
          "value" in v && v.value instanceof Uint8Array ? utf8.decode(v.value) : ""
        );
        out.push(`${items[0]}:${items.slice(1).join(":")}`);
      }
      return out;
    };
    const order: string[][] = [];
    for (const client of direct) {
      order.push((await readMessages(client, COUNT * 2)).map((m) => m.split(":").pop()!));
    }
    const logOrder = order[0]!;
    assert.deepEqual([...logOrder].sort(), [...sent].sort(), "every message once");
    for (const seen of order) assert.deepEqual(seen, logOrder, "every rack's Redis in one order");
    for (const [r, client] of subscribers.entries()) {
      // Per message: its channel subscription, then its pattern's; then the shard message.
      const got = await readMessages(client, COUNT * 4 + 1);
      const expected = [
        ...logOrder.flatMap((m) => [`message:news:${m}`, `pmessage:ne*:news:${m}`]),
        "smessage:shard:s-1",
      ];
      assert.deepEqual(got, expected, `subscriber on rack ${r}`);
    }
    await waitFor(
      "ioredis to receive every message",
      () => received.length >= COUNT * 2 ? true : undefined,
      { timeoutMs: 30_000 },
    );
    assert.deepEqual(received, logOrder.map((m) => `news:${m}`), "ioredis on rack 2");
    console.log(
      `pub/sub: ${COUNT * 2} messages from 2 racks, received once each in one order on 3 racks`,
    );
  } finally {
    listener.disconnect();
    for (const client of [...subscribers, ...direct]) client.close();
  }
  await waitConverged(world.racks);
});

Deno.test("a rack coming back from an outage does not publish messages older than the limit", async () => {
  await using kafka = await useKafka();
  await using world = await startWorld({
    brokers: kafka.brokers,
    racks: 2,
    args: ["--publish-max-age-ms", "1000"],
  });
  const [a, b] = world.racks as [typeof world.racks[0], typeof world.racks[0]];
  // Subscribed on rack B's Redis itself: what its applier publishes there.
  await using onB = await RawClient.connect((await world.master(b)).port);
  await exchange(onB, ["SUBSCRIBE", "ch"], 1);
  await using publisher = await RawClient.connect(a.pylon.port);
  await exchange(publisher, ["PUBLISH", "ch", "before"], 1);
  assert.match(shown(await onB.read()), /before/);

  await b.pylon.kill();
  for (let i = 0; i < 5; i++) await exchange(publisher, ["PUBLISH", "ch", `old-${i}`], 1);
  const publishedAt = Date.now();
  // The messages must be older than the limit when rack B applies them.
  await new Promise((resolve) =>
    setTimeout(resolve, Math.max(0, publishedAt + 2_500 - Date.now()))
  );
  await b.pylon.restart();
  await waitConverged(world.racks);
  await exchange(publisher, ["PUBLISH", "ch", "fresh"], 1);
  const next = shown(await onB.read(15_000));
  assert.match(next, /fresh/, `the first message rack B publishes after its outage: ${next}`);
  const info = await b.pylon.info();
  assert.equal(info.get("partition_0_lag_ops"), "0");
});

Deno.test("subscribers keep receiving across a Sentinel failover of their rack", async () => {
  await using kafka = await useKafka();
  await using world = await startWorld({ brokers: kafka.brokers, racks: 1, sentinel: true });
  const rack = world.racks[0]!;
  await using subscriber = await RawClient.connect(rack.pylon.port);
  await exchange(subscriber, ["SUBSCRIBE", "ch"], 1);
  await using publisher = await RawClient.connect(rack.pylon.port);
  await exchange(publisher, ["PUBLISH", "ch", "m-0"], 1);
  assert.match(shown(await subscriber.read()), /m-0/);
  if (!("sentinels" in rack.redis)) throw new Error("a Sentinel rack");
  // Everything the subscriber receives, read in the background.
  const messages: string[] = [];
  const reading = (async () => {
    while (true) messages.push(shown(await subscriber.read(120_000)));
  })().catch(() => undefined);
  await rack.redis.failover();
  // Published until one arrives: the gap is from the master's loss to the new subscription.
  let sent = 0;
  await waitFor("a message after the failover", async () => {
    sent++;
    await exchange(publisher, ["PUBLISH", "ch", `m-${sent}`], 1).catch(() => undefined);
    return messages.length > 0 ? true : undefined;
  }, { timeoutMs: 60_000, intervalMs: 200 });
  for (let i = 1; i <= 5; i++) await exchange(publisher, ["PUBLISH", "ch", `after-${i}`], 1);
  await waitFor(
    "the messages after the gap",
    () => messages.filter((m) => m.includes("after-")).length >= 5 ? true : undefined,
    {
      timeoutMs: 20_000,
    },
  );
  subscriber.close();
  await reading;
  // On the same connection, in publish order, none twice: a gap, then everything.
  const numbers = messages.map((m) => {
    const at = /"(m|after)-(\d+)"/.exec(m);
    assert.ok(at !== null, m);
    return at[1] === "m" ? Number(at[2]) : 1_000_000 + Number(at[2]);
  });
  assert.deepEqual(numbers, [...numbers].sort((x, y) => x - y), "in order");
  assert.equal(new Set(numbers).size, numbers.length, "none twice");
  assert.deepEqual(numbers.slice(-5), [1, 2, 3, 4, 5].map((i) => 1_000_000 + i));
  console.log(
    `failover: ${sent} messages published during the gap, ${messages.length - 5} of them received`,
  );
});
