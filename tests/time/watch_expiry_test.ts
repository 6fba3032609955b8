/**
 * A watched key that expires before EXEC aborts the transaction, as in Redis
 * 7; a key already expired when it was watched does not. Through Pylon and
 * on a plain twin Redis, the same requests get the same replies.
 */

import assert from "node:assert/strict";
import { RawClient, startPylon, startRedis, waitFor } from "../harness/mod.ts";
import type { RespValue } from "../../src/resp/value.ts";

/** Runs the same script of requests on a client; returns EXEC's reply. */
async function watchedTransaction(client: RawClient, key: string, ttlMs: number) {
  assert.deepEqual(await client.call("SET", key, "1", "PX", String(ttlMs)), {
    type: "simple",
    value: "OK",
  });
  assert.deepEqual(await client.call("WATCH", key), { type: "simple", value: "OK" });
  // Until the key has expired, as this client sees it.
  await waitFor(
    `${key} to expire`,
    async () =>
      (await client.call("PTTL", key) as { value: bigint }).value === -2n ? true : undefined,
    { timeoutMs: 10_000, intervalMs: 20 },
  );
  await client.call("MULTI");
  await client.call("SET", key, "2");
  return await client.call("EXEC");
}

Deno.test("a watched key that expires before EXEC aborts it, through Pylon as on Redis 7", async () => {
  await using twin = await startRedis();
  await using redis = await startRedis();
  await using pylon = await startPylon({ redis: { url: redis.url } });
  await using viaPylon = await RawClient.connect(pylon.port);
  await using direct = await RawClient.connect(twin.port);
  const replies: RespValue[] = [];
  for (const client of [viaPylon, direct]) replies.push(await watchedTransaction(client, "w", 300));
  assert.deepEqual(replies[0], { type: "array", value: null }, "through Pylon: aborted");
  assert.deepEqual(replies[0], replies[1], "as Redis answers");
  // The rack's Redis: the SET did not run.
  assert.equal(await redis.call("EXISTS", "w"), "0");

  // Expired before it was watched: nothing changed since the WATCH, EXEC runs.
  for (const client of [viaPylon, direct]) {
    await client.call("SET", "old", "1", "PX", "50");
    await waitFor(
      "old to expire",
      async () =>
        (await client.call("PTTL", "old") as { value: bigint }).value === -2n ? true : undefined,
    );
    await client.call("WATCH", "old");
    await client.call("MULTI");
    await client.call("SET", "old", "2");
    replies.push(await client.call("EXEC"));
  }
  assert.deepEqual(replies[2], { type: "array", value: [{ type: "simple", value: "OK" }] });
  assert.deepEqual(replies[2], replies[3]);
});
