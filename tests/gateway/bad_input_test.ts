/** Malformed input, huge lengths, wrong arity, unknown commands and dropped connections. */

import assert from "node:assert/strict";
import { encodeCommand } from "../../src/resp/encoder.ts";
import type { RespValue } from "../../src/resp/value.ts";
import { RawClient, redisCli, startPylon, startRedis, waitFor } from "../harness/mod.ts";

const MALFORMED = [
  "*abc\r\n",
  "*1\r\n$abc\r\n",
  "*1\r\n$-5\r\n",
  "*1\r\n$99999999999\r\n",
  "*2\r\n$3\r\nGET\r\n:1\r\n",
  'GET "unbalanced\r\n',
  "x".repeat(70 * 1024),
];

async function errorAndClose(port: number, input: string): Promise<RespValue[]> {
  await using client = await RawClient.connect(port);
  await client.command("PING");
  await client.send(input);
  return await client.readUntilClosed();
}

Deno.test("malformed requests get Redis's protocol error and a closed connection, nothing else", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({ redis: { url: redis.url } });
  for (const input of MALFORMED) {
    const fromRedis = await errorAndClose(redis.port, input);
    const fromPylon = await errorAndClose(pylon.port, input);
    assert.equal(
      fromPylon.length,
      2,
      `PONG then one error for ${JSON.stringify(input.slice(0, 30))}`,
    );
    assert.deepEqual(fromPylon[0], { type: "simple", value: "PONG" });
    assert.equal(fromPylon[1]!.type, "error");
    assert.deepEqual(
      fromPylon,
      fromRedis,
      `same replies as Redis for ${JSON.stringify(input.slice(0, 30))}`,
    );
  }
  // The node is unaffected.
  assert.equal(await pylon.call("PING"), "PONG");
});

Deno.test("wrong arity, unknown commands and refused commands get clear errors in Redis's wording", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({ redis: { url: redis.url } });
  await using viaPylon = await RawClient.connect(pylon.port);
  await using direct = await RawClient.connect(redis.port);
  for (
    const argv of [["GET"], ["GET", "a", "b"], ["FOO", "a", "b"], ["CLIENT", "NOPE"], ["HSET", "h"]]
  ) {
    await viaPylon.command(...argv);
    await direct.command(...argv);
    assert.deepEqual(await viaPylon.read(), await direct.read(), argv.join(" "));
  }
  const refusals: [string[], RegExp][] = [
    [["CONFIG", "SET", "dir", "/tmp"], /^ERR command 'config\|set' is refused by Pylon: .+/],
    [["SHUTDOWN"], /^ERR command 'shutdown' is refused by Pylon: .+/],
    [["SCRIPT", "KILL"], /^ERR command 'script\|kill' is refused by Pylon: .+/],
    [["FUNCTION", "KILL"], /^ERR command 'function\|kill' is refused by Pylon: .+/],
    [["EXEC"], /^ERR EXEC without MULTI$/],
    [["SET", "k", "v", "BADOPTION"], /^ERR syntax error$/],
  ];
  for (const [argv, expected] of refusals) {
    await viaPylon.command(...argv);
    const reply = await viaPylon.read();
    assert.equal(reply.type, "error", argv.join(" "));
    assert.match((reply as { value: string }).value, expected);
  }
  assert.equal(await redis.call("EXISTS", "k"), "0", "nothing reached Redis");
});

Deno.test("a client that sends half a command and disconnects affects no one", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({
    redis: { url: redis.url },
    seed: () => redis.call("SET", "k", "v"),
  });
  const before = Number(/connected_clients:(\d+)/.exec(await pylon.call("PYLON", "INFO"))![1]);
  for (const half of ["*2\r\n$3\r\nGET\r\n$5\r\nab", "*3\r\n$3\r\nGET", "GET k"]) {
    const client = await RawClient.connect(pylon.port);
    await client.send(half);
    client.close();
  }
  assert.equal(await pylon.call("GET", "k"), "v");
  await waitFor("the dropped connections to be gone", async () => {
    const now = Number(/connected_clients:(\d+)/.exec(await pylon.call("PYLON", "INFO"))![1]);
    return now <= before ? true : undefined;
  }, { timeoutMs: 5_000 });
});

Deno.test("a 100 MB bulk string passes through in both directions", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({ redis: { url: redis.url } });
  const size = 100 * 1024 * 1024;
  const payload = new Uint8Array(size);
  for (let i = 0; i < size; i += 4096) payload[i] = (i / 4096) & 0xff;
  payload[size - 1] = 42;

  await using client = await RawClient.connect(pylon.port);
  // Request direction: a local command with a 100 MB argument.
  await client.command("ECHO", payload);
  const echoed = await client.read(60_000);
  assert.equal(echoed.type, "bulk");
  assert.equal((echoed as { value: Uint8Array }).value.length, size);
  assert.deepEqual((echoed as { value: Uint8Array }).value, payload);

  // Reply direction: a 100 MB value stored in Redis, read through Pylon.
  await using direct = await RawClient.connect(redis.port);
  await direct.command("SET", "big", payload);
  assert.deepEqual(await direct.read(60_000), { type: "simple", value: "OK" });
  await client.command("GET", "big");
  await client.command("PING");
  const big = await client.read(60_000);
  assert.equal((big as { value: Uint8Array }).value.length, size);
  assert.deepEqual((big as { value: Uint8Array }).value, payload);
  assert.deepEqual(
    await client.read(),
    { type: "simple", value: "PONG" },
    "and the pipeline continues",
  );
});

Deno.test("a declared but absurd bulk length is refused before anything is buffered", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({ redis: { url: redis.url } });
  await using client = await RawClient.connect(pylon.port);
  await client.send("*2\r\n$4\r\nECHO\r\n$536870913\r\n");
  assert.deepEqual(await client.readUntilClosed(), [{
    type: "error",
    value: "ERR Protocol error: invalid bulk length",
  }]);
  await using other = await RawClient.connect(pylon.port);
  await other.send(encodeCommand(["PING"]));
  assert.deepEqual(await other.read(), { type: "simple", value: "PONG" });
  assert.equal(await redisCli(pylon.port, ["PING"]), "PONG");
});

Deno.test("as Redis: PING with two messages, blocking timeouts and wrong-type sources, SAVE inside MULTI, and a protocol error that closes at once", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({ redis: { url: redis.url } });
  await using viaPylon = await RawClient.connect(pylon.port);
  await using direct = await RawClient.connect(redis.port);
  // A wrong-type source: Redis answers WRONGTYPE before it would block.
  await viaPylon.command("SET", "str", "x");
  assert.deepEqual(await viaPylon.read(), { type: "simple", value: "OK" });
  for (
    const argv of [
      ["BLPOP", "missing", "str", "0"],
      ["BZPOPMIN", "str", "1"],
      ["BLMOVE", "str", "l", "LEFT", "LEFT", "0"],
      ["BLMPOP", "0", "2", "missing", "str", "LEFT"],
      ["PING", "hello", "redis"],
      ["BLPOP", "k", "-1"],
      ["BRPOP", "k", "abc"],
      ["BLMOVE", "a", "b", "LEFT", "RIGHT", "-1"],
      ["XREAD", "BLOCK", "1.5", "STREAMS", "s", "0"],
      ["MULTI"],
      ["SAVE"],
      ["SET", "k", "v"],
      ["EXEC"],
    ]
  ) {
    await viaPylon.command(...argv);
    await direct.command(...argv);
    assert.deepEqual(await viaPylon.read(), await direct.read(), argv.join(" "));
  }
  assert.equal(await redis.call("EXISTS", "k"), "0", "the failed transaction ran nothing");
  // A too-big inline request: the error, then the connection is closed, on both.
  for (const [name, client] of [["pylon", viaPylon], ["redis", direct]] as const) {
    await client.send("x".repeat(70 * 1024));
    const replies = await client.readUntilClosed(5_000);
    assert.equal(replies.length, 1, name);
    assert.match((replies[0] as { value: string }).value, /Protocol error: too big inline request/);
    // Writing on fails soon (reset or broken pipe): the server closed for good, not half-way.
    let failed = false;
    for (let attempt = 0; attempt < 25 && !failed; attempt++) {
      failed = await client.send("PING\r\n".repeat(1_000)).then(() => false, () => true);
      if (!failed) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(failed, `${name}: the client's writes fail after the close`);
  }
});
