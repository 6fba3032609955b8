/**
 * Pub/sub with the clients people use, unmodified, across three racks:
 * redis-py's pubsub() on one rack, redis-cli's SUBSCRIBE on another, while
 * messages are published through the third. Each receives every message
 * once, in the order every rack's Redis published them.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { RawClient, startWorld, useKafka } from "../harness/mod.ts";
import { encodeCommand } from "../../src/resp/encoder.ts";
import { ensureRedisPy } from "../harness/provision.ts";

const PUBSUB_SCRIPT = fileURLToPath(new URL("./redis_py_pubsub.py", import.meta.url));
const COUNT = 20;

/** The lines a child prints, one at a time, with a deadline for each. */
function lines(stream: ReadableStream<Uint8Array>) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  const ready: string[] = [];
  let partial = "";
  return async (timeoutMs = 60_000): Promise<string> => {
    const deadline = performance.now() + timeoutMs;
    while (ready.length === 0) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) throw new Error(`no line within ${timeoutMs} ms`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no line within ${timeoutMs} ms`)), remaining);
      });
      try {
        const { value, done } = await Promise.race([reader.read(), timeout]);
        if (done) throw new Error("the child's output ended");
        const parts = (partial + value).split("\n");
        partial = parts.pop()!;
        ready.push(...parts);
      } finally {
        clearTimeout(timer);
      }
    }
    return ready.shift()!;
  };
}

Deno.test("redis-py pubsub() and redis-cli SUBSCRIBE on two racks receive what a third publishes, once, in order", async () => {
  await using kafka = await useKafka();
  await using world = await startWorld({ brokers: kafka.brokers, racks: 3 });
  const [a, b, c] = world.racks as [
    typeof world.racks[0],
    typeof world.racks[0],
    typeof world.racks[0],
  ];
  const python = await ensureRedisPy();
  const py = new Deno.Command(python, {
    args: [PUBSUB_SCRIPT, String(a.pylon.port), String(COUNT * 2)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const cli = new Deno.Command("redis-cli", {
    args: ["-p", String(b.pylon.port), "SUBSCRIBE", "news"],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const pyLine = lines(py.stdout);
    const cliLine = lines(cli.stdout);
    assert.equal(await pyLine(), "ready");
    // redis-cli prints the confirmation as three lines: subscribe, news, 1.
    assert.deepEqual([await cliLine(), await cliLine(), await cliLine()], [
      "subscribe",
      "news",
      "1",
    ]);

    await using publisher = await RawClient.connect(c.pylon.port);
    const sent = Array.from({ length: COUNT }, (_, i) => `m-${i}`);
    for (const message of sent) {
      await publisher.send(encodeCommand(["PUBLISH", "news", message]));
      await publisher.read(30_000);
    }
    const viaCli: string[] = [];
    for (let i = 0; i < COUNT; i++) {
      const [kind, channel, payload] = [await cliLine(), await cliLine(), await cliLine()];
      assert.deepEqual([kind, channel], ["message", "news"]);
      viaCli.push(payload);
    }
    assert.deepEqual(viaCli, sent, "redis-cli on rack 1");
    const viaPy = JSON.parse(await pyLine()) as string[][];
    assert.deepEqual(
      viaPy,
      sent.flatMap((m) => [["message", "news", m], ["pmessage", "news", m]]),
      "redis-py on rack 0",
    );
  } finally {
    for (const child of [py, cli]) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await child.status;
    }
  }
  console.log(
    `clients: redis-py and redis-cli each received ${COUNT} messages published on a third rack`,
  );
});
