/**
 * The rebuild's format side against real Redis: an RDB taken the way a
 * source node takes it (a replication connection, `REPLCONF rdb-only`,
 * `SYNC`), split key by key, gives for every key the exact DUMP payload
 * Redis itself gives — every type in every encoding, with expiries,
 * integer and compressed keys, streams with groups and pending entries —
 * and loaded into another Redis with the loader it gives the same dataset
 * (DEBUG DIGEST), the same stored expiries and the same functions.
 */

import assert from "node:assert/strict";
import * as net from "node:net";
import { startRedis } from "../harness/mod.ts";
import type { RedisServer } from "../harness/mod.ts";
import { RdbSplitter } from "../../src/rebuild/rdb.ts";
import { SyncStream } from "../../src/rebuild/sync_stream.ts";
import { dumpPayload } from "../../src/rebuild/restore.ts";
import { SnapshotLoader } from "../../src/rebuild/loader.ts";
import { encodeMarker } from "../../src/identity/rack_marker.ts";
import { PipelineConnection } from "../../src/redis/pipeline_connection.ts";
import { RedisClient } from "../../src/redis/client.ts";
import { encodeCommand } from "../../src/resp/encoder.ts";
import { noise } from "./racks.ts";

const MARKER = { layout: 1, log: "kafka:test/rdb" };

/** Fills `server` with every type in every encoding Redis 7 uses. */
async function fill(server: RedisServer): Promise<void> {
  const client = await RedisClient.connect({ host: server.host, port: server.port });
  const run = async (...argv: string[]) => await client.command(...argv);
  try {
    await run("SET", "plain", "value");
    await run("SET", "12345", "an integer key");
    await run("SET", "int-value", "987654321");
    await run("SET", "negative", "-42");
    await run("SET", `compressible:${"k".repeat(100)}`, "v".repeat(10_000));
    await run("SET", "noise", noise(200_000));
    await run("SET", "expiring", "soon", "PXAT", String(10_000_000_000_000 + Date.now()));
    await run("SET", "empty", "");
    await run("HSET", "hash-small", "a", "1", "b", "2");
    await run(
      "HSET",
      "hash-big",
      ...Array.from({ length: 600 }, (_, i) => [`f${i}`, `v${i}`]).flat(),
    );
    await run("HSET", "hash-long-value", "f", "x".repeat(100));
    await run("RPUSH", "list-small", "a", "b", "3");
    await run("RPUSH", "list-big", ...Array.from({ length: 5_000 }, (_, i) => `element-${i}`));
    await run("SADD", "set-ints", "1", "2", "3", "1000000");
    await run("SADD", "set-strings", "a", "b", "c");
    await run("SADD", "set-big", ...Array.from({ length: 600 }, (_, i) => `m${i}`));
    await run("ZADD", "zset-small", "1", "a", "2.5", "b", "-inf", "c");
    await run(
      "ZADD",
      "zset-big",
      ...Array.from({ length: 300 }, (_, i) => [String(i / 3), `m${i}`]).flat(),
    );
    await run("XADD", "stream", "1-1", "f", "v");
    await run("XADD", "stream", "2-1", "f", "w", "g", "x");
    await run("XGROUP", "CREATE", "stream", "group", "0");
    await run("XREADGROUP", "GROUP", "group", "alice", "COUNT", "1", "STREAMS", "stream", ">");
    await run("XGROUP", "CREATECONSUMER", "stream", "group", "bob");
    await run("XADD", "stream-empty", "MAXLEN", "0", "5-5", "f", "v");
    await run(
      "FUNCTION",
      "LOAD",
      "#!lua name=lib\nredis.register_function('one', function() return 1 end)",
    );
    await run("SELECT", "7");
    await run("SET", "in-db-7", "seven", "PXAT", String(10_000_000_000_001 + Date.now()));
    await run("SELECT", "15");
    await run("SET", "pylon:identity", encodeMarker(MARKER));
    await run("SET", "pylon:applied:0", "1234");
    await run("SET", "pylon:applied-time:0", "1700000000000");
  } finally {
    client.close();
  }
}

/** The RDB a replica would get, read the way a source node reads it. */
async function takeRdb(server: RedisServer): Promise<Uint8Array> {
  const socket = net.connect({ host: server.host, port: server.port });
  const stream = new SyncStream(2);
  const parts: Uint8Array[] = [];
  const ended = Promise.withResolvers<void>();
  socket.on("data", (chunk: Uint8Array) => {
    try {
      for (const event of stream.push(new Uint8Array(chunk))) {
        if (event.kind === "reply" && event.text.startsWith("-")) throw new Error(event.text);
        if (event.kind === "data") parts.push(event.bytes.slice());
        if (event.kind === "end") ended.resolve();
      }
    } catch (error) {
      ended.reject(error);
    }
  });
  socket.on("error", (error) => ended.reject(error));
  await new Promise((resolve) => socket.once("connect", resolve));
  socket.write(encodeCommand(["REPLCONF", "rdb-only", "1"]));
  socket.write(encodeCommand(["REPLCONF", "capa", "eof"]));
  await new Promise((resolve) => setTimeout(resolve, 200));
  socket.write(encodeCommand(["SYNC"]));
  await ended.promise;
  socket.destroy();
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function dump(client: RedisClient, db: number, key: Uint8Array): Promise<Uint8Array> {
  await client.command("SELECT", String(db));
  const reply = await client.command("DUMP", key);
  if (reply.type !== "bulk" || reply.value === null) throw new Error("no DUMP");
  return reply.value;
}

for (
  const config of [
    {},
    { rdbcompression: "no", rdbchecksum: "no" },
    { "repl-diskless-sync": "no", "list-compress-depth": "1" },
  ]
) {
  Deno.test(`every key's DUMP payload comes out of the RDB, and loads into an equal Redis (${JSON.stringify(config)})`, async () => {
    await using source = await startRedis({ config });
    await using target = await startRedis();
    await fill(source);
    const rdb = await takeRdb(source);
    const splitter = new RdbSplitter();
    // In pieces, as a transfer brings it.
    for (let at = 0; at < rdb.length; at += 64 * 1024) {
      splitter.push(rdb.subarray(at, at + 64 * 1024));
    }
    splitter.end();
    const client = await RedisClient.connect({ host: source.host, port: source.port });
    const connection = await PipelineConnection.connect({ host: target.host, port: target.port });
    const loader = new SnapshotLoader(connection, {
      metaDb: 15,
      sourceMetaDb: 15,
      databases: 16,
      partitions: 1,
      marker: MARKER,
    });
    try {
      await loader.begin(JSON.stringify({ test: true }));
      let keys = 0;
      let functions = 0;
      for (let item = splitter.next(); item !== undefined; item = splitter.next()) {
        if (item.kind === "key") {
          keys++;
          const expected = await dump(client, item.db, item.key);
          assert.deepEqual(
            dumpPayload(item.type, item.body, splitter.version),
            expected,
            `DUMP of ${new TextDecoder().decode(item.key)}`,
          );
        }
        if (item.kind === "function") functions++;
        await loader.add(item);
      }
      assert.ok(splitter.done);
      const loaded = await loader.finish([{ start: 0, end: 2_000 }]);
      assert.deepEqual(loaded.positions, [1234]);
      assert.equal(functions, 1);
      assert.equal(keys, 24);
      assert.equal(await target.call("DEBUG", "DIGEST"), await source.call("DEBUG", "DIGEST"));
      assert.equal(
        await target.call("-n", "7", "PEXPIRETIME", "in-db-7"),
        await source.call("-n", "7", "PEXPIRETIME", "in-db-7"),
      );
      assert.equal(await target.call("FUNCTION", "DUMP"), await source.call("FUNCTION", "DUMP"));
      assert.equal(await target.call("-n", "15", "EXISTS", "pylon:rebuild"), "0", "the mark went");
    } finally {
      client.close();
      connection.close();
    }
  });
}

Deno.test("a load that stops before its end leaves the mark: the Redis says it lacks data", async () => {
  await using source = await startRedis();
  await using target = await startRedis();
  await fill(source);
  const rdb = await takeRdb(source);
  const splitter = new RdbSplitter();
  splitter.push(rdb.subarray(0, Math.floor(rdb.length / 2)));
  const connection = await PipelineConnection.connect({ host: target.host, port: target.port });
  try {
    await target.call("SET", "old", "data");
    const loader = new SnapshotLoader(connection, {
      metaDb: 15,
      sourceMetaDb: 15,
      databases: 16,
      partitions: 2,
      marker: MARKER,
    });
    await loader.begin('{"from":"x"}');
    for (let item = splitter.next(); item !== undefined; item = splitter.next()) {
      await loader.add(item);
    }
    await loader.finish([{ start: 0, end: 2_000 }, { start: 0, end: 0 }]).then(
      () => assert.fail("a half-loaded snapshot must not finish"),
      () => {},
    );
    assert.equal(await target.call("EXISTS", "old"), "0", "emptied first");
    assert.equal(await target.call("-n", "15", "GET", "pylon:rebuild"), '{"from":"x"}');
    assert.equal(await target.call("-n", "15", "GET", "pylon:applied:1"), "rebuilding");
  } finally {
    connection.close();
  }
});
