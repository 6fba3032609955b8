/**
 * The command table: the generated Redis description joined with Pylon's
 * classification, built once at load. Lookups by name bytes are
 * case-insensitive and allocate nothing.
 */

import { lowerByte } from "./bytes.ts";
import { classify, SUBSCRIBE_MODE_COMMANDS } from "./classify.ts";
import { loadRawCommands, RAW_REDIS_VERSION, type RawCommand } from "./raw.ts";
import { PYLON_COMMANDS } from "./pylon_commands.ts";
import type { CommandSpec, Route } from "./types.ts";

/** The Redis version whose commands the table describes. */
export const REDIS_VERSION: string = RAW_REDIS_VERSION;

/** A table entry: the spec, its prebuilt routes and its subcommands. */
export interface Entry {
  readonly spec: CommandSpec;
  /** The route when no argument rule applies. */
  readonly route: Route;
  /** The route when the spec's argument rule matches. */
  readonly ruleRoute: Route | undefined;
  /** Redis's wrong-number-of-arguments error for this command. */
  readonly arityError: Route;
  /** Subcommands by their own name (`setname` for `client|setname`). */
  readonly subcommands: NameIndex<Entry> | undefined;
}

/** A case-insensitive map from ASCII names to values, looked up by raw bytes without allocating. */
export class NameIndex<T> {
  readonly #names: (Uint8Array | undefined)[];
  readonly #values: (T | undefined)[];
  readonly #mask: number;
  #size = 0;

  constructor(capacity: number) {
    let slots = 8;
    while (slots < capacity * 4) slots *= 2;
    this.#names = new Array(slots).fill(undefined);
    this.#values = new Array(slots).fill(undefined);
    this.#mask = slots - 1;
  }

  /** Number of names. */
  get size(): number {
    return this.#size;
  }

  /** Adds a lowercase name; throws on duplicates or when full beyond the planned capacity. */
  add(name: string, value: T): void {
    const bytes = new TextEncoder().encode(name.toLowerCase());
    if (this.get(bytes) !== undefined) throw new Error(`Duplicate command name '${name}'`);
    if ((this.#size + 1) * 2 > this.#names.length) {
      throw new Error(`NameIndex over capacity adding '${name}'`);
    }
    let slot = hashName(bytes) & this.#mask;
    while (this.#names[slot] !== undefined) slot = (slot + 1) & this.#mask;
    this.#names[slot] = bytes;
    this.#values[slot] = value;
    this.#size++;
  }

  /** The value whose name equals `bytes` ignoring ASCII case. */
  get(bytes: Uint8Array): T | undefined {
    let slot = hashName(bytes) & this.#mask;
    while (true) {
      const name = this.#names[slot];
      if (name === undefined) return undefined;
      if (sameName(name, bytes)) return this.#values[slot];
      slot = (slot + 1) & this.#mask;
    }
  }
}

/** FNV-1a over the lowercased bytes. */
function hashName(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) hash = Math.imul(hash ^ lowerByte(bytes[i]!), 0x01000193);
  return hash >>> 0;
}

function sameName(lower: Uint8Array, bytes: Uint8Array): boolean {
  if (lower.length !== bytes.length) return false;
  for (let i = 0; i < bytes.length; i++) if (lower[i] !== lowerByte(bytes[i]!)) return false;
  return true;
}

/** The `-ERR` text (without the `-`) of a refused command. */
export function refusedMessage(name: string, reason: string): string {
  return `ERR command '${name}' is refused by Pylon: ${reason}`;
}

function routeFor(
  spec: CommandSpec,
  klass: CommandSpec["class"],
  reply: CommandSpec["reply"],
  reason: string | undefined,
): Route {
  switch (klass) {
    case "read":
    case "local":
    case "rack-admin":
    case "world-admin":
    case "pubsub":
    case "transaction":
    case "wait":
    case "blocking":
      return Object.freeze({ kind: klass, command: spec });
    case "write":
      return Object.freeze({ kind: "write", command: spec, reply: reply ?? "data" });
    case "refused":
      if (reason === undefined) throw new Error(`Refused command '${spec.name}' has no reason`);
      return Object.freeze({
        kind: "refused",
        command: spec,
        message: refusedMessage(spec.name, reason),
      });
  }
}

type MutableSpec = { -readonly [K in keyof CommandSpec]: CommandSpec[K] };

/** Why a command of class `klass` is refused between MULTI and EXEC (undefined: it is queued). */
function transactionRefusal(
  name: string,
  klass: CommandSpec["class"],
  flags: readonly string[],
  decided: { reason?: string; queuedInTransaction?: boolean },
): string | undefined {
  // Redis's own refusal, which fails the transaction (SAVE, SHUTDOWN, SYNC, PSYNC).
  if (flags.includes("no_multi")) return "ERR Command not allowed inside a transaction";
  const refused = (why: string) => `ERR command '${name}' is refused by Pylon inside MULTI: ${why}`;
  switch (klass) {
    case "read":
    case "write":
    // Inside MULTI Redis does not block: the attempt answers the element or nil.
    case "blocking":
      return undefined;
    case "local":
      return decided.queuedInTransaction ? undefined : refused("it is not a read or a write");
    case "rack-admin":
      // EXEC runs on every rack: administration of one rack's Redis has no place in it.
      return refused("it acts on one rack's Redis");
    case "refused":
      return refusedMessage(name, decided.reason ?? "");
    case "transaction":
      return refused("transactions do not nest");
    case "world-admin":
    case "pubsub":
    case "wait":
      return refused("it is not a read or a write");
  }
}

function buildSpec(raw: RawCommand): MutableSpec {
  const decided = classify(raw);
  const refusal = transactionRefusal(raw.name, decided.class, raw.flags, decided);
  const spec: MutableSpec = {
    name: raw.name,
    arity: raw.arity,
    flags: Object.freeze(raw.flags),
    class: decided.class,
    firstKey: raw.first_key,
    lastKey: raw.last_key,
    keyStep: raw.step,
    aclCategories: Object.freeze(raw.acl_categories),
    tips: Object.freeze(raw.tips),
    keySpecs: Object.freeze(raw.key_specs),
    subcommands: [],
    docs: raw.docs,
    inTransaction: refusal === undefined ? "queue" : Object.freeze({ refusal }),
  };
  if (decided.reason !== undefined) spec.reason = decided.reason;
  if (decided.replyFilter !== undefined) spec.replyFilter = decided.replyFilter;
  if (decided.scriptRead === true) spec.scriptRead = true;
  const inSubscribeMode = SUBSCRIBE_MODE_COMMANDS[raw.name];
  if (Object.hasOwn(SUBSCRIBE_MODE_COMMANDS, raw.name) && inSubscribeMode !== undefined) {
    spec.inSubscribeMode = inSubscribeMode;
  }
  if (raw.name === "select") spec.changesDb = true;
  if (decided.class === "write") spec.reply = decided.reply ?? "data";
  if (decided.argumentRule !== undefined) spec.argumentRule = decided.argumentRule;
  return spec;
}

function buildEntry(spec: CommandSpec, subcommands: NameIndex<Entry> | undefined): Entry {
  const rule = spec.argumentRule;
  return {
    spec,
    route: routeFor(spec, spec.class, spec.reply, spec.reason),
    ruleRoute: rule === undefined ? undefined : routeFor(spec, rule.class, rule.reply, rule.reason),
    arityError: Object.freeze({
      kind: "error",
      message: `ERR wrong number of arguments for '${spec.name}' command`,
    }),
    subcommands,
  };
}

function buildTable(): {
  index: NameIndex<Entry>;
  commands: CommandSpec[];
  byName: Map<string, Entry>;
} {
  const raws = [...loadRawCommands(), ...PYLON_COMMANDS];
  const specs = new Map<string, MutableSpec>();
  for (const raw of raws) specs.set(raw.name, buildSpec(raw));
  const byName = new Map<string, Entry>();
  const top = raws.filter((raw) => !raw.name.includes("|"));
  const index = new NameIndex<Entry>(top.length);
  for (const raw of top) {
    const spec = specs.get(raw.name)!;
    let subIndex: NameIndex<Entry> | undefined;
    if (raw.subcommands.length > 0) {
      subIndex = new NameIndex<Entry>(raw.subcommands.length);
      const subSpecs: CommandSpec[] = [];
      for (const subName of raw.subcommands) {
        const sub = specs.get(subName);
        if (sub === undefined) throw new Error(`Subcommand '${subName}' missing from the table`);
        sub.container = spec;
        Object.freeze(sub);
        subSpecs.push(sub);
        const entry = buildEntry(sub, undefined);
        subIndex.add(subName.slice(raw.name.length + 1), entry);
        byName.set(subName, entry);
      }
      spec.subcommands = Object.freeze(subSpecs);
    }
    Object.freeze(spec);
    const entry = buildEntry(spec, subIndex);
    index.add(raw.name, entry);
    byName.set(raw.name, entry);
  }
  if (byName.size !== raws.length) throw new Error("Every subcommand must belong to a command");
  const redis = top.filter((raw) => !PYLON_COMMANDS.includes(raw));
  return { index, commands: redis.map((raw) => specs.get(raw.name)!), byName };
}

const TABLE = buildTable();

/** The entry of a command name given as request bytes (any case). */
export function lookupEntry(name: Uint8Array): Entry | undefined {
  return TABLE.index.get(name);
}

/** The entry of a full name (`get`, `client|kill`), exactly as Redis spells it (lowercase). */
export function entryByFullName(name: string): Entry | undefined {
  return TABLE.byName.get(name);
}

/**
 * A Redis command or subcommand by full name in any case (`GET`,
 * `client|KILL`), as `COMMAND INFO` and `COMMAND DOCS` accept names;
 * `undefined` if unknown. Pylon's own commands are not Redis's: see
 * {@linkcode findAnyCommand}.
 */
export function findCommand(name: string): CommandSpec | undefined {
  const spec = findAnyCommand(name);
  return spec === undefined || isPylonCommand(spec) ? undefined : spec;
}

/** A command or subcommand by full name in any case, Pylon's own (`pylon|info`) included. */
export function findAnyCommand(name: string): CommandSpec | undefined {
  const parts = name.toLowerCase().split("|");
  if (parts.length > 2) return undefined;
  const entry = TABLE.byName.get(parts.length === 1 ? parts[0]! : `${parts[0]}|${parts[1]}`);
  if (entry === undefined) return undefined;
  if (parts.length === 2 && entry.spec.container === undefined) return undefined;
  return entry.spec;
}

/** Whether `spec` is one of Pylon's own commands (`PYLON ...`), which Redis does not have. */
export function isPylonCommand(spec: CommandSpec): boolean {
  return (spec.container ?? spec).name === "pylon";
}

/** Every top-level Redis command, sorted by name (their subcommands hang off them); not Pylon's own. */
export function allCommands(): readonly CommandSpec[] {
  return TABLE.commands;
}
