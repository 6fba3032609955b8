/** Many connections, the connection limit, backpressure, and QUIT. */

import assert from "node:assert/strict";
import { encodeCommand } from "../../src/resp/encoder.ts";
import { RawClient, startPylon, startRedis, waitFor } from "../harness/mod.ts";

Deno.test("1,000 concurrent connections are each served", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({
    redis: { url: redis.url },
    seed: () => redis.call("SET", "shared", "value"),
  });
  const clients = await Promise.all(
    Array.from({ length: 1_000 }, () => RawClient.connect(pylon.port)),
  );
  try {
    await Promise.all(clients.map((c) => c.send(encodeCommand(["GET", "shared"]))));
    const replies = await Promise.all(clients.map((c) => c.read(30_000)));
    for (const reply of replies) {
      assert.deepEqual(reply, { type: "bulk", value: new TextEncoder().encode("value") });
    }
    const info = await pylon.call("PYLON", "INFO");
    assert.ok(
      Number(/connected_clients:(\d+)/.exec(info)![1]) >= 1_000,
      "all connections are open at once",
    );
  } finally {
    for (const c of clients) c.close();
  }
});

Deno.test("past --max-clients a connection gets Redis's error and is closed", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({ redis: { url: redis.url }, args: ["--max-clients", "3"] });
  // The harness's readiness probe may still count until Pylon sees it close: wait until this is the only client.
  const first = await RawClient.connect(pylon.port);
  await waitFor("the readiness probe's connection to be gone", async () => {
    await first.command("PYLON", "INFO");
    const reply = await first.read();
    const info = reply.type === "bulk" && reply.value !== null
      ? new TextDecoder().decode(reply.value)
      : "";
    return info.includes("connected_clients:1\r\n") ? true : undefined;
  });
  const held = [first, ...await Promise.all([2, 3].map(() => RawClient.connect(pylon.port)))];
  try {
    for (const c of held) {
      await c.command("PING");
      assert.deepEqual(await c.read(), { type: "simple", value: "PONG" });
    }
    await using extra = await RawClient.connect(pylon.port);
    assert.deepEqual(await extra.readUntilClosed(), [{
      type: "error",
      value: "ERR max number of clients reached",
    }]);
  } finally {
    for (const c of held) c.close();
  }
  await waitFor(
    "a slot to free up",
    async () => (await pylon.call("PING")) === "PONG" ? true : undefined,
  );
});

Deno.test("QUIT answers OK and closes the connection", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({ redis: { url: redis.url } });
  await using client = await RawClient.connect(pylon.port);
  await client.send(encodeCommand(["QUIT"]));
  assert.deepEqual(await client.readUntilClosed(), [{ type: "simple", value: "OK" }]);
});

Deno.test("a client that does not read is held to bounded memory and then gets every reply", async () => {
  await using redis = await startRedis();
  const value = "v".repeat(1024 * 1024);
  await using direct = await RawClient.connect(redis.port);
  await using pylon = await startPylon({
    redis: { url: redis.url },
    seed: async () => {
      await direct.command("SET", "big", value);
      assert.deepEqual(await direct.read(), { type: "simple", value: "OK" });
    },
  });
  await using slow = await RawClient.connect(pylon.port);
  await slow.command("CLIENT", "SETNAME", "slow");
  await slow.read();

  // 3,000 replies of 1 MiB would be 3 GiB if Pylon buffered them all.
  const count = 3_000;
  const request = encodeCommand(["GET", "big"]);
  const pipeline = new Uint8Array(request.length * count);
  for (let i = 0; i < count; i++) pipeline.set(request, i * request.length);
  const sending = slow.send(pipeline);

  // Pylon stops reading from the slow client: its queued output and in-flight requests stay bounded.
  const line = await waitFor("the slow client's output to be held back", async () => {
    const list = await pylon.call("CLIENT", "LIST");
    const mine = list.split("\n").find((l) => l.includes("name=slow"));
    const omem = Number(/omem=(\d+)/.exec(mine ?? "")?.[1] ?? 0);
    return omem > 16 * 1024 * 1024 ? mine : undefined;
  }, { timeoutMs: 30_000 });
  const omem = Number(/omem=(\d+)/.exec(line)![1]);
  const inFlight = Number(/oll=(\d+)/.exec(line)![1]);
  assert.ok(omem < 200 * 1024 * 1024, `queued output ${omem} bytes stays bounded`);
  assert.ok(inFlight <= 1024, `in-flight requests ${inFlight} stay bounded`);

  for (let i = 0; i < count; i++) {
    const reply = await slow.read(30_000);
    assert.equal((reply as { value: Uint8Array }).value.length, value.length, `reply ${i}`);
  }
  await sending;
});
