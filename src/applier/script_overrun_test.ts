import assert from "node:assert/strict";
import type { Op } from "../log/op.ts";
import { OVERRUN_GRACE_MS, overrunAfterMs, scriptBudgetMs } from "./script_overrun.ts";
import { budgetSteps, SCRIPT_TIME_MAX_MS_DEFAULT } from "../determinism/script_budget.ts";

const te = new TextEncoder();

function op(commands: string[][], scriptBudgetSteps?: number): Op {
  const made: Op = {
    id: "01HZX3Y5V8Q2W4E6R8T0Y2U000",
    origin: "n1",
    rack: "east",
    db: 0,
    protocol: 2,
    transaction: commands.length > 1,
    acceptedAtMs: 0,
    commands: commands.map((argv) => argv.map((a) => te.encode(a))),
  };
  if (scriptBudgetSteps !== undefined) made.scriptBudgetSteps = scriptBudgetSteps;
  return made;
}

Deno.test("a batch overruns past the budgets of its scripts and functions, one after another, plus grace", () => {
  assert.equal(scriptBudgetMs(op([["SET", "k", "v"]])), 0);
  assert.equal(scriptBudgetMs(op([["EVAL", "return 1", "0"]], budgetSteps(300))), 300);
  assert.equal(
    scriptBudgetMs(op([["eval", "return 1", "0"], ["FCALL", "f", "0"]], budgetSteps(300))),
    600,
  );
  assert.equal(scriptBudgetMs(op([["EVALSHA", "abc", "0"]])), SCRIPT_TIME_MAX_MS_DEFAULT);
  assert.equal(overrunAfterMs([op([["SET", "k", "v"]]), undefined]), undefined);
  assert.equal(
    overrunAfterMs([op([["EVAL", "x", "0"]], budgetSteps(300)), op([["FCALL", "f", "0"]], 100)]),
    301 + OVERRUN_GRACE_MS,
  );
});
