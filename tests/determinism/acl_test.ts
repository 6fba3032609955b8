/**
 * Scripts applied as ops run as the restricted Redis user the applier makes
 * (src/applier/script_ops.ts). The wrapper must work within its rights (it
 * reads Redis's TIME, KEYS, XINFO, XPENDING, XRANGE), while the user still
 * cannot reach another db or INFO; `_G.redis` is the wrapper as well.
 */

import assert from "node:assert/strict";
import { startRedis } from "../harness/mod.ts";
import { ScriptOps } from "../../src/applier/script_ops.ts";
import { wrapEval } from "../../src/determinism/prologue.ts";
import { FrameClient, text } from "./racks.ts";

const encoder = new TextEncoder();

Deno.test("the restricted script user runs the wrapper's calls and still refuses other dbs and INFO", async () => {
  await using server = await startRedis();
  await using admin = await FrameClient.connect(server.port);
  await using client = await FrameClient.connect(server.port);
  const ops = new ScriptOps({}, "acl-test");
  const [made] = await admin.pipeline([[...decodeCommand(ops.setUser)]]);
  assert.equal(text(made!), "+OK␍␊");
  await client.pipeline([[...decodeCommand(ops.authAsScripts)]]);
  assert.equal(text(await client.call("ACL", "WHOAMI")), "$16␍␊pylon-script-ops␍␊");
  await admin.call("SADD", "set", "a", "b", "c");
  await admin.call("XADD", "s", "1-1", "f", "v");
  await admin.call("XGROUP", "CREATE", "s", "g", "0");
  const t = Date.now() - 5_000;
  const run = async (body: string, ...keysAndArgs: string[]) =>
    text(
      await client.call(
        ...wrapEval(["EVAL", body, ...keysAndArgs].map((arg) => encoder.encode(arg)), {
          logTimeMs: t,
          seed: "9",
        }),
      ),
    );
  assert.equal(
    await run("return redis.call('TIME')", "0"),
    `*2␍␊$${String(Math.floor(t / 1000)).length}␍␊${Math.floor(t / 1000)}␍␊$${
      String((t % 1000) * 1000).length
    }␍␊${(t % 1000) * 1000}␍␊`,
  );
  assert.match(await run("return redis.call('SPOP', KEYS[1])", "1", "set"), /^\$1␍␊[abc]␍␊$/);
  assert.match(await run("return redis.call('RANDOMKEY')", "0"), /^\$[13]␍␊/);
  assert.match(await run("return redis.call('SRANDMEMBER', KEYS[1], -2)", "1", "set"), /^\*2␍␊/);
  assert.equal(
    await run("return redis.call('XADD', KEYS[1], '*', 'f', 'v')", "1", "s"),
    `$${String(t).length + 2}␍␊${t}-0␍␊`,
  );
  assert.match(
    await run(
      "return redis.call('XREADGROUP', 'GROUP', 'g', 'c', 'STREAMS', KEYS[1], '>')",
      "1",
      "s",
    ),
    /^\*1␍␊/,
  );
  assert.equal(
    await run("return redis.call('XCLAIM', KEYS[1], 'g', 'd', 1, '1-1', 'JUSTID')", "1", "s"),
    "*0␍␊",
  );
  assert.match(
    await run("return redis.call('XAUTOCLAIM', KEYS[1], 'g', 'd', 0, '0')", "1", "s"),
    /^\*3␍␊/,
  );
  assert.match(
    await run("return redis.call('XPENDING', KEYS[1], 'g', '-', '+', 5)", "1", "s"),
    /^\*2␍␊/,
  );
  // `_G.redis` is the wrapper too: a script going around it still draws from the seed.
  assert.match(await run("return _G.redis.call('SPOP', KEYS[1])", "1", "set"), /^\$1␍␊[abc]␍␊$/);
  for (
    const body of [
      "return redis.call('SELECT', 1)",
      "return redis.call('INFO')",
      "return redis.call('SWAPDB', 0, 1)",
      // Every partition at once: no single partition orders it (issue 24).
      "return redis.call('FLUSHALL')",
      "return redis.call('FLUSHDB')",
    ]
  ) {
    assert.match(await run(body, "1", "set"), /can't run this command/, body);
  }
});

/** A command's argv back from its RESP encoding (the ops' commands are pre-encoded). */
function decodeCommand(command: Uint8Array): Uint8Array[] {
  const argv: Uint8Array[] = [];
  let at = command.indexOf(0x0a) + 1;
  while (at < command.length) {
    const end = command.indexOf(0x0d, at);
    const length = Number(new TextDecoder().decode(command.subarray(at + 1, end)));
    argv.push(command.subarray(end + 2, end + 2 + length));
    at = end + 2 + length + 2;
  }
  return argv;
}
