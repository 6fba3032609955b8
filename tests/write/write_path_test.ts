/** The write path's promises one by one, through a Pylon process on Kafka or the embedded log. */

import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { encodeCommand } from "../../src/resp/encoder.ts";
import {
  RawClient,
  startKafka,
  startPylon,
  startRedis,
  uniqueTopic,
  useKafka,
  waitFor,
} from "../harness/mod.ts";

const text = (v: unknown) => new TextDecoder().decode((v as { value: Uint8Array }).value);

async function kafkaArgs(): Promise<{ args: string[] } & AsyncDisposable> {
  const kafka = await useKafka();
  return {
    args: ["--log", `kafka://${kafka.brokers.join(",")}/${uniqueTopic("write")}`],
    [Symbol.asyncDispose]: () => kafka[Symbol.asyncDispose](),
  };
}

Deno.test("SET k v NX from 50 clients at once: exactly one OK per key, and the winner's value stays", async () => {
  await using log = await kafkaArgs();
  await using redis = await startRedis();
  await using pylon = await startPylon({ redis: { url: redis.url }, args: log.args });
  const clients = await Promise.all(
    Array.from({ length: 50 }, () => RawClient.connect(pylon.port)),
  );
  try {
    for (let round = 0; round < 5; round++) {
      await Promise.all(
        clients.map((c, i) => c.command("SET", `race:${round}`, `client-${i}`, "NX")),
      );
      const replies = await Promise.all(clients.map((c) => c.read(15_000)));
      const winners = replies.flatMap((
        r,
        i,
      ) => (r.type === "simple" && r.value === "OK" ? [i] : []));
      assert.equal(winners.length, 1, `round ${round}: ${winners.length} OKs`);
      assert.ok(
        replies.every((r) =>
          (r.type === "simple" && r.value === "OK") || (r.type === "bulk" && r.value === null)
        ),
      );
      assert.equal(await redis.call("GET", `race:${round}`), `client-${winners[0]}`);
    }
  } finally {
    for (const c of clients) c.close();
  }
});

Deno.test("a connection reads its own writes, pipelined or not", async () => {
  await using log = await kafkaArgs();
  await using redis = await startRedis();
  await using pylon = await startPylon({
    redis: { url: redis.url },
    args: [...log.args, "--ack-log", "set"],
  });
  await using client = await RawClient.connect(pylon.port);
  // One write of SET, GET, INCR, GET ... pairs: each GET must see the write just before it.
  const parts: Uint8Array[] = [];
  for (let i = 0; i < 200; i++) {
    parts.push(encodeCommand(["SET", "ryw", `v${i}`]), encodeCommand(["GET", "ryw"]));
  }
  await client.send(parts.reduce((a, b) => {
    const out = new Uint8Array(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
  }));
  for (let i = 0; i < 200; i++) {
    assert.deepEqual(await client.read(15_000), { type: "simple", value: "OK" });
    assert.equal(text(await client.read(15_000)), `v${i}`, `GET after SET #${i}`);
  }
  // ioredis, one request at a time, with ack=log SETs.
  const io = new Redis({ port: pylon.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  await io.connect();
  try {
    for (let i = 0; i < 50; i++) {
      await io.set("io", `x${i}`);
      assert.equal(await io.get("io"), `x${i}`);
      assert.equal(await io.incr("n"), i + 1);
    }
  } finally {
    io.disconnect();
  }
});

Deno.test("MULTI .. EXEC is one op: applied atomically, answered as an array; errors as in Redis", async () => {
  await using log = await kafkaArgs();
  await using redis = await startRedis();
  await using pylon = await startPylon({ redis: { url: redis.url }, args: log.args });
  await using c = await RawClient.connect(pylon.port);
  const run = async (...argv: string[]) => {
    await c.command(...argv);
    return await c.read(15_000);
  };
  assert.deepEqual(await run("MULTI"), { type: "simple", value: "OK" });
  assert.deepEqual(await run("INCR", "t"), { type: "simple", value: "QUEUED" });
  assert.deepEqual(await run("LPUSH", "tl", "a", "b"), { type: "simple", value: "QUEUED" });
  assert.deepEqual(await run("GET", "t"), { type: "simple", value: "QUEUED" });
  const exec = await run("EXEC");
  assert.equal(exec.type, "array");
  const items = (exec as { value: unknown[] }).value;
  assert.deepEqual(items.slice(0, 2), [{ type: "integer", value: 1n }, {
    type: "integer",
    value: 2n,
  }]);
  assert.equal(text(items[2]), "1");
  // Refused when queued (unknown command, arity): EXECABORT, nothing applied.
  await run("MULTI");
  assert.equal((await run("INCR")).type, "error");
  await run("INCR", "t");
  assert.deepEqual(await run("EXEC"), {
    type: "error",
    value: "EXECABORT Transaction discarded because of previous errors.",
  });
  assert.equal(await redis.call("GET", "t"), "1");
  assert.deepEqual(await run("DISCARD"), { type: "error", value: "ERR DISCARD without MULTI" });
});

Deno.test("bad writes get Redis's errors: arity and the reserved db before the log, the rest from Redis, changing nothing", async () => {
  await using log = await kafkaArgs();
  await using redis = await startRedis();
  await using pylon = await startPylon({
    redis: { url: redis.url },
    args: log.args,
    seed: () => redis.call("SET", "str", "x"),
  });
  await using c = await RawClient.connect(pylon.port);
  const refused: [string[], string][] = [
    [["INCR"], "ERR wrong number of arguments for 'incr' command"],
    [["MOVE", "str", "15"], "ERR DB index is out of range"],
  ];
  for (const [argv, error] of refused) {
    await c.command(...argv);
    assert.deepEqual(await c.read(), { type: "error", value: error }, argv.join(" "));
  }
  const info = await pylon.call("PYLON", "INFO");
  assert.match(info, /writes_accepted:0\r\n/, "nothing was logged");
  const answeredByRedis: [string[], string][] = [
    [["SET", "k", "v", "EX"], "ERR syntax error"],
    [["INCRBY", "k", "abc"], "ERR value is not an integer or out of range"],
    [["MSET", "a", "1", "b"], "ERR wrong number of arguments for 'mset' command"],
  ];
  for (const [argv, error] of answeredByRedis) {
    await c.command(...argv);
    assert.deepEqual(await c.read(15_000), { type: "error", value: error }, argv.join(" "));
  }
  for (const key of ["k", "a", "b"]) assert.equal(await redis.call("EXISTS", key), "0", key);
  // A wrong-type target is Redis's own error, from the apply.
  await c.command("LPUSH", "str", "a");
  assert.deepEqual(await c.read(15_000), {
    type: "error",
    value: "WRONGTYPE Operation against a key holding the wrong kind of value",
  });
});

Deno.test("a client that disconnects before its reply: its write still applies and the node carries on", async () => {
  await using log = await kafkaArgs();
  await using redis = await startRedis();
  await using pylon = await startPylon({ redis: { url: redis.url }, args: log.args });
  for (let i = 0; i < 20; i++) {
    const c = await RawClient.connect(pylon.port);
    await c.command("INCR", "gone");
    c.close();
  }
  await waitFor(
    "the 20 INCRs to apply",
    async () => (await redis.call("GET", "gone")) === "20" ? true : undefined,
    {
      timeoutMs: 20_000,
    },
  );
  assert.equal(await pylon.call("INCR", "gone"), "21");
});

Deno.test("with Kafka down a write gets an error within the timeout, never OK, and writes resume after", async () => {
  await using kafka = await startKafka();
  await using redis = await startRedis();
  await using pylon = await startPylon({
    redis: { url: redis.url },
    args: [
      "--log",
      `kafka://${kafka.brokers[0]}/${uniqueTopic("down")}`,
      "--write-timeout-ms",
      "4000",
    ],
  });
  assert.equal(await pylon.call("SET", "before", "1"), "OK");
  await kafka.kill(1);
  await using c = await RawClient.connect(pylon.port);
  const started = performance.now();
  await c.command("SET", "during", "1");
  const reply = await c.read(30_000);
  const tookMs = performance.now() - started;
  assert.equal(reply.type, "error");
  assert.match((reply as { value: string }).value, /may or may not be applied|not logged/);
  assert.ok(tookMs < 15_000, `answered in ${Math.round(tookMs)} ms`);
  await kafka.restart(1);
  await waitFor(
    "writes to work again",
    async () => (await pylon.call("SET", "after", "1")) === "OK" ? true : undefined,
    {
      timeoutMs: 60_000,
      intervalMs: 500,
    },
  );
  assert.equal(await redis.call("GET", "after"), "1");
});

Deno.test("embedded log: kill -9 during heavy writes loses no acknowledged write", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({ redis: { url: redis.url } });
  const acked = new Set<string>();
  let stopped = false;
  const writer = async (id: number) => {
    let n = 0;
    while (!stopped) {
      let c: RawClient;
      try {
        c = await RawClient.connect(pylon.port);
      } catch {
        return;
      }
      try {
        while (!stopped) {
          const member = `${id}-${n++}`;
          await c.command("SADD", "members", member);
          const reply = await c.read(15_000);
          if (reply.type === "integer") acked.add(member);
        }
      } catch {
        return;
      } finally {
        c.close();
      }
    }
  };
  const writers = Array.from({ length: 16 }, (_, id) => writer(id));
  await waitFor("writes to flow", () => acked.size >= 2_000 ? true : undefined, {
    timeoutMs: 30_000,
  });
  await pylon.kill();
  stopped = true;
  await Promise.all(writers);
  await pylon.restart();
  await waitFor("every logged write to be applied", async () => {
    const info = await pylon.call("PYLON", "INFO");
    return /partition_0_lag_ops:0\r\n/.test(info) && /writes_waiting:0\r\n/.test(info)
      ? true
      : undefined;
  }, { timeoutMs: 30_000, intervalMs: 200 });
  const members = new Set((await redis.call("SMEMBERS", "members")).split("\n"));
  const lost = [...acked].filter((m) => !members.has(m));
  assert.deepEqual(lost, [], `${lost.length} of ${acked.size} acknowledged writes lost`);
  console.log(
    `embedded log crash: ${acked.size} acknowledged, ${members.size} applied after restart`,
  );
});
