/**
 * Prints every Redis 7.0 command and subcommand with how Pylon serves it and
 * why: `deno task commands [--markdown]`.
 */

import { allCommands, type CommandSpec } from "../src/command/mod.ts";

const SERVED: Record<CommandSpec["class"], string> = {
  read: "read (the rack's Redis)",
  write: "write (an op on every rack)",
  local: "answered by Pylon",
  "rack-admin": "rack administration (this rack's Redis, as the user's ACL rules allow)",
  "world-admin": "world administration (a proven password)",
  pubsub: "subscription (the rack's Redis)",
  transaction: "transaction (answered by Pylon; EXEC is one op)",
  wait: "answered by Pylon once racks applied the connection's writes",
  blocking: "blocking (attempts as ops, or reads of the rack's Redis, woken by applied ops)",
  refused: "refused",
};

/** One line per command: name, status, reason and the argument rule that changes it. */
export function commandLines(markdown: boolean): string[] {
  const specs = allCommands()
    .flatMap((command) => command.subcommands.length > 0 ? command.subcommands : [command])
    .sort((a, b) => a.name.localeCompare(b.name));
  const lines = markdown ? ["| command | status | reason |", "| --- | --- | --- |"] : [];
  for (const spec of specs) {
    const name = spec.name.replace("|", " ").toUpperCase();
    const status = SERVED[spec.class];
    const rule = spec.argumentRule === undefined ? "" : ` (${spec.argumentRule.when})`;
    const reason = `${spec.reason ?? ""}${rule}`.trim();
    lines.push(markdown ? `| ${name} | ${status} | ${reason} |` : `${name}\t${status}\t${reason}`);
  }
  return lines;
}

if (import.meta.main) {
  console.log(commandLines(Deno.args.includes("--markdown")).join("\n"));
}
