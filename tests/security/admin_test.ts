/**
 * Only an authenticated admin changes the world: `PYLON NODE ADD|REMOVE` and
 * `PYLON RACK TRANSFER` from a connection that proved no password are
 * refused, the world is unchanged, and the node never dials the address it
 * was given; the built-in user `pylon` (the world secret) and a configured
 * admin may.
 */

import assert from "node:assert/strict";
import * as net from "node:net";
import { RawClient, startPylon, startRedis, waitFor } from "../harness/mod.ts";
import { freePort } from "../harness/ports.ts";
import type { RespValue } from "../../src/resp/value.ts";

const SECRET = "admin-test-world-secret";

const text = (v: RespValue) => ("value" in v ? String(v.value) : v.type);

Deno.test("world changes need an authenticated admin; strangers cannot make a node dial out", async () => {
  await using redis = await startRedis();
  // A listener posing as a node: it counts every connection made to it.
  let dialled = 0;
  const trap = net.createServer((socket) => {
    dialled++;
    socket.destroy();
  });
  const trapPort = freePort();
  await new Promise<void>((resolve) => trap.listen(trapPort, "127.0.0.1", () => resolve()));
  try {
    await using pylon = await startPylon({
      redis: { url: redis.url },
      env: { PYLON_WORLD_SECRET: SECRET, PYLON_USER: "ops on >ops-pw +@all ~*" },
      args: ["--node-id", "east-1", "--rack", "east", "--peer-listen", `127.0.0.1:${freePort()}`],
    });
    await using anyone = await RawClient.connect(pylon.port);
    for (
      const argv of [
        ["PYLON", "NODE", "ADD", "evil-1", "east", `127.0.0.1:${trapPort}`],
        ["PYLON", "NODE", "REMOVE", "east-1"],
        ["PYLON", "RACK", "TRANSFER", "east-1"],
      ]
    ) {
      assert.match(text(await anyone.call(...argv)), /^NOPERM changing the world's membership/);
    }
    assert.match(await pylon.call("PYLON", "WORLD"), /east-1/, "reading the world is fine");
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.equal(dialled, 0, "the node never dialled the address a stranger gave");
    assert.doesNotMatch(await pylon.call("PYLON", "WORLD"), /evil-1/);

    // A configured user allowed +@all, and the world user, may.
    await using ops = await RawClient.connect(pylon.port);
    assert.equal(text(await ops.call("AUTH", "ops", "ops-pw")), "OK");
    assert.equal(
      text(await ops.call("PYLON", "NODE", "ADD", "west-1", "west", `127.0.0.1:${trapPort}`)),
      "OK",
    );
    await using world = await RawClient.connect(pylon.port);
    assert.equal(text(await world.call("AUTH", "pylon", SECRET)), "OK");
    assert.equal(text(await world.call("PYLON", "NODE", "REMOVE", "west-1")), "OK");
    await waitFor(
      "west-1 to be gone",
      async () => /west-1/.test(text(await world.call("PYLON", "WORLD"))) ? undefined : true,
    );
  } finally {
    await new Promise<void>((resolve) => trap.close(() => resolve()));
  }
});
