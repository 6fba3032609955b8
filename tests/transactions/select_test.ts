/**
 * SELECT inside MULTI, as Redis runs it: queued, run by EXEC, moving the
 * commands after it and the connection after EXEC. Pylon's metadata db stays
 * out of reach: naming it inside a transaction is refused with Redis's words
 * for an index out of range, while the rest of the transaction runs.
 */

import assert from "node:assert/strict";
import { RawClient, shown, startPylon, startRedis } from "../harness/mod.ts";

Deno.test("SELECT inside MULTI runs as on Redis; the metadata db stays out of reach", async () => {
  await using rack = await startRedis();
  await using twin = await startRedis();
  await using pylon = await startPylon({ redis: { url: rack.url } });
  await using viaPylon = await RawClient.connect(pylon.port);
  await using direct = await RawClient.connect(twin.port);
  const script = [
    ["SET", "a", "db0"],
    ["MULTI"],
    ["SELECT", "2"],
    ["SET", "a", "db2"],
    ["SELECT", "99"],
    ["SELECT", "x"],
    ["INCR", "n"],
    ["EXEC"],
    ["GET", "a"],
    ["GET", "n"],
    ["SELECT", "0"],
    ["GET", "a"],
    ["MULTI"],
    ["SELECT", "3"],
    ["DISCARD"],
    ["GET", "a"],
  ];
  for (const argv of script) {
    assert.equal(
      shown(await viaPylon.call(...argv)),
      shown(await direct.call(...argv)),
      argv.join(" "),
    );
  }
  // Pylon's metadata db (the last one): refused inside EXEC, the rest runs.
  assert.equal(shown(await viaPylon.call(...["MULTI"])), shown({ type: "simple", value: "OK" }));
  shown(await viaPylon.call(...["SELECT", "15"]));
  shown(await viaPylon.call(...["SET", "stolen", "1"]));
  const exec = shown(await viaPylon.call(...["EXEC"]));
  assert.match(exec, /DB index is out of range/);
  assert.equal(await rack.call("-n", "15", "EXISTS", "stolen"), "0");
  assert.equal(await rack.call("-n", "0", "GET", "stolen"), "1");
});
