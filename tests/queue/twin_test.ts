/**
 * Blocking commands through Pylon answer byte for byte what a twin Redis
 * answers: a generated set of requests over every blocking command (served at
 * once, served while waiting by a push from another connection, timed out,
 * wrong type, wrong arity, negative, fractional and malformed timeouts,
 * inside MULTI), `XREAD .. BLOCK` and `XREADGROUP .. BLOCK`, and
 * `CLIENT UNBLOCK` in both its modes, in RESP2 and RESP3. Before this issue
 * every valid blocking request was refused by Pylon; the same set against the
 * old code differs on all of them but the invalid timeouts and WRONGTYPE.
 */

import assert from "node:assert/strict";
import { startPylon, startRedis, waitFor } from "../harness/mod.ts";
import { FrameClient, text } from "../determinism/racks.ts";

/** One request and what comes before it. */
interface Case {
  name: string;
  setup?: string[][];
  /** The blocking request (or a MULTI block's commands, with `multi`). */
  request: string[];
  multi?: string[][];
  /** Sent from another connection once the request waits (it is then served by it). */
  push?: string[][];
  /** CLIENT UNBLOCK the waiting client with this mode instead. */
  unblock?: "TIMEOUT" | "ERROR";
}

const SHORT = "0.05";

/** Every blocking pop, with its source `src` and how to fill the source. */
const POPS: { name: string; request: (timeout: string) => string[]; fill: string[][] }[] = [
  {
    name: "BLPOP",
    request: (t) => ["BLPOP", "none", "src", t],
    fill: [["RPUSH", "src", "a", "b"]],
  },
  { name: "BRPOP", request: (t) => ["BRPOP", "src", t], fill: [["RPUSH", "src", "a", "b"]] },
  {
    name: "BLMOVE",
    request: (t) => ["BLMOVE", "src", "dst", "LEFT", "RIGHT", t],
    fill: [["RPUSH", "src", "a", "b"]],
  },
  {
    name: "BRPOPLPUSH",
    request: (t) => ["BRPOPLPUSH", "src", "dst", t],
    fill: [["RPUSH", "src", "a", "b"]],
  },
  {
    name: "BLMPOP",
    request: (t) => ["BLMPOP", t, "2", "none", "src", "RIGHT", "COUNT", "3"],
    fill: [["RPUSH", "src", "a", "b"]],
  },
  {
    name: "BZPOPMIN",
    request: (t) => ["BZPOPMIN", "src", t],
    fill: [["ZADD", "src", "1.5", "a", "2", "b"]],
  },
  {
    name: "BZPOPMAX",
    request: (t) => ["BZPOPMAX", "none", "src", t],
    fill: [["ZADD", "src", "1.5", "a", "2", "b"]],
  },
  {
    name: "BZMPOP",
    request: (t) => ["BZMPOP", t, "1", "src", "MAX", "COUNT", "5"],
    fill: [["ZADD", "src", "1.5", "a", "2", "b"]],
  },
];

/** The generated set: for each pop, each way it can go. */
function cases(): Case[] {
  const out: Case[] = [];
  for (const pop of POPS) {
    const n = pop.name;
    out.push(
      { name: `${n} served at once`, setup: pop.fill, request: pop.request("0") },
      { name: `${n} timed out`, request: pop.request(SHORT) },
      { name: `${n} served while waiting`, request: pop.request("0"), push: pop.fill },
      { name: `${n} on a string`, setup: [["SET", "src", "x"]], request: pop.request("0") },
      { name: `${n} negative timeout`, request: pop.request("-1") },
      { name: `${n} fractional timeout`, request: pop.request("0.02") },
      { name: `${n} malformed timeout`, request: pop.request("abc") },
      { name: `${n} huge timeout`, request: pop.request("1e400") },
      { name: `${n} hex timeout`, setup: pop.fill, request: pop.request("0x10") },
      { name: `${n} wrong arity`, request: [n] },
      { name: `${n} unblocked`, request: pop.request("0"), unblock: "TIMEOUT" },
      { name: `${n} unblocked with an error`, request: pop.request("0"), unblock: "ERROR" },
      {
        name: `${n} inside MULTI, empty`,
        request: ["MULTI"],
        multi: [pop.request("0"), pop.request("-1"), pop.request("x")],
      },
      {
        name: `${n} inside MULTI, served`,
        setup: pop.fill,
        request: ["MULTI"],
        multi: [pop.request("1"), pop.request("0")],
      },
    );
  }
  const stream = [
    ["XADD", "s", "1-1", "f", "a"],
    ["XGROUP", "CREATE", "s", "g", "$"],
  ];
  out.push(
    {
      name: "XREAD BLOCK served at once",
      setup: stream,
      request: ["XREAD", "BLOCK", "0", "STREAMS", "s", "0"],
    },
    { name: "XREAD BLOCK timed out", request: ["XREAD", "BLOCK", "50", "STREAMS", "s", "0"] },
    {
      name: "XREAD BLOCK $ served by a later entry",
      setup: stream,
      request: ["XREAD", "COUNT", "5", "BLOCK", "0", "STREAMS", "s", "$"],
      push: [["XADD", "s", "2-1", "f", "b"]],
    },
    {
      name: "XREAD BLOCK on two streams, one served",
      setup: stream,
      request: ["XREAD", "BLOCK", "0", "STREAMS", "t", "s", "0", "$"],
      push: [["XADD", "t", "3-1", "f", "c"]],
    },
    {
      name: "XREAD BLOCK on a string",
      setup: [["SET", "s", "x"]],
      request: ["XREAD", "BLOCK", "0", "STREAMS", "s", "$"],
    },
    { name: "XREAD BLOCK negative", request: ["XREAD", "BLOCK", "-5", "STREAMS", "s", "0"] },
    { name: "XREAD BLOCK fractional", request: ["XREAD", "BLOCK", "1.5", "STREAMS", "s", "0"] },
    {
      name: "XREAD BLOCK unbalanced",
      request: ["XREAD", "BLOCK", "10", "STREAMS", "s", "t", "0"],
    },
    {
      name: "XREAD BLOCK unblocked",
      request: ["XREAD", "BLOCK", "0", "STREAMS", "s", "0"],
      unblock: "TIMEOUT",
    },
    {
      name: "XREADGROUP BLOCK served while waiting",
      setup: stream,
      request: ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"],
      push: [["XADD", "s", "2-1", "f", "b"]],
    },
    {
      name: "XREADGROUP BLOCK timed out",
      setup: stream,
      request: ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "50", "STREAMS", "s", ">"],
    },
    {
      name: "XREADGROUP BLOCK without the group",
      request: ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "10", "STREAMS", "s", ">"],
    },
    {
      name: "XREADGROUP BLOCK of its history answers at once",
      setup: [...stream, ["XADD", "s", "2-1", "f", "b"], [
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "STREAMS",
        "s",
        ">",
      ]],
      request: ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", "0"],
    },
    {
      name: "XREADGROUP BLOCK negative",
      setup: stream,
      request: ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "-1", "STREAMS", "s", ">"],
    },
    {
      name: "XREADGROUP BLOCK inside MULTI",
      setup: stream,
      request: ["MULTI"],
      multi: [
        ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"],
        ["XADD", "s", "2-1", "f", "b"],
        ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "100", "STREAMS", "s", ">"],
        ["XREAD", "BLOCK", "0", "STREAMS", "s", "$"],
      ],
    },
    { name: "CLIENT UNBLOCK of no one", request: ["CLIENT", "UNBLOCK", "999999"] },
    { name: "CLIENT UNBLOCK bad mode", request: ["CLIENT", "UNBLOCK", "1", "LATER"] },
  );
  return out;
}

/** What one server answered to a case: every reply's bytes, and how long the request took. */
async function run(
  port: number,
  c: Case,
  protocol: 2 | 3,
): Promise<{ replies: string[]; tookMs: number }> {
  await using client = await FrameClient.connect(port);
  await using other = await FrameClient.connect(port);
  await client.call("HELLO", String(protocol));
  await other.call("FLUSHALL");
  for (const argv of c.setup ?? []) await other.call(...argv);
  const replies: string[] = [];
  const startedAt = performance.now();
  if (c.multi !== undefined) {
    replies.push(text(await client.call("MULTI")));
    for (const argv of c.multi) replies.push(text(await client.call(...argv)));
    replies.push(text(await client.call("EXEC")));
    return { replies, tookMs: performance.now() - startedAt };
  }
  if (c.push === undefined && c.unblock === undefined) {
    replies.push(text(await client.call(...c.request)));
    return { replies, tookMs: performance.now() - startedAt };
  }
  const id = text(await client.call("CLIENT", "ID")).replace(/^:|␍␊$/g, "");
  const pending = client.call(...c.request);
  // The request waits: the server says so (CLIENT LIST's flag b).
  await waitFor("the client to block", async () => {
    const list = new TextDecoder().decode(await other.call("CLIENT", "LIST", "ID", id));
    return list.includes("flags=b") ? true : undefined;
  }, { timeoutMs: 10_000, intervalMs: 5 });
  if (c.unblock !== undefined) {
    replies.push(text(await other.call("CLIENT", "UNBLOCK", id, c.unblock)));
  }
  for (const argv of c.push ?? []) replies.push(text(await other.call(...argv)));
  replies.push(text(await pending));
  return { replies, tookMs: performance.now() - startedAt };
}

Deno.test("blocking commands answer byte for byte as a twin Redis, in RESP2 and RESP3", async () => {
  await using twin = await startRedis();
  await using rack = await startRedis();
  await using pylon = await startPylon({ redis: { url: rack.url } });
  let compared = 0;
  const differences: string[] = [];
  for (const protocol of [2, 3] as const) {
    for (const c of cases()) {
      const expected = await run(twin.port, c, protocol);
      const got = await run(pylon.port, c, protocol);
      compared++;
      if (JSON.stringify(got.replies) !== JSON.stringify(expected.replies)) {
        differences.push(
          `RESP${protocol} ${c.name}:\n  redis ${expected.replies.join(" | ")}\n  pylon ${
            got.replies.join(" | ")
          }`,
        );
      }
      // A timeout is kept on the node's clock: never answered before it.
      if (/timed out|fractional/.test(c.name) && expected.replies.join("").includes("*-1")) {
        assert.ok(got.tookMs >= 19, `${c.name} answered after ${got.tookMs} ms`);
      }
    }
  }
  assert.deepEqual(differences, [], `${differences.length} of ${compared} differ`);
  assert.ok(compared >= 250, `${compared} requests compared`);
  // Nothing is left waiting on the node.
  assert.match(await pylon.call("INFO", "clients"), /blocked_clients:0/);
  // The tries ran as claims (LMPOP and ZMPOP inside the claim script), each removed once answered.
  const stats = await rack.call("INFO", "commandstats");
  assert.match(stats, /cmdstat_lmpop:calls=\d+/);
  assert.match(stats, /cmdstat_zmpop:calls=\d+/);
  await waitFor(
    "every claim removed",
    async () =>
      (await rack.call("-n", "15", "KEYS", "pylon:claims:*")).trim() === "" ? true : undefined,
  );
});
