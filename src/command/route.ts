/**
 * Routing one request: find the command (and subcommand), check the arity the
 * way Redis does, then apply the class (and the argument rule, if any). The
 * common path returns a prebuilt route and allocates nothing.
 */

import { lookupEntry } from "./table.ts";
import type { Route } from "./types.ts";

/** Longest command name or argument Redis quotes in an unknown-command error, in bytes. */
const QUOTED_BYTES_MAX = 128;

const EMPTY_REQUEST: Route = Object.freeze({ kind: "error", message: "ERR empty command" });

const decoder = new TextDecoder();

/** Up to `max` bytes of `arg`, stopping at a NUL byte as C's `%.*s` does. */
function cString(arg: Uint8Array, max: number): Uint8Array {
  const end = Math.min(arg.length, max);
  const nul = arg.subarray(0, end).indexOf(0);
  return arg.subarray(0, nul < 0 ? end : nul);
}

/** Redis turns CR and LF into spaces so the error stays on one line. */
function oneLine(text: string): string {
  return text.replaceAll(/[\r\n]/g, " ");
}

/**
 * `ERR unknown command 'foo', with args beginning with: 'a' 'b' ` — the name
 * and arguments cut as Redis cuts them (128 bytes for the name; arguments
 * until their quoted text reaches 128 bytes).
 */
export function unknownCommandMessage(argv: readonly Uint8Array[]): string {
  const args: Uint8Array[] = [];
  let length = 0;
  for (let i = 1; i < argv.length && length < QUOTED_BYTES_MAX; i++) {
    const arg = cString(argv[i]!, QUOTED_BYTES_MAX - length);
    args.push(arg);
    length += arg.length + 3;
  }
  const name = decoder.decode(cString(argv[0]!, QUOTED_BYTES_MAX));
  const quoted = args.map((arg) => `'${decoder.decode(arg)}' `).join("");
  return oneLine(`ERR unknown command '${name}', with args beginning with: ${quoted}`);
}

/** `ERR unknown subcommand 'foo'. Try CLIENT HELP.` (the command as typed, uppercased). */
export function unknownSubcommandMessage(argv: readonly Uint8Array[]): string {
  const command = decoder.decode(cString(argv[0]!, argv[0]!.length)).toUpperCase();
  const sub = decoder.decode(cString(argv[1]!, QUOTED_BYTES_MAX));
  return oneLine(`ERR unknown subcommand '${sub}'. Try ${command} HELP.`);
}

/** Whether `argc` arguments (the name included) satisfy Redis's arity. */
export function arityAccepts(arity: number, argc: number): boolean {
  return arity >= 0 ? argc === arity : argc >= -arity;
}

/**
 * Routes one request (argv as raw bytes, argv[0] is the command name in any
 * case): Redis's errors for unknown commands and wrong arity first, then the
 * command's class. Writes are routed, never refused, here.
 */
export function route(argv: Uint8Array[]): Route {
  const name = argv[0];
  if (name === undefined) return EMPTY_REQUEST;
  let entry = lookupEntry(name);
  if (entry === undefined) return { kind: "error", message: unknownCommandMessage(argv) };
  if (entry.subcommands !== undefined && argv.length > 1) {
    const sub = entry.subcommands.get(argv[1]!);
    if (sub === undefined) return { kind: "error", message: unknownSubcommandMessage(argv) };
    entry = sub;
  }
  if (!arityAccepts(entry.spec.arity, argv.length)) return entry.arityError;
  const rule = entry.spec.argumentRule;
  if (rule !== undefined && rule.test(argv)) return entry.ruleRoute!;
  return entry.route;
}

/**
 * Whether a request may be queued between MULTI and EXEC (and so become part
 * of the transaction's op), or Redis's or Pylon's error refusing it there
 * (which fails the transaction). Every place that builds a transaction asks
 * here; the table decides (`CommandSpec.inTransaction`).
 */
export function transactionStep(r: Route): "queue" | { readonly refusal: string } {
  if (r.kind === "error") return { refusal: r.message };
  // Redis's own refusal of SAVE, SHUTDOWN, SYNC and PSYNC comes before Pylon's.
  if (r.kind === "refused" && !r.command.flags.includes("no_multi")) return { refusal: r.message };
  return r.command.inTransaction;
}
