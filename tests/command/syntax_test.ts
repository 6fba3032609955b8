/**
 * checkSyntax() against a real Redis, for every command Pylon logs as a
 * write: the valid requests of the corpus pass both, and every near miss
 * checkSyntax refuses is refused by Redis too — on an empty db and on a db
 * where the request's keys exist with the right type, so the refusal is about
 * the request's shape, never its data. Prints how many write commands are
 * fully validated (every near miss Redis always refuses is refused before
 * logging) and where checkSyntax lets Redis refuse at apply time instead.
 */

import assert from "node:assert/strict";
import { startRedis } from "../harness/mod.ts";
import {
  allCommands,
  checkSyntax,
  commandKeys,
  findCommand,
  route,
} from "../../src/command/mod.ts";
import type { CommandSpec } from "../../src/command/mod.ts";
import type { RedisClient } from "../../src/redis/client.ts";
import type { RespValue } from "../../src/resp/value.ts";
import { connect, text } from "./resp3.ts";
import { createKey, FIXTURES, FUTURE_MS, nearMisses, sequences } from "./write_corpus.ts";

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
  readonly verdict: string | undefined;
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

function buildCases(payload: Uint8Array): Case[] {
  const cases: Case[] = [];
  const seen = new Set<string>();
  const toBytes = (words: readonly string[]) =>
    words.map((word) => word === "$PAYLOAD" ? payload : encoder.encode(word));
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
    batch.forEach((c, i) => {
      const [empty, full] = replies[i]!;
      outcomes.push({ verdict: checkSyntax(c.command, c.argv), empty, full });
    });
  }
  return outcomes;
}

interface Tally {
  cases: number;
  /** Near misses Redis refuses on both dbs. */
  alwaysRefused: number;
  /** Of those, refused by checkSyntax. */
  caught: number;
  /** Of those caught, with Redis's exact error text. */
  sameText: number;
  /** A few near misses let through, for the report. */
  letThrough: string[];
}

Deno.test("checkSyntax() refuses only what a real Redis refuses, for every write command", async () => {
  assert.deepEqual(
    writeCommands().map((spec) => spec.name).sort(),
    Object.keys(FIXTURES).sort(),
    "the corpus covers exactly the write commands",
  );

  await using redis = await startRedis();
  using client = await connect(redis.port, 2);
  await client.call("SET", "payload", "hello");
  const dump = await client.call("DUMP", "payload");
  assert.ok(dump.type === "bulk" && dump.value !== null);
  const cases = buildCases(dump.value);
  const outcomes = await runCases(client, cases);

  const wrongRefusals: string[] = [];
  const invalidValid: string[] = [];
  const tallies = new Map<string, Tally>();
  cases.forEach((c, i) => {
    const { verdict, empty, full } = outcomes[i]!;
    const refusedEmpty = empty.type === "error";
    const refusedFull = full.type === "error";
    const tally = tallies.get(c.command.name) ??
      { cases: 0, alwaysRefused: 0, caught: 0, sameText: 0, letThrough: [] };
    tallies.set(c.command.name, tally);
    tally.cases++;
    if (c.valid && (verdict !== undefined || (refusedEmpty && refusedFull))) {
      invalidValid.push(`${show(c.argv)}: ${verdict} / ${text(empty)} / ${text(full)}`);
    }
    if (verdict !== undefined && !(refusedEmpty && refusedFull)) {
      wrongRefusals.push(
        `${show(c.argv)}: checkSyntax says ${verdict}; Redis: empty ${text(empty)}, keys ${
          text(full)
        }`,
      );
    }
    if (refusedEmpty && refusedFull) {
      tally.alwaysRefused++;
      if (verdict !== undefined) {
        tally.caught++;
        if (verdict === text(empty) || verdict === text(full)) tally.sameText++;
      } else if (tally.letThrough.length < 3) {
        tally.letThrough.push(`${show(c.argv)} (${text(empty)})`);
      }
    }
  });
  assert.deepEqual(invalidValid, [], "valid requests pass checkSyntax and Redis");
  assert.deepEqual(wrongRefusals, [], "checkSyntax refuses nothing Redis accepts");

  const names = [...tallies.keys()].sort();
  const full = names.filter((name) =>
    tallies.get(name)!.caught === tallies.get(name)!.alwaysRefused
  );
  const sum = (field: "cases" | "alwaysRefused" | "caught" | "sameText") =>
    names.reduce((total, name) => total + tallies.get(name)![field], 0);
  const lines = [
    `checkSyntax vs Redis ${cases.length} requests over ${names.length} write commands:`,
    `  fully validated (every always-refused near miss refused before logging): ${full.length}`,
    `  partly permissive (Redis refuses some at apply time): ${names.length - full.length}`,
    `  always-refused near misses caught: ${sum("caught")}/${
      sum("alwaysRefused")
    }, with Redis's exact text: ${sum("sameText")}`,
  ];
  for (const name of names) {
    const tally = tallies.get(name)!;
    if (tally.caught === tally.alwaysRefused) continue;
    lines.push(
      `  ${name}: ${tally.caught}/${tally.alwaysRefused} caught; let through e.g. ${
        tally.letThrough.join("; ")
      }`,
    );
  }
  console.log(lines.join("\n"));
});
