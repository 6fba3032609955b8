/** CONFIG GET through Pylon: Redis's reply, byte for byte, without the parameters that hold passwords. */

import assert from "node:assert/strict";
import { encodeCommand } from "../../src/resp/encoder.ts";
import { RawClient, startPylon, startRedis } from "../harness/mod.ts";

Deno.test("CONFIG GET answers as the rack's Redis does, with its passwords left out", async () => {
  await using redis = await startRedis({ config: { "masterauth": "not-for-clients" } });
  await using pylon = await startPylon({ redis: { url: redis.url } });
  await using viaPylon = await RawClient.connect(pylon.port);
  await using direct = await RawClient.connect(redis.port);
  for (const protocol of ["2", "3"]) {
    for (const client of [viaPylon, direct]) {
      await client.send(encodeCommand(["HELLO", protocol]));
      await client.read();
    }
    for (const argv of [["CONFIG", "GET", "maxmemory"], ["CONFIG", "GET", "maxmemory-*"]]) {
      await viaPylon.send(encodeCommand(argv));
      await direct.send(encodeCommand(argv));
      assert.deepEqual(
        await viaPylon.read(),
        await direct.read(),
        `${argv.join(" ")} RESP${protocol}`,
      );
    }
    await viaPylon.send(encodeCommand(["CONFIG", "GET", "*auth*"]));
    const shown = JSON.stringify(
      await viaPylon.read(),
      (_, v) =>
        v instanceof Uint8Array
          ? new TextDecoder().decode(v)
          : typeof v === "bigint"
          ? String(v)
          : v,
    );
    assert.doesNotMatch(shown, /masterauth|not-for-clients/, `RESP${protocol}`);
    await direct.send(encodeCommand(["CONFIG", "GET", "masterauth"]));
    assert.match(
      JSON.stringify(
        await direct.read(),
        (_, v) => v instanceof Uint8Array ? new TextDecoder().decode(v) : v,
      ),
      /not-for-clients/,
      "Redis has it",
    );
  }
});
