/**
 * The wall-clock watch over scripts the step budget cannot stop
 * (src/determinism/script_budget.ts). A script op stops by itself at its
 * budget, at the same step on every rack, except while it is inside one call
 * the budget does not count: a C function working on a huge value (a
 * `string.rep` of a gigabyte, a pattern that backtracks over a long string) or
 * a Redis command over a big data set. Such a call ends on its own, the same
 * way on every rack, but may take long; meanwhile the rack's Redis answers
 * nothing, then `BUSY`.
 *
 * What the applier does then: it marks the partition paused with the reason
 * (`PYLON INFO`, the log, readiness: the rack stops serving reads, which go to
 * a peer rack that serves them) and waits for the batch to end. It does not
 * `SCRIPT KILL`: Redis acts on a kill only between Lua instructions, so a kill
 * cannot cut the call that overran anyway; and a script that is back in Lua
 * code would stop on this rack only, at a point of this rack's clock, while
 * the other racks run it on (it may write after that point on them): the
 * racks would end different. Pure: the applier runs the timer.
 */

import type { Op } from "../log/op.ts";
import { equalsIgnoreCase } from "../command/bytes.ts";
import { DEFAULT_BUDGET_STEPS, STEPS_PER_MS } from "../determinism/script_budget.ts";

/** How long past the budgets of its script ops a batch may run before it counts as overrunning. */
export const OVERRUN_GRACE_MS = 5_000;

const RUNNERS = ["eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"];

/** The script budget of `op` in ms (0 when it runs no script or function). */
export function scriptBudgetMs(op: Op): number {
  const scripts =
    op.commands.filter((argv) =>
      argv[0] !== undefined && RUNNERS.some((name) => equalsIgnoreCase(argv[0]!, name))
    ).length;
  return scripts * (op.scriptBudgetSteps ?? DEFAULT_BUDGET_STEPS) / STEPS_PER_MS;
}

/**
 * When a batch of `ops` counts as overrunning: the budgets of the scripts
 * and functions it runs, one after another, plus {@linkcode OVERRUN_GRACE_MS};
 * undefined when it runs none.
 */
export function overrunAfterMs(ops: readonly (Op | undefined)[]): number | undefined {
  let budgetMs = 0;
  for (const op of ops) if (op !== undefined) budgetMs += scriptBudgetMs(op);
  return budgetMs === 0 ? undefined : Math.ceil(budgetMs) + OVERRUN_GRACE_MS;
}

/** The reason a partition is paused while a batch overruns, for `PYLON INFO` and the log. */
export function overrunReason(afterMs: number): string {
  return `a script or function op has kept the rack's Redis busy for more than ${afterMs} ms, ` +
    `past its budget: it is inside one call the script budget does not count (a C function on ` +
    `a huge value, a pattern that backtracks, a command over a big data set), which ends the ` +
    `same way on every rack; Pylon waits for it and does not SCRIPT KILL it (a kill on one rack ` +
    `would leave the racks different; see README, script budget)`;
}
