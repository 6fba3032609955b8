/**
 * Wrong inputs for every write command, through Pylon and on a twin Redis
 * used directly: every error reply must be Redis's own, word for word, and
 * come with the same outcome (a request one refuses, the other refuses too).
 * The corpus is each write command's valid requests and their near misses
 * (each argument replaced, dropped, repeated), run on an empty db and on a db
 * where the request's keys exist with the right type. Pylon checks only
 * arity and the reserved db before logging; the rest is answered by every
 * rack's Redis at apply time, changing nothing.
 */

import assert from "node:assert/strict";
import { startPylon, startRedis } from "../harness/mod.ts";
import {
  allCommands,
  commandKeys,
  dbArguments,
  findCommand,
  route,
} from "../../src/command/mod.ts";
import type { CommandSpec } from "../../src/command/mod.ts";
import type { RedisClient } from "../../src/redis/client.ts";
import type { RespValue } from "../../src/resp/value.ts";
import { connect, text } from "../command/resp3.ts";
import {
  CORPUS_LIBRARY,
  createKey,
  FIXTURES,
  FUTURE_MS,
  nearMisses,
  sequences,
} from "../command/write_corpus.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Cases sent to Redis before waiting for their replies. */
const PIPELINE_CASES_MAX = 2_000;

interface Case {
  readonly command: CommandSpec;
  readonly argv: Uint8Array[];
  /** Names of the keys to create for the "keys exist" db. */
  readonly keys: readonly string[];
  readonly valid: boolean;
}

interface Outcome {
  readonly empty: RespValue;
  readonly full: RespValue;
}

function show(argv: readonly Uint8Array[]): string {
  return argv.map((arg) => JSON.stringify(decoder.decode(arg))).join(" ");
}

/** Every command and subcommand `route()` may log as a write. */
function writeCommands(): CommandSpec[] {
  return allCommands()
    .flatMap((command) => command.subcommands.length > 0 ? command.subcommands : [command])
    .filter((spec) => spec.class === "write" || spec.argumentRule?.class === "write");
}

function keyNames(command: CommandSpec, argv: Uint8Array[]): string[] {
  try {
    return commandKeys(command, argv).map((i) => decoder.decode(argv[i]));
  } catch {
    return [];
  }
}

/** Option lists SET, GETEX and the EXPIRE family must agree with Redis on, in every order. */
function optionCases(name: string): string[][] {
  const prefix = (words: string[]) => sequences(words, 3);
  switch (name) {
    case "set": {
      const options = [
        ["NX"],
        ["XX"],
        ["GET"],
        ["KEEPTTL"],
        ["EX", "100"],
        ["PX", "100000"],
        ["EXAT", "4102444800"],
        ["PXAT", FUTURE_MS],
        ["EX", "abc"],
        ["PX", "0"],
        ["ex"],
      ];
      return sequences(options, 3).map((list) => ["SET", "k", "v", ...list.flat()]);
    }
    case "getex": {
      const options = [
        ["EX", "100"],
        ["PX", "100000"],
        ["PXAT", FUTURE_MS],
        ["PERSIST"],
        [
          "EX",
          "-1",
        ],
        ["NX"],
        ["px"],
      ];
      return sequences(options, 3).map((list) => ["GETEX", "k", ...list.flat()]);
    }
    case "expire":
    case "pexpire":
      return prefix(["NX", "XX", "GT", "LT", "FOO"]).map((list) => [name, "k", "100", ...list]);
    default:
      return [];
  }
}

function buildCases(payload: Uint8Array, functions: Uint8Array): Case[] {
  const cases: Case[] = [];
  const seen = new Set<string>();
  const toBytes = (words: readonly string[]) =>
    words.map((word) =>
      word === "$PAYLOAD"
        ? payload
        : word === "$FPAYLOAD"
        ? functions
        : encoder.encode(word === "$LIBRARY" ? CORPUS_LIBRARY : word)
    );
  for (const [name, fixture] of Object.entries(FIXTURES)) {
    const command = findCommand(name);
    assert.ok(command !== undefined, name);
    const start = command.container === undefined ? 1 : 2;
    const baseKeys = keyNames(command, toBytes(fixture.valid[0]!));
    const add = (words: readonly string[], valid: boolean) => {
      const id = `${name}\0${words.join("\0")}`;
      if (seen.has(id)) return;
      seen.add(id);
      const argv = toBytes(words);
      const routed = route(argv);
      if (valid) assert.equal(routed.kind, "write", `${show(argv)} routes ${routed.kind}`);
      if (routed.kind !== "write") return;
      const keys = [...new Set([...baseKeys, ...keyNames(command, argv)])];
      cases.push({ command: routed.command, argv, keys, valid });
    };
    for (const valid of fixture.valid) add(valid, true);
    for (const extra of fixture.extra ?? []) add(extra, false);
    for (const options of optionCases(name)) add(options, false);
    for (const valid of fixture.valid) {
      for (const miss of nearMisses(valid, start)) add(miss, false);
    }
  }
  return cases;
}

/** Runs each case on an empty db and on one where its keys exist, pipelined. */
async function runCases(client: RedisClient, cases: readonly Case[]): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (let from = 0; from < cases.length; from += PIPELINE_CASES_MAX) {
    const batch = cases.slice(from, from + PIPELINE_CASES_MAX);
    const pending = batch.map((c) => {
      void client.call("FLUSHALL");
      const empty = client.call(...c.argv);
      void client.call("FLUSHALL");
      for (const key of c.keys) {
        for (const setup of createKey(FIXTURES[c.command.name]!.type, key)) {
          void client.call(...setup);
        }
      }
      const full = client.call(...c.argv);
      return Promise.all([empty, full]);
    });
    const replies = await Promise.all(pending);
    for (const [empty, full] of replies) outcomes.push({ empty, full });
  }
  return outcomes;
}

/** Pylon's metadata db: requests naming it are refused by Pylon (documented), not compared. */
const META_DB = 15;

Deno.test("wrong inputs for every write command get Redis's own errors through Pylon", async () => {
  assert.deepEqual(
    writeCommands().map((spec) => spec.name).sort(),
    Object.keys(FIXTURES).sort(),
    "the corpus covers exactly the write commands",
  );

  await using twin = await startRedis();
  await using rack = await startRedis();
  await using pylon = await startPylon({ redis: { url: rack.url } });
  using direct = await connect(twin.port, 2);
  using through = await connect(pylon.port, 2);
  await direct.call("SET", "payload", "hello");
  const dump = await direct.call("DUMP", "payload");
  assert.ok(dump.type === "bulk" && dump.value !== null);
  // What the scripting fixtures run: "return 1" cached, the corpus library loaded, and its dump.
  for (const client of [direct, through]) {
    await client.call("SCRIPT", "LOAD", "return 1");
    await client.call("FUNCTION", "LOAD", "REPLACE", CORPUS_LIBRARY);
  }
  const functions = await direct.call("FUNCTION", "DUMP");
  assert.ok(functions.type === "bulk" && functions.value !== null);
  const cases = buildCases(dump.value, functions.value).filter((c) =>
    !dbArguments(c.command, c.argv).includes(META_DB)
  );
  const [expected, got] = await Promise.all([runCases(direct, cases), runCases(through, cases)]);

  const differences: string[] = [];
  const commands = new Set<string>();
  let errors = 0;
  cases.forEach((c, i) => {
    commands.add(c.command.name);
    for (const db of ["empty", "full"] as const) {
      const [redis, viaPylon] = [expected[i]![db], got[i]![db]];
      if (redis.type !== "error" && viaPylon.type !== "error") continue;
      errors++;
      if (redis.type !== viaPylon.type || text(redis) !== text(viaPylon)) {
        differences.push(`${show(c.argv)} (${db}): Pylon ${text(viaPylon)} / Redis ${text(redis)}`);
      }
    }
  });
  assert.deepEqual(differences.slice(0, 30), [], `${differences.length} replies differ`);
  console.log(
    `wrong inputs: ${cases.length} requests over ${commands.size} write commands, twice each; ` +
      `${errors} error replies, all Redis's own words`,
  );
});
