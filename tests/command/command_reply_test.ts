/** The COMMAND command answered from Pylon's table, compared with a real Redis's replies. */

import assert from "node:assert/strict";
import { startRedis } from "../harness/mod.ts";
import { allCommands, commandReply } from "../../src/command/mod.ts";
import type { RespValue } from "../../src/resp/value.ts";
import { argv, connect, items, sortDocs, sortInfo, text, toResp2 } from "./resp3.ts";

function names(reply: RespValue): string[] {
  return items(reply).map(text).sort();
}

Deno.test("COMMAND answers as Redis 7.0 does", async (t) => {
  await using redis = await startRedis();
  using resp3 = await connect(redis.port, 3);
  using resp2 = await connect(redis.port, 2);
  const both = async (...args: string[]) => ({
    redis: await resp3.call(...args),
    pylon: commandReply(argv(...args)),
  });

  await t.step("COMMAND COUNT equals Redis's", async () => {
    const { redis: theirs, pylon } = await both("COMMAND", "COUNT");
    assert.deepEqual(pylon, theirs);
  });

  await t.step("COMMAND INFO get equals Redis's, in RESP3 and RESP2", async () => {
    const { redis: theirs, pylon } = await both("COMMAND", "INFO", "get");
    assert.deepEqual(pylon, theirs);
    assert.deepEqual(toResp2(pylon), await resp2.call("COMMAND", "INFO", "get"));
  });

  await t.step("COMMAND INFO of an unknown name is a null, as in Redis", async () => {
    const args = ["COMMAND", "INFO", "get", "nosuch", "CLIENT|KILL", "client|nosuch", "get|x"];
    const { redis: theirs, pylon } = await both(...args);
    assert.deepEqual(pylon, theirs);
    assert.deepEqual(toResp2(pylon), await resp2.call(...args));
  });

  await t.step("COMMAND INFO of every command and subcommand equals Redis's", async () => {
    const every = allCommands().flatMap((c) => [c, ...c.subcommands]);
    assert.equal(every.length, names(await resp3.call("COMMAND", "LIST")).length);
    for (const command of every) {
      const theirs = await resp3.call("COMMAND", "INFO", command.name);
      const pylon = commandReply(argv("COMMAND", "INFO", command.name));
      assert.deepEqual(
        sortInfo(items(pylon)[0]!),
        sortInfo(items(theirs)[0]!),
        `COMMAND INFO ${command.name}`,
      );
    }
  });

  await t.step("bare COMMAND and COMMAND INFO list every command as Redis does", async () => {
    for (const args of [["COMMAND"], ["COMMAND", "INFO"]]) {
      const { redis: theirs, pylon } = await both(...args);
      const sorted = (reply: RespValue) =>
        items(reply).map(sortInfo).sort((a, b) =>
          text(items(a)[0]!).localeCompare(text(items(b)[0]!))
        );
      assert.deepEqual(sorted(pylon), sorted(theirs));
    }
  });

  await t.step("COMMAND DOCS of every command equals Redis's", async () => {
    const { redis: theirs, pylon } = await both("COMMAND", "DOCS");
    assert.deepEqual(sortDocs(pylon), sortDocs(theirs));
  });

  await t.step("COMMAND DOCS of named commands skips unknown names, as in Redis", async () => {
    const args = ["COMMAND", "DOCS", "georadius", "nosuch", "client|kill", "XINFO", "set"];
    const { redis: theirs, pylon } = await both(...args);
    assert.deepEqual(sortDocs(pylon), sortDocs(theirs));
    assert.deepEqual(toResp2(sortDocs(pylon)), toResp2(sortDocs(theirs)));
  });

  await t.step("COMMAND LIST and its filters equal Redis's", async () => {
    const cases = [
      [],
      ["FILTERBY", "PATTERN", "cl*"],
      ["FILTERBY", "PATTERN", "*|HELP"],
      ["filterby", "pattern", "[a-c]?t*"],
      ["FILTERBY", "PATTERN", "x[^a]*"],
      ["FILTERBY", "ACLCAT", "string"],
      ["FILTERBY", "ACLCAT", "DANGEROUS"],
      ["FILTERBY", "ACLCAT", "nosuch"],
      ["FILTERBY", "MODULE", "nosuch"],
    ];
    for (const filter of cases) {
      const { redis: theirs, pylon } = await both("COMMAND", "LIST", ...filter);
      assert.deepEqual(names(pylon), names(theirs), `COMMAND LIST ${filter.join(" ")}`);
    }
  });

  await t.step("COMMAND LIST syntax errors are Redis's", async () => {
    for (
      const args of [
        ["FILTERBY"],
        ["FILTERBY", "PATTERN"],
        ["FILTERBY", "NOSUCH", "x"],
        ["FILTERBY", "PATTERN", "x", "y"],
        ["NOSUCH"],
      ]
    ) {
      const { redis: theirs, pylon } = await both("COMMAND", "LIST", ...args);
      assert.deepEqual(pylon, theirs, `COMMAND LIST ${args.join(" ")}`);
    }
  });

  await t.step("COMMAND GETKEYS errors use Redis's wording", async () => {
    const cases = [
      ["COMMAND", "GETKEYS", "nosuch", "a"],
      ["COMMAND", "GETKEYS", "object", "nosuch", "a"],
      ["COMMAND", "GETKEYS", "ping", "x"],
      ["COMMAND", "GETKEYS", "keys", "*"],
      ["COMMAND", "GETKEYS", "spublish", "ch", "msg"],
      ["COMMAND", "GETKEYS", "get", "a", "b"],
      ["COMMAND", "GETKEYS", "zunionstore", "d", "0", "a"],
      ["COMMAND", "GETKEYS", "xread", "STREAMS", "a", "b", "0"],
      ["COMMAND", "GETKEYS", "eval", "return 1", "5", "a"],
      ["COMMAND", "GETKEYSANDFLAGS", "nosuch"],
      ["COMMAND", "GETKEYS"],
      ["COMMAND", "GETKEYS", "get"],
    ];
    for (const args of cases) {
      const { redis: theirs, pylon } = await both(...args);
      assert.deepEqual(pylon, theirs, args.join(" "));
    }
  });

  await t.step("COMMAND HELP, unknown subcommands and wrong arity are Redis's", async () => {
    for (
      const args of [
        ["COMMAND", "HELP"],
        ["command", "help"],
        ["COMMAND", "NOSUCH"],
        ["COMMAND", "COUNT", "extra"],
        ["COMMAND", "INFO"],
        ["COMMAND", "DOCS"],
      ]
    ) {
      const { redis: theirs, pylon } = await both(...args);
      if (args[1] === "INFO") continue; // compared above, order aside
      if (args[1] === "DOCS") {
        assert.deepEqual(sortDocs(pylon), sortDocs(theirs));
        continue;
      }
      assert.deepEqual(pylon, theirs, args.join(" "));
    }
  });
});
