/** The public types of the command table. */

import type { RawCommandDocs, RawKeySpec } from "./raw.ts";

/**
 * How Pylon serves a command: forwarded to a rack's Redis (`read`), logged
 * as an op (`write`), answered by Pylon (`local`), run on this rack's own
 * Redis alone and never on another rack's (`rack-admin`), a change of the
 * world's membership (`world-admin`), served by the local Redis on a
 * subscribed connection (`pubsub`), a step of a transaction or its watch
 * (`transaction`), a wait for racks to apply the connection's writes
 * (`wait`), a command that waits for data (`blocking`: a pop logged as an
 * attempt and tried again when an applied op readies its keys, or a stream
 * read served by the local rack and read again then), or not at all
 * (`refused`).
 */
export type CommandClass =
  | "read"
  | "write"
  | "local"
  | "rack-admin"
  | "world-admin"
  | "pubsub"
  | "transaction"
  | "wait"
  | "blocking"
  | "refused";

/**
 * A rewrite of Redis's reply before a client sees it, wherever the reply
 * comes from (alone, inside `EXEC`, from a peer rack): `config-secrets`
 * leaves out the parameters holding passwords, `info` leaves out Pylon's
 * metadata db and adds the Pylon section, `expiry` shows a key's expiry as
 * the client set it (the rack's Redis stores it shifted: src/determinism/expiry.ts),
 * `functions` shows a library's code as the client loaded it (without the
 * determinism prologue: src/determinism/functions.ts).
 */
export type ReplyFilter = "config-secrets" | "info" | "expiry" | "functions";

/** Whether a write's reply is always the same constant (`+OK`) or depends on the data. */
export type ReplyKind = "constant" | "data";

/** Where the arguments change a command's class (SORT .. STORE, SET .. GET, XREAD BLOCK ...). */
export interface ArgumentRule {
  /** One line: which arguments decide, and what they make of the command. */
  readonly when: string;
  /** The class (and reply kind, or reason) when the arguments match. */
  readonly class: CommandClass;
  readonly reply?: ReplyKind;
  readonly reason?: string;
  /** Whether this request's arguments (argv[0] is the command name) match. */
  readonly test: (argv: readonly Uint8Array[]) => boolean;
}

/** One command or subcommand: Redis's own description plus Pylon's class. */
export interface CommandSpec {
  /** Redis's lowercase full name: `get`, `client|setname`. */
  readonly name: string;
  /** Redis's arity: exact argument count (name included) if positive, minimum if negative. */
  readonly arity: number;
  /** Redis's command flags (`write`, `readonly`, `blocking`, `movablekeys`, ...). */
  readonly flags: readonly string[];
  /** Pylon's class when no argument rule applies. */
  readonly class: CommandClass;
  /** Why the class differs from what Redis's flags say, or why the command is refused. */
  readonly reason?: string;
  /** For writes: whether the reply is a constant or comes from the data. */
  readonly reply?: ReplyKind;
  /** Set when the arguments can change the class; `route()` applies it. */
  readonly argumentRule?: ArgumentRule;
  /** How Redis's reply is rewritten before a client sees it. */
  readonly replyFilter?: ReplyFilter;
  /** A read that runs a script (`EVAL_RO` ...): as the restricted script user, never unrestricted. */
  readonly scriptRead?: boolean;
  /**
   * Redis runs it on a RESP2 connection in subscribe mode (and refuses every
   * other command there): on the client's subscribed connection, whose reply
   * has subscribe mode's shape, or answered by Pylon.
   */
  readonly inSubscribeMode?: "subscriber" | "local";
  /** It moves the connection to another db (SELECT), also when EXEC runs it. */
  readonly changesDb?: boolean;
  /**
   * Whether the command may be queued between MULTI and EXEC (and become part
   * of the transaction's op), or what refuses it there.
   */
  readonly inTransaction: "queue" | { readonly refusal: string };
  /** Legacy key positions of `COMMAND INFO`. */
  readonly firstKey: number;
  readonly lastKey: number;
  readonly keyStep: number;
  /** ACL categories with the `@`. */
  readonly aclCategories: readonly string[];
  /** Redis's command tips (`nondeterministic_output`, `request_policy:...`). */
  readonly tips: readonly string[];
  readonly keySpecs: readonly RawKeySpec[];
  /** Subcommands by full name, sorted; empty for plain commands. */
  readonly subcommands: readonly CommandSpec[];
  /** The container (`client` for `client|setname`). */
  readonly container?: CommandSpec;
  /** `COMMAND DOCS` of this command (its subcommands' docs are on them). */
  readonly docs: RawCommandDocs;
}

/** What to do with one request. Route objects may be shared: never mutate them. */
export type Route =
  | { kind: "read"; command: CommandSpec }
  | { kind: "write"; command: CommandSpec; reply: ReplyKind }
  | { kind: "local"; command: CommandSpec }
  | { kind: "rack-admin"; command: CommandSpec }
  | { kind: "world-admin"; command: CommandSpec }
  | { kind: "pubsub"; command: CommandSpec }
  | { kind: "transaction"; command: CommandSpec }
  | { kind: "wait"; command: CommandSpec }
  | { kind: "blocking"; command: CommandSpec }
  /** `message` is the full error text without the leading `-`. */
  | { kind: "refused"; command: CommandSpec; message: string }
  /** Unknown command or subcommand, or wrong arity: Redis's exact text without the `-`. */
  | { kind: "error"; message: string };
