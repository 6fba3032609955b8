/** The generator against a real Redis: the committed table is exactly what it produces. */

import assert from "node:assert/strict";
import { join } from "node:path";
import { startRedis } from "../harness/mod.ts";
import { OUTPUT_PATH, readCommands, renderModule } from "../../tools/gen_commands.ts";
import { RedisClient } from "../../src/redis/client.ts";
import { REDIS_VERSION } from "../../src/command/generated.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

Deno.test("the committed command table is what tools/gen_commands.ts generates from this Redis", async () => {
  await using redis = await startRedis();
  using client = await RedisClient.connect({ host: redis.host, port: redis.port });
  const { version, commands } = await readCommands(client);
  const committed = await Deno.readTextFile(join(ROOT, OUTPUT_PATH));
  // A Debian security update may bump the patch release; the commands must still match.
  assert.equal(
    version.split(".").slice(0, 2).join("."),
    REDIS_VERSION.split(".").slice(0, 2).join("."),
  );
  assert.ok(
    committed === renderModule(REDIS_VERSION, commands),
    `${OUTPUT_PATH} is stale for Redis ${version}: run deno task gen-commands`,
  );
});
