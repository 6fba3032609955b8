/**
 * rewriteForLog() against a real Redis: for each relative-expiry form, the
 * original request runs in db 0 and its rewrite in db 1, on identical starting
 * states; the replies must be equal, and so must the resulting keys (value
 * and type via DUMP, TTL within a small tolerance). Invalid requests must come
 * back unchanged, so Redis answers them with its own error text.
 */

import assert from "node:assert/strict";
import { startRedis } from "../harness/mod.ts";
import { findCommand, rewriteForLog } from "../../src/command/mod.ts";
import type { RespValue } from "../../src/resp/value.ts";
import { argv as bytes, connect, text } from "./resp3.ts";
import { FUTURE_MS } from "./write_corpus.ts";

/** How far apart the two TTLs may be: the ms between taking the clock and Redis running the original. */
const TTL_TOLERANCE_MS = 250;

/** An expiry near the 64-bit limit that still fits once the clock is added. */
const HUGE_VALID_MS = String(2n ** 63n - 1n - BigInt(Date.now()) - 10n ** 12n);

interface Scenario {
  /** Commands that build the starting state (in both dbs). */
  readonly setup: readonly string[][];
  readonly request: readonly string[];
  /** Whether rewriteForLog() must change the request. */
  readonly rewritten: boolean;
}

const STRING = [["SET", "k", "v"]];
const STRING_WITH_TTL = [["SET", "k", "v", "EX", "50"]];
const LIST = [["RPUSH", "k", "a", "b"]];
const NONE: string[][] = [];

/** Stands for a DUMP payload in a request. */
const PAYLOAD = "$PAYLOAD";

function scenarios(): Scenario[] {
  const payload = PAYLOAD;
  const s = (setup: readonly string[][], request: string[], rewritten: boolean): Scenario => ({
    setup,
    request,
    rewritten,
  });
  return [
    // EXPIRE
    s(NONE, ["EXPIRE", "k", "100"], true),
    s(STRING, ["EXPIRE", "k", "100"], true),
    s(LIST, ["expire", "k", "100"], true),
    s(STRING, ["EXPIRE", "k", "0"], true),
    s(STRING, ["EXPIRE", "k", "-5"], true),
    s(STRING, ["EXPIRE", "k", "-9223372036854775"], true),
    s(STRING, ["EXPIRE", "k", "100", "NX"], true),
    s(STRING_WITH_TTL, ["EXPIRE", "k", "100", "NX"], true),
    s(STRING_WITH_TTL, ["EXPIRE", "k", "100", "GT"], true),
    s(STRING_WITH_TTL, ["EXPIRE", "k", "10", "GT"], true),
    s(STRING_WITH_TTL, ["EXPIRE", "k", "10", "lt", "xx"], true),
    s(STRING, ["EXPIRE", "k", "100", "XX"], true),
    s(STRING, ["EXPIRE", "k", "100", "NX", "XX"], false),
    s(STRING, ["EXPIRE", "k", "100", "GT", "LT"], false),
    s(STRING, ["EXPIRE", "k", "100", "FOO"], false),
    s(STRING, ["EXPIRE", "k", "abc"], false),
    s(STRING, ["EXPIRE", "k", "9223372036854775"], false),
    s(STRING, ["EXPIRE", "k", "-9223372036854776"], false),
    // PEXPIRE
    s(STRING, ["PEXPIRE", "k", "100000"], true),
    s(STRING, ["PEXPIRE", "k", "0"], true),
    s(STRING, ["PEXPIRE", "k", "-1"], true),
    s(STRING, ["PEXPIRE", "k", HUGE_VALID_MS], true),
    s(STRING_WITH_TTL, ["PEXPIRE", "k", "100000", "LT"], true),
    s(STRING, ["PEXPIRE", "k", "9223372036854775807"], false),
    s(STRING, ["PEXPIRE", "k", "1.5"], false),
    // SETEX, PSETEX
    s(NONE, ["SETEX", "k", "100", "v"], true),
    s(LIST, ["setex", "k", "100", "v"], true),
    s(STRING_WITH_TTL, ["SETEX", "k", "100", "w"], true),
    s(STRING, ["SETEX", "k", "0", "v"], false),
    s(STRING, ["SETEX", "k", "-1", "v"], false),
    s(STRING, ["SETEX", "k", "abc", "v"], false),
    s(STRING, ["SETEX", "k", "9223372036854775", "v"], false),
    s(STRING, ["SETEX", "k", "9223372036854776", "v"], false),
    s(NONE, ["PSETEX", "k", "100000", "v"], true),
    s(NONE, ["PSETEX", "k", "1", "v"], true),
    s(STRING, ["PSETEX", "k", "0", "v"], false),
    s(STRING, ["PSETEX", "k", "9223372036854775807", "v"], false),
    // SET
    s(NONE, ["SET", "k", "v", "EX", "100"], true),
    s(STRING_WITH_TTL, ["set", "k", "v", "px", "100000"], true),
    s(NONE, ["SET", "k", "v", "EX", "100", "NX"], true),
    s(STRING, ["SET", "k", "v", "NX", "EX", "100"], true),
    s(STRING, ["SET", "k", "w", "EX", "100", "XX"], true),
    s(NONE, ["SET", "k", "w", "XX", "EX", "100"], true),
    s(STRING, ["SET", "k", "w", "EX", "100", "GET"], true),
    s(LIST, ["SET", "k", "w", "EX", "100", "GET"], true),
    s(STRING, ["SET", "k", "w", "NX", "GET", "PX", "100000"], true),
    s(STRING, ["SET", "k", "v", "EX", "abc", "EX", "100"], true),
    s(STRING, ["SET", "k", "v", "EX", "100", "GET", "EX", "200"], true),
    s(STRING, ["SET", "k", "v", "EX", "0"], false),
    s(STRING, ["SET", "k", "v", "PX", "-1"], false),
    s(STRING, ["SET", "k", "v", "EX", "abc"], false),
    s(STRING, ["SET", "k", "v", "EX", "100", "KEEPTTL"], false),
    s(STRING, ["SET", "k", "v", "EX", "100", "PX", "100"], false),
    s(STRING, ["SET", "k", "v", "EX", "100", "NX", "XX"], false),
    s(STRING, ["SET", "k", "v", "EX"], false),
    s(STRING, ["SET", "k", "v", "EX", "9223372036854775"], false),
    s(STRING, ["SET", "k", "v", "EXAT", "4102444800"], false),
    s(STRING, ["SET", "k", "v", "PXAT", FUTURE_MS], false),
    s(STRING, ["SET", "k", "v", "KEEPTTL"], false),
    // GETEX
    s(STRING, ["GETEX", "k", "EX", "100"], true),
    s(STRING_WITH_TTL, ["getex", "k", "px", "100000"], true),
    s(NONE, ["GETEX", "k", "EX", "100"], true),
    s(LIST, ["GETEX", "k", "EX", "100"], true),
    s(STRING, ["GETEX", "k", "EX", "1", "EX", "100"], true),
    s(STRING, ["GETEX", "k", "EX", "abc"], false),
    s(NONE, ["GETEX", "k", "EX", "abc"], false),
    s(STRING, ["GETEX", "k", "EX", "0"], false),
    s(NONE, ["GETEX", "k", "PX", "-1"], false),
    s(STRING, ["GETEX", "k", "PX", "100", "EX", "100"], false),
    s(STRING, ["GETEX", "k", "PX", "9223372036854775807"], false),
    s(STRING_WITH_TTL, ["GETEX", "k", "PERSIST"], false),
    // RESTORE
    s(NONE, ["RESTORE", "k", "100000", payload], true),
    s(STRING, ["RESTORE", "k", "100000", payload, "REPLACE"], true),
    s(STRING, ["RESTORE", "k", "100000", payload], true),
    s(NONE, ["restore", "k", "100000", payload, "idletime", "5"], true),
    s(NONE, ["RESTORE", "k", "100000", payload, "FREQ", "5", "REPLACE"], true),
    s(NONE, ["RESTORE", "k", "100000", "not a payload"], true),
    s(NONE, ["RESTORE", "k", "0", payload], false),
    s(NONE, ["RESTORE", "k", FUTURE_MS, payload, "ABSTTL"], false),
    s(NONE, ["RESTORE", "k", "-1", payload], false),
    s(NONE, ["RESTORE", "k", "abc", payload], false),
    s(NONE, ["RESTORE", "k", "100000", payload, "IDLETIME", "1", "FREQ", "1"], false),
    s(NONE, ["RESTORE", "k", "100000", payload, "FREQ", "256"], false),
    s(NONE, ["RESTORE", "k", "100000", payload, "IDLETIME"], false),
    s(NONE, ["RESTORE", "k", "9223372036854775807", payload], false),
    // Unchanged commands
    s(STRING, ["PEXPIREAT", "k", FUTURE_MS], false),
    s(STRING, ["EXPIREAT", "k", "4102444800"], false),
    s(STRING, ["PERSIST", "k"], false),
  ];
}

function ttlClose(a: RespValue, b: RespValue): boolean {
  if (a.type !== "integer" || b.type !== "integer") return false;
  if (a.value < 0n || b.value < 0n) return a.value === b.value;
  const diff = a.value - b.value;
  return (diff < 0n ? -diff : diff) <= BigInt(TTL_TOLERANCE_MS);
}

Deno.test("rewriteForLog() gives the same replies and expiries as the original requests on a real Redis", async () => {
  await using redis = await startRedis();
  using db0 = await connect(redis.port, 2);
  using db1 = await connect(redis.port, 2);
  await db1.call("SELECT", "1");
  await db0.call("SET", "payload", "hello");
  const dump = await db0.call("DUMP", "payload");
  assert.ok(dump.type === "bulk" && dump.value !== null);

  const problems: string[] = [];
  for (const scenario of scenarios()) {
    const request = bytes(...scenario.request).map((arg, i) =>
      scenario.request[i] === PAYLOAD ? dump.value! : arg
    );
    const label = scenario.request.join(" ");
    const command = findCommand(scenario.request[0]!);
    assert.ok(command !== undefined, label);
    await db0.call("FLUSHALL");
    for (const setup of scenario.setup) {
      await db0.call(...setup);
      await db1.call(...setup);
    }
    const nowMs = Date.now();
    const logged = rewriteForLog(command, request, nowMs);
    if ((logged !== request) !== scenario.rewritten) {
      problems.push(`${label}: rewritten ${logged !== request}, expected ${scenario.rewritten}`);
    }
    const [original, rewritten] = await Promise.all([db0.call(...request), db1.call(...logged)]);
    const [ttl0, ttl1, dump0, dump1] = await Promise.all([
      db0.call("PTTL", "k"),
      db1.call("PTTL", "k"),
      db0.call("DUMP", "k"),
      db1.call("DUMP", "k"),
    ]);
    const shown = logged.map((arg) => new TextDecoder().decode(arg).slice(0, 20)).join(" ");
    if (text(original) !== text(rewritten) || original.type !== rewritten.type) {
      problems.push(`${label} → ${shown}: replies ${text(original)} / ${text(rewritten)}`);
    }
    if (!ttlClose(ttl0, ttl1)) {
      problems.push(`${label} → ${shown}: PTTL ${text(ttl0)} / ${text(ttl1)}`);
    }
    if (text(dump0) !== text(dump1)) problems.push(`${label} → ${shown}: values differ`);
  }
  assert.deepEqual(problems, []);
});
