import assert from "node:assert/strict";
import {
  compareVersions,
  contractFrom,
  describeViolations,
  judgeRack,
  type RackSettings,
} from "./rack_contract.ts";

const settings = (config: Record<string, string> = {}, version = "7.0.15"): RackSettings => ({
  redisVersion: version,
  config: {
    databases: "16",
    "proto-max-bulk-len": "536870912",
    "sanitize-dump-payload": "no",
    "stream-node-max-entries": "100",
    "stream-node-max-bytes": "4096",
    "hll-sparse-max-bytes": "3000",
    "maxmemory-policy": "noeviction",
    ...config,
  },
  missingCommands: [],
});

Deno.test("a rack like the founder meets the contract; each difference is named with both values", () => {
  const contract = contractFrom(settings(), 15)!;
  assert.deepEqual(judgeRack(contract, settings({}, "7.2.4"), 15), []);
  const violations = judgeRack(
    contract,
    {
      ...settings({ databases: "32", "maxmemory-policy": "allkeys-lru" }, "6.2.14"),
      missingCommands: ["flushall"],
    },
    31,
  );
  assert.deepEqual(violations.map((v) => [v.setting, v.value, v.world]), [
    ["redis_version", "6.2.14", "7.0.0 or later"],
    ["maxmemory-policy", "allkeys-lru", "noeviction"],
    ["databases", "32", "16"],
    ["metadata db", "31", "15"],
    [
      "commands",
      "flushall missing",
      "every command Pylon's table describes (none renamed or disabled)",
    ],
  ]);
  assert.match(describeViolations(violations), /databases is '32', the world's is '16'/);
});

Deno.test("sanitize-dump-payload 'clients' sanitizes the applier's RESTORE as 'yes' does", () => {
  const contract = contractFrom(settings({ "sanitize-dump-payload": "yes" }), 15)!;
  assert.deepEqual(judgeRack(contract, settings({ "sanitize-dump-payload": "clients" }), 15), []);
  assert.equal(judgeRack(contract, settings(), 15)[0]?.setting, "sanitize-dump-payload");
});

Deno.test("versions compare by number, not text", () => {
  assert.equal(compareVersions("7.10.0", "7.2.0"), 1);
  assert.equal(compareVersions("6.2.14", "7.0.0"), -1);
  assert.equal(compareVersions("7.0.0", "7.0.0"), 0);
});

Deno.test("a Redis that refuses CONFIG founds no contract, and only its version and commands are judged", () => {
  const hidden: RackSettings = { redisVersion: "7.0.15", config: undefined, missingCommands: [] };
  assert.equal(contractFrom(hidden, 15), undefined);
  const contract = contractFrom(settings(), 15)!;
  assert.deepEqual(judgeRack(contract, hidden, 15), []);
  assert.equal(judgeRack(contract, { ...hidden, redisVersion: "6.2.14" }, 15).length, 1);
});
