/** Connection state and the commands Pylon answers itself, through a real process. */

import assert from "node:assert/strict";
import { RawClient, startPylon, startRedis } from "../harness/mod.ts";

const text = (v: unknown) => new TextDecoder().decode((v as { value: Uint8Array }).value);

Deno.test("SELECT, CLIENT, HELLO, RESET and PING keep per-connection state", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({
    redis: { url: redis.url },
    seed: () => redis.call("-n", "5", "SET", "k", "five"),
  });
  await using a = await RawClient.connect(pylon.port);
  await using b = await RawClient.connect(pylon.port);

  await a.command("SELECT", "5");
  assert.deepEqual(await a.read(), { type: "simple", value: "OK" });
  await a.command("GET", "k");
  assert.equal(text(await a.read()), "five");
  await b.command("GET", "k");
  assert.deepEqual(await b.read(), { type: "bulk", value: null }, "b is still in db 0");
  await a.command("SELECT", "16");
  assert.deepEqual(await a.read(), { type: "error", value: "ERR DB index is out of range" });
  await a.command("SELECT", "x");
  assert.deepEqual(await a.read(), {
    type: "error",
    value: "ERR value is not an integer or out of range",
  });

  await a.command("CLIENT", "SETNAME", "alpha");
  assert.deepEqual(await a.read(), { type: "simple", value: "OK" });
  await a.command("CLIENT", "GETNAME");
  assert.equal(text(await a.read()), "alpha");
  await a.command("CLIENT", "SETNAME", "has space");
  assert.equal((await a.read()).type, "error");
  await a.command("CLIENT", "ID");
  const idA = (await a.read()) as { value: bigint };
  await b.command("CLIENT", "ID");
  const idB = (await b.read()) as { value: bigint };
  assert.notEqual(idA.value, idB.value);
  await b.command("CLIENT", "LIST");
  const list = text(await b.read());
  assert.match(list, new RegExp(`id=${idA.value} .*name=alpha .*db=5 `));
  assert.match(list, new RegExp(`id=${idB.value} .*cmd=client\\|list`));
  await a.command("CLIENT", "INFO");
  assert.match(text(await a.read()), new RegExp(`^id=${idA.value} .*name=alpha`));
  // The same fields as Redis 7.0, in its order; multi counts what MULTI queued.
  await a.command("MULTI");
  await a.read();
  await a.command("SET", "q", "1");
  await a.read();
  await b.command("CLIENT", "LIST");
  const line = text(await b.read()).split("\n").find((l) => l.startsWith(`id=${idA.value} `))!;
  assert.deepEqual(
    line.split(" ").map((f) => f.split("=")[0]),
    ("id addr laddr fd name age idle flags db sub psub ssub multi qbuf qbuf-free argv-mem " +
      "multi-mem rbs rbp obl oll omem tot-mem events cmd user redir resp").split(" "),
  );
  assert.match(line, / multi=1 /);
  await a.command("DISCARD");
  await a.read();

  await a.command("HELLO", "3");
  const hello = await a.read();
  assert.equal(hello.type, "map");
  await a.command("HELLO", "4");
  assert.deepEqual(await a.read(), {
    type: "error",
    value: "NOPROTO unsupported protocol version",
  });
  // As Redis: a default user without a password takes any password.
  await a.command("HELLO", "3", "AUTH", "default", "secret");
  assert.equal((await a.read()).type, "map");
  await a.command("CLIENT", "GETNAME");
  assert.equal(text(await a.read()), "alpha", "RESP3 bulk");
  await a.command("RESET");
  assert.deepEqual(await a.read(), { type: "simple", value: "RESET" });
  await a.command("GET", "k");
  assert.deepEqual(
    await a.read(),
    { type: "bulk", value: null },
    "RESET went back to db 0 and RESP2",
  );
  await a.command("PING", "hi");
  assert.equal(text(await a.read()), "hi");
});

Deno.test("COMMAND answers from the table and PYLON INFO describes the node", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({ redis: { url: redis.url } });
  // The applier starts after the node answers (it checks the rack's Redis first).
  await pylon.waitApplying();
  await using client = await RawClient.connect(pylon.port);
  await using direct = await RawClient.connect(redis.port);
  await client.command("COMMAND", "COUNT");
  await direct.command("COMMAND", "COUNT");
  assert.deepEqual(await client.read(), await direct.read());
  await client.command("COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2");
  await direct.command("COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2");
  assert.deepEqual(await client.read(), await direct.read());

  await client.command("GET", "x");
  await client.read();
  await client.command("PYLON", "INFO");
  const info = text(await client.read());
  assert.match(info, /^# Node\r\nnode_id:/);
  assert.match(info, /\r\nrole:leader\r\n/);
  assert.match(info, /\r\n# Applier\r\npartition_0:(applying|waiting)\r\n/);
  assert.match(info, /\r\nuptime_in_seconds:\d+\r\n/);
  assert.match(info, /\r\nconnected_clients:[1-9]\d*\r\n/);
  assert.match(info, /\r\ntotal_commands_processed:[1-9]\d*\r\n/);
  assert.match(info, new RegExp(`\\r\\nupstream_address:127\\.0\\.0\\.1:${redis.port}\\r\\n`));
  await client.command("PYLON", "NOPE");
  assert.deepEqual(await client.read(), {
    type: "error",
    value: "ERR unknown subcommand 'NOPE'. Try PYLON HELP.",
  });
});
