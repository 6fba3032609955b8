/**
 * Helpers for the tests of issue 24's items (one history on every rack):
 * what a rack's node says of its applier, and an independent look at each
 * rack's Redis, read directly — never only Pylon's answers.
 */

import assert from "node:assert/strict";
import { Kafka, logLevel } from "kafkajs";
import { decodeOp, type Op } from "../../src/log/op.ts";
import {
  RawClient,
  type RedisServer,
  waitFor,
  type World,
  type WorldRack,
} from "../harness/mod.ts";
import type { RespValue } from "../../src/resp/value.ts";

const utf8 = new TextDecoder();

/** A rack's first partition as its node reports it: state, position and last error. */
export interface ApplierView {
  state: string;
  applied: number;
  lastError: string;
  servesReads: boolean;
  info: Map<string, string>;
}

/** What `rack`'s node says of its applier (partition 0). */
export async function applierView(rack: WorldRack): Promise<ApplierView> {
  const info = await rack.pylon.info();
  return {
    state: info.get("partition_0") ?? "",
    applied: Number(info.get("partition_0_applied")),
    lastError: info.get("partition_0_last_error") ?? "",
    servesReads: info.get("serves_reads") === "1",
    info,
  };
}

/** Waits until `rack`'s applier is paused with an error matching `reason`; answers the view. */
export async function waitPaused(
  rack: WorldRack,
  reason: RegExp,
  timeoutMs = 20_000,
): Promise<ApplierView> {
  let last: ApplierView | undefined;
  return await waitFor(`${rack.name}'s applier to pause with ${reason}`, async () => {
    last = await applierView(rack);
    return last.state === "paused" && reason.test(last.lastError) ? last : undefined;
  }, {
    timeoutMs,
    intervalMs: 100,
    context: async () =>
      `last seen: state=${last?.state} applied=${last?.applied} last_error=${last?.lastError}\n` +
      await rack.pylon.service.logTail(30),
  });
}

/** Waits until `rack`'s applier applies again (applying or waiting, no error). */
export async function waitApplying(rack: WorldRack, timeoutMs = 30_000): Promise<ApplierView> {
  let last: ApplierView | undefined;
  return await waitFor(`${rack.name}'s applier to apply again`, async () => {
    last = await applierView(rack);
    return last.state === "applying" || last.state === "waiting" ? last : undefined;
  }, {
    timeoutMs,
    intervalMs: 100,
    context: async () =>
      `last seen: state=${last?.state} last_error=${last?.lastError}\n` +
      await rack.pylon.service.logTail(30),
  });
}

/** A reply as text: bulk strings decoded, errors and nils marked. */
export function replyText(value: RespValue): string {
  switch (value.type) {
    case "bulk":
      return value.value === null ? "(nil)" : utf8.decode(value.value);
    case "simple":
      return value.value;
    case "error":
      return `(error) ${value.value}`;
    case "integer":
      return String(value.value);
    case "array":
      return value.value === null ? "(nil array)" : `[${value.value.map(replyText).join(", ")}]`;
    case "null":
      return "(nil)";
    default:
      return JSON.stringify(value, (_, v) => typeof v === "bigint" ? String(v) : v);
  }
}

/** Runs commands on one connection and answers each reply as text. */
export async function run(port: number, ...commands: string[][]): Promise<string[]> {
  await using client = await RawClient.connect(port);
  const replies: string[] = [];
  for (const argv of commands) replies.push(replyText(await client.call(...argv)));
  return replies;
}

/** Writes `count` keys `prefix:i` (values of `valueBytes`) through `port`, pipelined; all must be OK. */
export async function writeKeys(
  port: number,
  prefix: string,
  count: number,
  options: { valueBytes?: number; extra?: string[] } = {},
): Promise<void> {
  await using client = await RawClient.connect(port);
  const value = "v".repeat(options.valueBytes ?? 16);
  const window = 500;
  for (let start = 0; start < count; start += window) {
    const end = Math.min(count, start + window);
    for (let i = start; i < end; i++) {
      await client.command("SET", `${prefix}:${i}`, value, ...(options.extra ?? []));
    }
    for (let i = start; i < end; i++) {
      const reply = replyText(await client.read(60_000));
      assert.equal(reply, "OK", `SET ${prefix}:${i} through port ${port}`);
    }
  }
}

/**
 * The independent look: every key of `db` in a rack's Redis with a digest of
 * its value and its expiry (absolute, ms), read directly from that Redis.
 */
export async function redisKeys(redis: RedisServer, db: number): Promise<Map<string, string>> {
  await using client = await RawClient.connect(redis.port);
  assert.equal(replyText(await client.call("SELECT", String(db))), "OK");
  const keys: string[] = [];
  let cursor = "0";
  for (let round = 0; round < 100_000; round++) {
    const page = await client.call("SCAN", cursor, "COUNT", "1000");
    assert.ok(page.type === "array" && page.value !== null, replyText(page));
    cursor = replyText(page.value[0]!);
    const batch = page.value[1]!;
    assert.ok(batch.type === "array" && batch.value !== null);
    for (const key of batch.value) keys.push(replyText(key));
    if (cursor === "0") break;
  }
  keys.sort();
  const out = new Map<string, string>();
  for (let i = 0; i < keys.length; i += 500) {
    const chunk = keys.slice(i, i + 500);
    const digests = await client.call("DEBUG", "DIGEST-VALUE", ...chunk);
    for (const key of chunk) await client.command("PEXPIRETIME", key);
    const expiries: string[] = [];
    for (const _ of chunk) expiries.push(replyText(await client.read(30_000)));
    assert.ok(digests.type === "array" && digests.value !== null, replyText(digests));
    chunk.forEach((key, k) =>
      out.set(key, `${replyText(digests.value![k]!)} expires ${expiries[k]}`)
    );
  }
  return out;
}

/** Asserts two racks' Redis hold the same keys, values and expiries in each db of `dbs`. */
export async function assertSameData(
  a: RedisServer,
  b: RedisServer,
  dbs: readonly number[],
  label: string,
): Promise<number> {
  let keys = 0;
  for (const db of dbs) {
    const [left, right] = [await redisKeys(a, db), await redisKeys(b, db)];
    const differ = [...new Set([...left.keys(), ...right.keys()])].filter((key) =>
      left.get(key) !== right.get(key)
    );
    assert.deepEqual(
      differ.slice(0, 5).map((key) => `${key}: ${left.get(key)} vs ${right.get(key)}`),
      [],
      `${label}: db ${db} differs in ${differ.length} keys (of ${left.size} and ${right.size})`,
    );
    keys += left.size;
  }
  return keys;
}

/** Pylon's metadata in a rack's Redis, read directly: marker, position (0: none), last op, halt. */
export async function metadata(
  redis: RedisServer,
  metaDb: number,
): Promise<{ marker: string; position: number; lastOp: string; halted: string }> {
  const [, marker, position, lastOp, halted] = await run(
    redis.port,
    ["SELECT", String(metaDb)],
    ["GET", "pylon:identity"],
    ["GET", "pylon:applied:0"],
    ["GET", "pylon:applied-op:0"],
    ["GET", "pylon:halted"],
  );
  // No position stored yet: nothing applied.
  const at = position === "(nil)" ? 0 : Number(position);
  return { marker: marker!, position: at, lastOp: lastOp!, halted: halted! };
}

/**
 * Waits until every rack applied every partition up to its log's end and
 * nothing waits for a reply; answers partition 0's position.
 */
export async function waitSamePosition(racks: WorldRack[], timeoutMs = 60_000): Promise<number> {
  let seen: ApplierView[] = [];
  const caughtUp = (info: Map<string, string>, p: string, end: number) =>
    Number(info.get(`partition_${p}_applied`)) === end &&
    /^(applying|waiting)$/.test(info.get(`partition_${p}`) ?? "");
  return await waitFor("every rack to apply up to the same position", async () => {
    const views = await Promise.all(racks.map(applierView));
    seen = views;
    const partitions = [...views[0]!.info.keys()].flatMap((key) =>
      /^partition_(\d+)_applied$/.exec(key)?.slice(1) ?? []
    );
    const ends = partitions.map((p) =>
      Math.max(...views.map((v) => Number(v.info.get(`partition_${p}_log_end`))))
    );
    return views.every((v) =>
        v.info.get("writes_waiting") === "0" &&
        partitions.every((p, i) => caughtUp(v.info, p, ends[i]!))
      )
      ? ends[0]!
      : undefined;
  }, {
    timeoutMs,
    intervalMs: 200,
    context: () =>
      seen.map((v, i) =>
        `${racks[i]!.name}: ${v.state} applied=${v.applied} end=${
          v.info.get("partition_0_log_end")
        } writes_waiting=${v.info.get("writes_waiting")} last_error=${v.lastError}`
      ).join("\n"),
  });
}

/** Every op the world's topic still holds in partition 0, decoded (ticks included). */
export async function logOps(world: World): Promise<{ offset: number; op: Op }[]> {
  const kafka = new Kafka({
    clientId: "contract-test-reader",
    brokers: world.brokers,
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(world.topic);
  await admin.disconnect();
  const p0 = offsets.find((o) => o.partition === 0)!;
  const [low, high] = [Number(p0.low), Number(p0.high)];
  const out: { offset: number; op: Op }[] = [];
  if (high <= low) return out;
  const consumer = kafka.consumer({ groupId: `contract-reader-${crypto.randomUUID()}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: world.topic, fromBeginning: true });
    const done = Promise.withResolvers<void>();
    await consumer.run({
      eachMessage: ({ partition, message }) => {
        if (partition !== 0) return Promise.resolve();
        const offset = Number(message.offset);
        try {
          out.push({ offset, op: decodeOp(new Uint8Array(message.value!)) });
        } catch {
          // not an op
        }
        if (offset >= high - 1) done.resolve();
        return Promise.resolve();
      },
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      done.promise,
      new Promise((_, reject) =>
        timer = setTimeout(() => reject(new Error("reading the log took over 30 s")), 30_000)
      ),
    ]);
    clearTimeout(timer);
  } finally {
    await consumer.disconnect();
  }
  return out.filter((o) => o.offset >= low && o.offset < high);
}

/** Deletes the records of partition 0 of the world's topic before `offset` (retention, at once). */
export async function deleteRecordsBefore(world: World, offset: number): Promise<void> {
  const kafka = new Kafka({
    clientId: "contract-test-retention",
    brokers: world.brokers,
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    // kafkajs deletes records only of a topic whose metadata it loaded.
    await admin.fetchTopicMetadata({ topics: [world.topic] });
    await admin.deleteTopicRecords({
      topic: world.topic,
      partitions: [{ partition: 0, offset: String(offset) }],
    });
  } finally {
    await admin.disconnect();
  }
}

/** The argv of an op's commands as text, for finding it in the log. */
export function opText(op: Op): string[] {
  return op.commands.map((argv) => argv.map((a) => utf8.decode(a)).join(" "));
}
