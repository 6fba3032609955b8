/**
 * No input grows a node past its budget: clients that never read their
 * replies, clients that send most of a huge value and stall, and strangers on
 * the peer port declaring 599 MiB frames. Each attack runs against a real
 * node while a healthy client keeps being served; the node's resident memory
 * (RSS, from /proc) is the measure, not what the node says about itself.
 */

import assert from "node:assert/strict";
import { rss } from "../harness/proc.ts";
import { delay, RawClient, startPylon, startRedis, waitFor } from "../harness/mod.ts";
import { encodeCommand } from "../../src/resp/encoder.ts";
import { freePort } from "../harness/ports.ts";
import type { PylonProcess } from "../harness/pylon.ts";

const MiB = 1024 * 1024;

/** Samples the node's RSS and a healthy client's worst round trip while `attack` runs. */
async function underAttack(
  pylon: PylonProcess,
  attack: () => Promise<void>,
): Promise<{ peakRss: number; worstMs: number; served: number }> {
  let peakRss = rss(pylon.service.pid);
  let worstMs = 0;
  let served = 0;
  let running = true;
  const healthy = (async () => {
    await using client = await RawClient.connect(pylon.port);
    for (let i = 0; running; i++) {
      const started = performance.now();
      await client.command("INCR", "healthy");
      await client.read(10_000);
      await client.command("PING");
      await client.read(10_000);
      worstMs = Math.max(worstMs, performance.now() - started);
      served++;
      peakRss = Math.max(peakRss, rss(pylon.service.pid));
      await delay(20);
    }
  })();
  try {
    await attack();
  } finally {
    running = false;
    await healthy;
  }
  // Served throughout: every round trip answered (its time is reported, not asserted).
  assert.ok(served > 0, "the healthy client was served");
  return { peakRss, worstMs, served };
}

Deno.test("clients that never read their replies are held within the node's budget", async () => {
  await using redis = await startRedis();
  const value = "v".repeat(MiB);
  await using pylon = await startPylon({
    redis: { url: redis.url },
    args: ["--client-memory-budget", "128mb"],
    seed: async () => {
      await using direct = await RawClient.connect(redis.port);
      await direct.command("SET", "big", value);
      await direct.read();
    },
  });
  const before = rss(pylon.service.pid);
  const request = encodeCommand(["GET", "big"]);
  const pipeline = new Uint8Array(request.length * 2_000);
  for (let i = 0; i < 2_000; i++) pipeline.set(request, i * request.length);
  const slow: RawClient[] = [];
  const { peakRss, worstMs } = await underAttack(pylon, async () => {
    // 20 clients asking for 2 GiB each and reading nothing.
    for (let i = 0; i < 20; i++) {
      const client = await RawClient.connect(pylon.port);
      slow.push(client);
      void client.send(pipeline).catch(() => {});
    }
    await waitFor("the budget to close clients", async () => {
      const info = await pylon.call("PYLON", "INFO");
      return Number(/clients_closed_over_budget:(\d+)/.exec(info)![1]) > 0 ? true : undefined;
    }, { timeoutMs: 30_000 });
    await delay(2_000);
  });
  for (const client of slow) client.close();
  console.log(
    `slow readers: RSS ${Math.round(before / MiB)} -> peak ${Math.round(peakRss / MiB)} MiB, ` +
      `healthy client's worst round trip ${Math.round(worstMs)} ms`,
  );
  assert.ok(
    peakRss - before < 400 * MiB,
    `peak RSS grew by ${Math.round((peakRss - before) / MiB)} MiB`,
  );
  await waitFor("the slow clients' buffers to be given back", async () => {
    const info = await pylon.call("PYLON", "INFO");
    return Number(/client_buffer_bytes:(\d+)/.exec(info)![1]) < MiB ? true : undefined;
  });
  console.log(`slow readers gone: RSS ${Math.round(rss(pylon.service.pid) / MiB)} MiB`);
});

Deno.test("clients that send most of a huge value and stall are held within the node's budget", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({
    redis: { url: redis.url },
    args: ["--client-memory-budget", "128mb"],
  });
  const before = rss(pylon.service.pid);
  const header = new TextEncoder().encode(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${64 * MiB}\r\n`);
  const part = new Uint8Array(24 * MiB).fill(120);
  const stalled: RawClient[] = [];
  const { peakRss } = await underAttack(pylon, async () => {
    for (let i = 0; i < 16; i++) {
      const client = await RawClient.connect(pylon.port);
      stalled.push(client);
      await client.send(header);
      await client.send(part).catch(() => {}); // closed by the node once over budget
    }
    await delay(1_000);
  });
  for (const client of stalled) client.close();
  const info = await pylon.call("PYLON", "INFO");
  console.log(
    `stalled bulks: RSS ${Math.round(before / MiB)} -> peak ${Math.round(peakRss / MiB)} MiB; ${
      /clients_closed_over_budget:\d+/.exec(info)![0]
    }`,
  );
  assert.ok(
    peakRss - before < 400 * MiB,
    `peak RSS grew by ${Math.round((peakRss - before) / MiB)} MiB`,
  );
  assert.equal(await redis.call("EXISTS", "k"), "0", "no partial value reached Redis");
});

Deno.test("strangers on the peer port declaring 599 MiB frames are refused before anything is buffered", async () => {
  await using redis = await startRedis();
  const peerPort = freePort();
  await using pylon = await startPylon({
    redis: { url: redis.url },
    args: ["--peer-listen", `127.0.0.1:${peerPort}`, "--world-secret", "s".repeat(32)],
  });
  const before = rss(pylon.service.pid);
  const junk = new Uint8Array(MiB).fill(7);
  const { peakRss } = await underAttack(pylon, async () => {
    const deadline = performance.now() + 5_000;
    while (performance.now() < deadline) {
      await Promise.all(Array.from({ length: 20 }, async () => {
        let conn: Deno.TcpConn | undefined;
        try {
          conn = await Deno.connect({ hostname: "127.0.0.1", port: peerPort });
          const head = new Uint8Array(9);
          new DataView(head.buffer).setUint32(0, 599 * MiB);
          head[4] = 2; // an Auth frame
          await conn.write(head);
          for (let i = 0; i < 8; i++) await conn.write(junk);
        } catch {
          // refused and closed by the node: what should happen
        } finally {
          try {
            conn?.close();
          } catch {
            // already closed
          }
        }
      }));
    }
  });
  const info = await pylon.call("PYLON", "INFO");
  console.log(
    `peer port flood: RSS ${Math.round(before / MiB)} -> peak ${Math.round(peakRss / MiB)} MiB; ${
      /peer_links_refused:\d+/.exec(info)?.[0]
    }`,
  );
  assert.ok(
    peakRss - before < 100 * MiB,
    `peak RSS grew by ${Math.round((peakRss - before) / MiB)} MiB`,
  );
  assert.ok(Number(/peer_links_refused:(\d+)/.exec(info)![1]) > 20);
});
