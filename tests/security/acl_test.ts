/**
 * Pylon's users against Redis's: a real redis-server and a Pylon node get
 * the same users (requirepass, an ACL user with key patterns and categories),
 * the same requests go to both on raw connections, and every reply — NOAUTH,
 * WRONGPASS, NOPERM for a command, a subcommand or a key, the successes —
 * must be the same, byte for byte.
 */

import assert from "node:assert/strict";
import { RawClient, startPylon, startRedis } from "../harness/mod.ts";
import type { RespValue } from "../../src/resp/value.ts";

const USERS: Record<string, string> = {
  "user app": "on >apw ~app:* %R~shared:* +@read +@write +@connection -@dangerous",
  "user off": "off >opw +@all ~*",
};

/** Sends each request on one fresh connection to `port`; the replies in order. */
async function replies(port: number, requests: string[][]): Promise<RespValue[]> {
  await using client = await RawClient.connect(port);
  const out: RespValue[] = [];
  for (const argv of requests) {
    await client.command(...argv);
    out.push(await client.read(5_000));
  }
  return out;
}

const SCRIPT: string[][] = [
  ["GET", "app:1"], // NOAUTH before AUTH
  ["HELLO", "3"], // NOAUTH: HELLO needs AUTH then
  ["AUTH", "wrong"],
  ["AUTH", "nobody", "x"],
  ["AUTH", "off", "opw"], // a disabled user
  ["AUTH", "app", "apw"],
  ["ACL", "WHOAMI"],
  ["SET", "app:1", "v"],
  ["GET", "app:1"],
  ["GET", "other"], // NOPERM key
  ["SET", "shared:1", "v"], // NOPERM key: read-only pattern
  ["GET", "shared:1"],
  ["KEYS", "*"], // NOPERM command (@dangerous)
  ["CLIENT", "KILL", "ID", "999999"], // NOPERM subcommand
  ["FLUSHALL"], // NOPERM command
  ["AUTH", "pw"],
  ["ACL", "WHOAMI"],
  ["SET", "other", "v"],
  ["HELLO", "2", "AUTH", "app", "wrong"],
];

Deno.test("NOAUTH, WRONGPASS and NOPERM are answered as a real Redis with the same users answers them", async () => {
  await using redis = await startRedis({ config: { requirepass: "pw", ...USERS } });
  await using backend = await startRedis();
  await using pylon = await startPylon({
    redis: { url: backend.url },
    env: {
      PYLON_REQUIREPASS: "pw",
      PYLON_USER: Object.entries(USERS).map(([k, v]) => `${k.slice(5)} ${v}`).join(";"),
    },
    waitReady: false,
  });
  await pylon.waitForLog(/pylon: ready on/);
  const expected = await replies(redis.port, SCRIPT);
  const got = await replies(pylon.port, SCRIPT);
  SCRIPT.forEach((argv, i) => {
    assert.deepEqual(got[i], expected[i], `${argv.join(" ")}`);
  });
  // What Pylon let through reached its Redis; what it refused did not.
  assert.equal(await backend.call("GET", "app:1"), "v");
  assert.equal(await backend.call("EXISTS", "shared:1"), "0");
});

Deno.test("AUTH without a configured password is answered as Redis answers it", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({ redis: { url: redis.url } });
  const script = [["AUTH", "x"], ["AUTH", "default", "x"], ["ACL", "WHOAMI"], ["PING"]];
  assert.deepEqual(await replies(pylon.port, script), await replies(redis.port, script));
});

Deno.test("failed logins are rate-limited per address and counted", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({
    redis: { url: redis.url },
    env: { PYLON_REQUIREPASS: "right" },
    waitReady: false,
  });
  await pylon.waitForLog(/pylon: ready on/);
  await using admin = await RawClient.connect(pylon.port);
  await admin.command("AUTH", "right");
  assert.deepEqual(await admin.read(), { type: "simple", value: "OK" });
  const attempts = Array.from({ length: 12 }, (_, i) => ["AUTH", `guess-${i}`]);
  const answers = await replies(pylon.port, [...attempts, ["AUTH", "right"]]);
  const texts = answers.map((a) => ("value" in a ? String(a.value) : a.type));
  assert.ok(texts.slice(0, 10).every((t) => t.startsWith("WRONGPASS")), texts.join(" | "));
  assert.match(texts[10]!, /too many failed authentication attempts from 127\.0\.0\.1/);
  assert.match(texts[12]!, /too many failed/, "even the right password waits out the window");
  await admin.command("PYLON", "INFO");
  const info = await admin.read();
  assert.equal(info.type, "bulk", "RESP2: a bulk string");
  const text = new TextDecoder().decode((info as { value: Uint8Array }).value);
  assert.match(text, /auth_failures:10\r\nauth_rate_limited:3/);
});
