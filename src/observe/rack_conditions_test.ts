import assert from "node:assert/strict";
import { conditionReason } from "./rack_conditions.ts";
import { describeViolations } from "../cluster/rack_contract.ts";

Deno.test("conditionReason names the first setting outside the contract, whole", () => {
  for (
    const [setting, reason] of [
      ["redis_version", "contract_redis_version"],
      ["maxmemory-policy", "contract_maxmemory_policy"],
      ["metadata db", "contract_metadata_db"],
      ["proto-max-bulk-len", "contract_proto_max_bulk_len"],
      ["commands", "contract_commands"],
    ]
  ) {
    const text = describeViolations([
      { setting: setting!, value: "x y", world: "z" },
      { setting: "databases", value: "32", world: "16" },
    ]);
    assert.equal(conditionReason(text), reason, text);
  }
  assert.equal(conditionReason("OOM command not allowed"), "oom");
});
