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

Deno.test("a client that reads its pipelined replies gets every one, far past the output limit in total", async () => {
  await using redis = await startRedis();
  const value = "v".repeat(1024 * 1024);
  await using direct = await RawClient.connect(redis.port);
  await using pylon = await startPylon({
    redis: { url: redis.url },
    args: ["--client-output-buffer-limit", "16mb"],
    seed: async () => {
      await direct.command("SET", "big", value);
      assert.deepEqual(await direct.read(), { type: "simple", value: "OK" });
    },
  });
  await using client = await RawClient.connect(pylon.port);
  // 300 MiB of replies through a 16 MiB limit: reading pauses while replies wait, nothing is dropped.
  const count = 300;
  const request = encodeCommand(["GET", "big"]);
  const pipeline = new Uint8Array(request.length * count);
  for (let i = 0; i < count; i++) pipeline.set(request, i * request.length);
  const sending = client.send(pipeline);
  for (let i = 0; i < count; i++) {
    const reply = await client.read(30_000).catch(async (error) => {
      throw new Error(`reply ${i}: ${error}\n${await pylon.service.logTail(20)}`);
    });
    assert.equal((reply as { value: Uint8Array }).value.length, value.length, `reply ${i}`);
  }
  await sending;
});
