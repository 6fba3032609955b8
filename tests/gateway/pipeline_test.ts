/** Deep pipelines mixing reads, local commands and errors come back in request order. */

import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { encodeCommand } from "../../src/resp/encoder.ts";
import { RawClient, startPylon, startRedis } from "../harness/mod.ts";

Deno.test("a pipeline of 20,000 mixed requests is answered strictly in order", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({
    redis: { url: redis.url },
    seed: async () => {
      const direct = new Redis({ port: redis.port, lazyConnect: true });
      await direct.connect();
      const pipe = direct.pipeline();
      for (let i = 0; i < 1_000; i++) pipe.set(`k${i}`, `v${i}`);
      await pipe.exec();
      direct.disconnect();
    },
  });
  await using client = await RawClient.connect(pylon.port);
  const expected: string[] = [];
  const parts: Uint8Array[] = [];
  for (let i = 0; i < 20_000; i++) {
    switch (i % 5) {
      case 0:
      case 1:
        parts.push(encodeCommand(["GET", `k${i % 1_000}`]));
        expected.push(`bulk:v${i % 1_000}`);
        break;
      case 2:
        parts.push(encodeCommand(["ECHO", `e${i}`]));
        expected.push(`bulk:e${i}`);
        break;
      case 3:
        parts.push(encodeCommand(["NOSUCHCMD", `${i}`]));
        expected.push(`error:ERR unknown command 'NOSUCHCMD', with args beginning with: '${i}' `);
        break;
      case 4:
        parts.push(encodeCommand(["STRLEN", `k${i % 1_000}`]));
        expected.push(`integer:${`v${i % 1_000}`.length}`);
        break;
    }
  }
  const stream = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    stream.set(p, at);
    at += p.length;
  }
  // One write of the whole pipeline, read concurrently so neither side blocks.
  const sending = client.send(stream);
  const got: string[] = [];
  for (let i = 0; i < expected.length; i++) {
    const reply = await client.read();
    got.push(
      reply.type === "bulk"
        ? `bulk:${new TextDecoder().decode(reply.value!)}`
        : reply.type === "error"
        ? `error:${reply.value}`
        : reply.type === "integer"
        ? `integer:${reply.value}`
        : `other:${reply.type}`,
    );
  }
  await sending;
  assert.equal(got.length, expected.length);
  for (let i = 0; i < expected.length; i++) assert.equal(got[i], expected[i], `reply ${i}`);
});

Deno.test("ioredis pipelines through Pylon keep their order", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({
    redis: { url: redis.url },
    seed: () => redis.call("SET", "n", "0"),
  });
  const client = new Redis({ port: pylon.port, lazyConnect: true });
  await client.connect();
  try {
    const pipe = client.pipeline();
    for (let i = 0; i < 5_000; i++) {
      if (i % 2 === 0) pipe.echo(String(i));
      else pipe.get("n");
    }
    const results = await pipe.exec();
    assert.equal(results?.length, 5_000);
    results!.forEach(([error, value], i) => {
      assert.equal(error, null);
      assert.equal(value, i % 2 === 0 ? String(i) : "0");
    });
  } finally {
    client.disconnect();
  }
});

Deno.test("pipelines answered without Redis (PING) never stall the connection", async () => {
  // Found by redis-benchmark -P 16 PING: sixteen local replies filled the first window,
  // reading paused, and the flush emptied it with nothing left in flight to resume reading.
  await using redis = await startRedis();
  await using pylon = await startPylon({ redis: { url: redis.url } });
  await using client = await RawClient.connect(pylon.port);
  const ping = encodeCommand(["PING"]);
  for (const depth of [16, 17, 64, 1_024, 5_000]) {
    const stream = new Uint8Array(ping.length * depth);
    for (let i = 0; i < depth; i++) stream.set(ping, i * ping.length);
    for (let round = 0; round < 3; round++) {
      const sending = client.send(stream);
      for (let i = 0; i < depth; i++) {
        const reply = await client.read(5_000);
        assert.equal(reply.type, "simple", `depth ${depth} round ${round} reply ${i}`);
        assert.equal(reply.value, "PONG");
      }
      await sending;
    }
  }
});
