/**
 * When a write is answered — the one place that decides it:
 *
 * - `quorum`: a strong write (a contentious key, or a connection that asked
 *   for `PYLON CONSISTENCY strong`) is answered with the reply Redis gave at
 *   apply once a quorum of racks applied it (src/consistency/gate.ts);
 * - `logged`: a single command whose reply is a constant, which the operator
 *   listed in `--ack-log`, is answered `+OK` as soon as the log holds it (and
 *   is logged by this rack even when it cannot apply);
 * - `applied`: every other write is answered with the reply Redis gave when
 *   its op was applied.
 */

import type { WriteRequest } from "../log/write_request.ts";

/** When a write's reply goes to its client. */
export type AnswerWhen = "logged" | "applied" | "quorum";

/** When `request` is answered, given the commands the operator acknowledges once logged. */
export function answerWhen(request: WriteRequest, ackLog: ReadonlySet<string>): AnswerWhen {
  if (request.strong === true) return "quorum";
  const single = request.commands.length === 1 && !request.transaction
    ? request.commands[0]!
    : undefined;
  return single !== undefined && single.reply === "constant" && ackLog.has(single.command.name)
    ? "logged"
    : "applied";
}
