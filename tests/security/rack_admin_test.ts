/**
 * Administration of the rack's own Redis through Pylon (src/auth/rack_admin.ts):
 * CONFIG SET, CONFIG RESETSTAT and SLOWLOG reach this rack's Redis only, as
 * the user's ACL rules allow, as on Redis (the password-less default user may;
 * with a password, AUTH first), never for the parameters Pylon depends on,
 * never inside MULTI (EXEC runs on every rack). CLIENT UNBLOCK answers 0 (no
 * Pylon client is ever blocked); CLIENT PAUSE, CLIENT KILL and DEBUG are
 * refused with their reason. Checked on the Redis itself.
 */

import assert from "node:assert/strict";
import { RawClient, startPylon, startRedis } from "../harness/mod.ts";
import type { RespValue } from "../../src/resp/value.ts";

function errorText(reply: RespValue): string {
  assert.equal(reply.type, "error", JSON.stringify(reply));
  return (reply as { value: string }).value;
}

Deno.test("without a password the default user administers the rack's Redis, as on Redis; CLIENT UNBLOCK is 0; PAUSE, KILL, DEBUG refused", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({ redis: { url: redis.url } });
  await using client = await RawClient.connect(pylon.port);
  // What test harnesses and frameworks set at start, from a loopback client that never authenticated.
  assert.deepEqual(
    await client.call("CONFIG", "SET", "list-max-listpack-size", "4"),
    { type: "simple", value: "OK" },
  );
  assert.equal(
    await redis.call("CONFIG", "GET", "list-max-listpack-size"),
    "list-max-listpack-size\n4",
  );
  assert.equal((await client.call("SLOWLOG", "LEN")).type, "integer");
  assert.match(
    errorText(await client.call("CONFIG", "SET", "dir", "/tmp")),
    /Pylon depends on 'dir'/,
  );
  assert.deepEqual(await client.call("CLIENT", "UNBLOCK", "5"), { type: "integer", value: 0n });
  assert.equal(
    errorText(await client.call("CLIENT", "UNBLOCK", "x")),
    "ERR value is not an integer or out of range",
  );
  assert.equal(
    errorText(await client.call("CLIENT", "UNBLOCK", "5", "SOON")),
    "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
  );
  for (
    const argv of [["CLIENT", "PAUSE", "100"], ["CLIENT", "KILL", "ID", "1"], [
      "DEBUG",
      "SLEEP",
      "0",
    ]]
  ) {
    assert.match(errorText(await client.call(...argv)), /refused by Pylon: .+/, argv.join(" "));
  }
});

Deno.test("with a password, AUTH first as on Redis: CONFIG SET and SLOWLOG on this rack's Redis, not Pylon's parameters, not in MULTI", async () => {
  await using redis = await startRedis();
  await using pylon = await startPylon({
    redis: { url: redis.url },
    env: { PYLON_REQUIREPASS: "pw", PYLON_USER: "reader on >rpw ~* +@read +@connection" },
    waitReady: false,
  });
  await pylon.waitForLog(/pylon: ready on/);
  await using admin = await RawClient.connect(pylon.port);
  assert.equal(
    errorText(await admin.call("CONFIG", "SET", "list-max-listpack-size", "4")),
    "NOAUTH Authentication required.",
  );
  assert.equal(
    await redis.call("CONFIG", "GET", "list-max-listpack-size"),
    "list-max-listpack-size\n-2",
  );
  assert.deepEqual(await admin.call("AUTH", "pw"), { type: "simple", value: "OK" });
  assert.deepEqual(
    await admin.call("CONFIG", "SET", "list-max-listpack-size", "4"),
    { type: "simple", value: "OK" },
  );
  // The world's contract for racks' Redis: no rack may answer an op differently from the others.
  for (
    const [parameter, value] of [["maxmemory-policy", "allkeys-lru"], ["proto-max-bulk-len", "1mb"]]
  ) {
    assert.match(
      errorText(await admin.call("CONFIG", "SET", parameter!, value!)),
      /part of the world's contract/,
      parameter,
    );
  }
  assert.equal(
    await redis.call("CONFIG", "GET", "maxmemory-policy"),
    "maxmemory-policy\nnoeviction",
  );
  assert.deepEqual(await admin.call("CONFIG", "RESETSTAT"), { type: "simple", value: "OK" });
  assert.deepEqual(await admin.call("SLOWLOG", "RESET"), { type: "simple", value: "OK" });
  assert.deepEqual(await admin.call("SLOWLOG", "LEN"), { type: "integer", value: 0n });
  for (const parameter of ["requirepass", "dir", "tls-port", "REPLICAOF"]) {
    assert.match(
      errorText(await admin.call("CONFIG", "SET", "maxmemory", "0", parameter, "x")),
      /Pylon depends on/,
      parameter,
    );
  }
  assert.equal(await redis.call("CONFIG", "GET", "requirepass"), "requirepass\n");
  // Inside MULTI it would run on every rack: refused, and the transaction fails.
  await admin.call("MULTI");
  assert.match(errorText(await admin.call("CONFIG", "SET", "maxmemory", "1")), /inside MULTI/);
  assert.match(errorText(await admin.call("EXEC")), /EXECABORT/);
  assert.equal(await redis.call("CONFIG", "GET", "maxmemory"), "maxmemory\n0");
  // A user not granted it: Redis's NOPERM.
  await using reader = await RawClient.connect(pylon.port);
  await reader.call("AUTH", "reader", "rpw");
  assert.match(
    errorText(await reader.call("CONFIG", "SET", "maxmemory", "1")),
    /^NOPERM .*config\|set/,
  );
});
