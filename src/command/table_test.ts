import assert from "node:assert/strict";
import {
  allCommands,
  entryByFullName,
  findCommand,
  lookupEntry,
  NameIndex,
  REDIS_VERSION,
  refusedMessage,
} from "./table.ts";

const encoder = new TextEncoder();

Deno.test("the table holds Redis 7.0.15's 240 commands and their 126 subcommands", () => {
  assert.equal(REDIS_VERSION, "7.0.15");
  assert.equal(allCommands().length, 240);
  assert.equal(allCommands().reduce((n, c) => n + c.subcommands.length, 0), 126);
  const names = allCommands().map((c) => c.name);
  assert.deepEqual(names, [...names].sort());
});

Deno.test("subcommands link back to their container and are found by full name", () => {
  const client = findCommand("client")!;
  assert.ok(client.subcommands.length > 10);
  for (const sub of client.subcommands) {
    assert.equal(sub.container, client);
    assert.ok(sub.name.startsWith("client|"));
    assert.equal(findCommand(sub.name), sub);
    assert.equal(entryByFullName(sub.name)?.spec, sub);
  }
  assert.equal(findCommand("get")?.container, undefined);
});

Deno.test("findCommand() accepts any case and rejects deeper or dangling names", () => {
  assert.equal(findCommand("GET"), findCommand("get"));
  assert.equal(findCommand("Client|Kill")?.name, "client|kill");
  assert.equal(findCommand("client|"), undefined);
  assert.equal(findCommand("get|x"), undefined);
  assert.equal(findCommand("client|kill|x"), undefined);
  assert.equal(findCommand("nosuch"), undefined);
});

Deno.test("lookupEntry() finds top-level commands by bytes in any case", () => {
  assert.equal(lookupEntry(encoder.encode("hGeTaLl"))?.spec.name, "hgetall");
  assert.equal(lookupEntry(encoder.encode("client|kill")), undefined);
  assert.equal(lookupEntry(encoder.encode("get\0")), undefined);
  assert.equal(lookupEntry(new Uint8Array(0)), undefined);
  const client = lookupEntry(encoder.encode("CLIENT"))!;
  assert.equal(client.subcommands?.get(encoder.encode("Kill"))?.spec.name, "client|kill");
});

Deno.test("NameIndex matches names ignoring ASCII case and refuses duplicates", () => {
  const index = new NameIndex<number>(3);
  index.add("alpha", 1);
  index.add("beta", 2);
  index.add("restore-asking", 3);
  assert.equal(index.size, 3);
  assert.equal(index.get(encoder.encode("ALPHA")), 1);
  assert.equal(index.get(encoder.encode("Restore-Asking")), 3);
  assert.equal(index.get(encoder.encode("alph")), undefined);
  assert.equal(index.get(encoder.encode("gamma")), undefined);
  assert.throws(() => index.add("Beta", 4), /Duplicate/);
});

Deno.test("refusedMessage() names the command and the reason", () => {
  assert.equal(
    refusedMessage("client|kill", "because"),
    "ERR command 'client|kill' is refused by Pylon: because",
  );
});

Deno.test("every entry has prebuilt routes that agree with its spec", () => {
  for (const command of allCommands()) {
    for (const spec of [command, ...command.subcommands]) {
      const entry = entryByFullName(spec.name)!;
      assert.equal(entry.route.kind, spec.class, spec.name);
      assert.equal(entry.ruleRoute?.kind, spec.argumentRule?.class, spec.name);
      assert.deepEqual(entry.arityError, {
        kind: "error",
        message: `ERR wrong number of arguments for '${spec.name}' command`,
      });
    }
  }
});
