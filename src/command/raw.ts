/**
 * The shape of the generated table (src/command/generated.ts): Redis's own
 * `COMMAND INFO` and `COMMAND DOCS`, field names as Redis spells them, so the
 * COMMAND command can answer from it unchanged.
 */

import { COMMANDS_JSON, REDIS_VERSION } from "./generated.ts";

/** Where a key spec starts looking for keys. */
export type RawBeginSearch =
  | { type: "index"; index: number }
  | { type: "keyword"; keyword: string; startfrom: number }
  | { type: "unknown" };

/** How a key spec finds the keys once it has a start. */
export type RawFindKeys =
  | { type: "range"; lastkey: number; keystep: number; limit: number }
  | { type: "keynum"; keynumidx: number; firstkey: number; keystep: number }
  | { type: "unknown" };

/** One key spec of `COMMAND INFO`. */
export interface RawKeySpec {
  notes?: string;
  /** Access flags: `RO`, `RW`, `OW`, `RM`, `access`, `update`, `insert`, `delete`, `not_key`, `incomplete`, `variable_flags`. */
  flags: string[];
  begin_search: RawBeginSearch;
  find_keys: RawFindKeys;
}

/** One argument of `COMMAND DOCS`, nested for blocks and one-ofs. */
export interface RawArgDoc {
  name: string;
  type: string;
  key_spec_index?: number;
  token?: string;
  summary?: string;
  since?: string;
  deprecated_since?: string;
  flags?: string[];
  arguments?: RawArgDoc[];
}

/** One command's `COMMAND DOCS` entry, without its subcommands (they are commands of their own). */
export interface RawCommandDocs {
  summary?: string;
  since?: string;
  group: string;
  complexity?: string;
  module?: string;
  doc_flags?: string[];
  deprecated_since?: string;
  replaced_by?: string;
  history?: [string, string][];
  arguments?: RawArgDoc[];
}

/** One command or subcommand as Redis describes it. */
export interface RawCommand {
  /** Redis's lowercase full name: `get`, `client|setname`. */
  name: string;
  arity: number;
  flags: string[];
  first_key: number;
  last_key: number;
  step: number;
  /** With the `@`, as `COMMAND INFO` gives them. */
  acl_categories: string[];
  tips: string[];
  key_specs: RawKeySpec[];
  /** Full names of the subcommands, sorted. */
  subcommands: string[];
  docs: RawCommandDocs;
}

/** The Redis version the table was generated from. */
export const RAW_REDIS_VERSION: string = REDIS_VERSION;

/** Parses the generated table (once, at load). */
export function loadRawCommands(): RawCommand[] {
  return JSON.parse(COMMANDS_JSON) as unknown as RawCommand[];
}
