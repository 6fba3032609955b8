/**
 * The reply filters the command table names (`CommandSpec.replyFilter`), run
 * wherever a client gets Redis's reply to such a command: alone, forwarded
 * from a peer rack, and as an element of `EXEC`'s reply. Scripts cannot call
 * the filtered commands (`CONFIG` is not allowed in scripts; the script users
 * are denied `INFO`).
 */

import type { CommandSpec } from "../command/mod.ts";
import { concatBytes } from "../resp/bytes.ts";
import { encodeError } from "../resp/encoder.ts";
import { arrayItems } from "../resp/frames.ts";
import type { Protocol } from "../resp/value.ts";
import { withoutSecrets } from "./config_rewrite.ts";
import { rewriteInfo } from "./info_rewrite.ts";
import { unshiftTtlReply } from "../determinism/expiry.ts";
import { restoreFunctionReply } from "../determinism/functions.ts";

/** What the filters need of the node. */
export interface FilterContext {
  /** How `INFO <args>` is shown to clients: the metadata db to hide, the Pylon section to add. */
  info(args: string[]): {
    metaDb: number;
    pylonSection: string | undefined;
    /** This node's clients waiting in blocking commands (INFO's blocked_clients). */
    blockedClients?: number;
  };
}

const utf8 = new TextDecoder();

const UNCHECKED = encodeError(
  "ERR Pylon could not match this transaction's reply to its commands; it was applied",
);

/** The reply to `argv` (a `command` request) as a client sees it. */
export function filterReply(
  command: CommandSpec,
  argv: readonly Uint8Array[],
  reply: Uint8Array,
  protocol: Protocol,
  context: FilterContext,
): Uint8Array {
  const filter = command.replyFilter;
  if (filter === "expiry") return unshiftTtlReply(command.name, reply, protocol, Date.now());
  if (filter === "config-secrets") return withoutSecrets(reply, protocol);
  if (filter === "functions") return restoreFunctionReply(argv, protocol, reply);
  if (filter === "info") {
    return rewriteInfo(reply, context.info(argv.slice(1).map((a) => utf8.decode(a))));
  }
  return reply;
}

/** Whether any of `commands` has its reply filtered. */
export function anyFiltered(commands: readonly { command: CommandSpec }[]): boolean {
  return commands.some((c) => c.command.replyFilter !== undefined);
}

/**
 * `EXEC`'s reply with each element filtered as its command's reply alone
 * would be; anything but an array (an abort, an error) is left as it is.
 */
export function filterExecReply(
  commands: readonly { command: CommandSpec; argv: readonly Uint8Array[] }[],
  reply: Uint8Array,
  protocol: Protocol,
  context: FilterContext,
): Uint8Array {
  if (!anyFiltered(commands) || reply[0] !== 42 /* * */) return reply;
  let items: Uint8Array[] | null;
  try {
    items = arrayItems(reply);
  } catch {
    items = [];
  }
  if (items === null) return reply;
  // Never pass on what could not be filtered.
  if (items.length !== commands.length) return UNCHECKED;
  const filtered = items.map((item, i) =>
    filterReply(commands[i]!.command, commands[i]!.argv, item, protocol, context)
  );
  const header = new TextEncoder().encode(`*${filtered.length}\r\n`);
  return concatBytes([header, ...filtered]);
}
