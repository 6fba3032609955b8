/**
 * The COMMAND command, answered from the table with the reply shapes of Redis
 * 7.0: COUNT, LIST [FILTERBY ...], INFO, DOCS, GETKEYS, GETKEYSANDFLAGS, HELP
 * and bare COMMAND. Maps and sets are RESP3 types; the encoder sends them to
 * RESP2 clients as flat arrays and arrays.
 */

import { array, bulk, error, integer, map, nil, set, simple } from "../resp/value.ts";
import type { RespValue } from "../resp/value.ts";
import { equalsIgnoreCase } from "./bytes.ts";
import { globMatch } from "./glob.ts";
import { commandKeysAndFlags, hasKeys } from "./keys.ts";
import type { RawArgDoc, RawBeginSearch, RawFindKeys, RawKeySpec } from "./raw.ts";
import { arityAccepts, route } from "./route.ts";
import { allCommands, findCommand, lookupEntry } from "./table.ts";
import type { CommandSpec } from "./types.ts";

const decoder = new TextDecoder();

/** Redis's `COMMAND HELP` text. */
const HELP_LINES = [
  "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "(no subcommand)",
  "    Return details about all Redis commands.",
  "COUNT",
  "    Return the total number of commands in this Redis server.",
  "LIST",
  "    Return a list of all commands in this Redis server.",
  "INFO [<command-name> ...]",
  "    Return details about multiple Redis commands.",
  "    If no command names are given, documentation details for all",
  "    commands are returned.",
  "DOCS [<command-name> ...]",
  "    Return documentation details about multiple Redis commands.",
  "    If no command names are given, documentation details for all",
  "    commands are returned.",
  "GETKEYS <full-command>",
  "    Return the keys from a full Redis command.",
  "GETKEYSANDFLAGS <full-command>",
  "    Return the keys and the access flags from a full Redis command.",
  "HELP",
  "    Prints this help.",
];

const SYNTAX_ERROR = "ERR syntax error";

// --- COMMAND INFO --------------------------------------------------------------

function beginSearchValue(begin: RawBeginSearch): RespValue {
  let spec: [RespValue, RespValue][];
  switch (begin.type) {
    case "index":
      spec = [[bulk("index"), integer(begin.index)]];
      break;
    case "keyword":
      spec = [[bulk("keyword"), bulk(begin.keyword)], [
        bulk("startfrom"),
        integer(begin.startfrom),
      ]];
      break;
    case "unknown":
      spec = [];
      break;
  }
  return map([[bulk("type"), bulk(begin.type)], [bulk("spec"), map(spec)]]);
}

function findKeysValue(find: RawFindKeys): RespValue {
  let spec: [RespValue, RespValue][];
  switch (find.type) {
    case "range":
      spec = [
        [bulk("lastkey"), integer(find.lastkey)],
        [bulk("keystep"), integer(find.keystep)],
        [bulk("limit"), integer(find.limit)],
      ];
      break;
    case "keynum":
      spec = [
        [bulk("keynumidx"), integer(find.keynumidx)],
        [bulk("firstkey"), integer(find.firstkey)],
        [bulk("keystep"), integer(find.keystep)],
      ];
      break;
    case "unknown":
      spec = [];
      break;
  }
  return map([[bulk("type"), bulk(find.type)], [bulk("spec"), map(spec)]]);
}

function keySpecValue(spec: RawKeySpec): RespValue {
  const entries: [RespValue, RespValue][] = [];
  if (spec.notes !== undefined) entries.push([bulk("notes"), bulk(spec.notes)]);
  entries.push(
    [bulk("flags"), set(spec.flags.map(simple))],
    [bulk("begin_search"), beginSearchValue(spec.begin_search)],
    [bulk("find_keys"), findKeysValue(spec.find_keys)],
  );
  return map(entries);
}

const infoCache = new WeakMap<CommandSpec, RespValue>();

/** One command's `COMMAND INFO` entry, its subcommands nested. */
export function commandInfo(command: CommandSpec): RespValue {
  let value = infoCache.get(command);
  if (value === undefined) {
    value = array([
      bulk(command.name),
      integer(command.arity),
      set(command.flags.map(simple)),
      integer(command.firstKey),
      integer(command.lastKey),
      integer(command.keyStep),
      set(command.aclCategories.map(simple)),
      set(command.tips.map((tip) => bulk(tip))),
      set(command.keySpecs.map(keySpecValue)),
      // Redis answers an empty set when there are none, an array otherwise.
      command.subcommands.length === 0 ? set([]) : array(command.subcommands.map(commandInfo)),
    ]);
    infoCache.set(command, value);
  }
  return value;
}

// --- COMMAND DOCS --------------------------------------------------------------

function argDocValue(arg: RawArgDoc): RespValue {
  const entries: [RespValue, RespValue][] = [
    [bulk("name"), bulk(arg.name)],
    [bulk("type"), bulk(arg.type)],
  ];
  if (arg.key_spec_index !== undefined) {
    entries.push([bulk("key_spec_index"), integer(arg.key_spec_index)]);
  }
  if (arg.token !== undefined) entries.push([bulk("token"), bulk(arg.token)]);
  if (arg.summary !== undefined) entries.push([bulk("summary"), bulk(arg.summary)]);
  if (arg.since !== undefined) entries.push([bulk("since"), bulk(arg.since)]);
  if (arg.deprecated_since !== undefined) {
    entries.push([bulk("deprecated_since"), bulk(arg.deprecated_since)]);
  }
  if (arg.flags !== undefined) entries.push([bulk("flags"), set(arg.flags.map(simple))]);
  if (arg.arguments !== undefined) {
    entries.push([bulk("arguments"), array(arg.arguments.map(argDocValue))]);
  }
  return map(entries);
}

const docsCache = new WeakMap<CommandSpec, RespValue>();

/** One command's `COMMAND DOCS` map, its subcommands' docs nested. */
export function commandDocs(command: CommandSpec): RespValue {
  let value = docsCache.get(command);
  if (value === undefined) {
    const docs = command.docs;
    const entries: [RespValue, RespValue][] = [];
    if (docs.summary !== undefined) entries.push([bulk("summary"), bulk(docs.summary)]);
    if (docs.since !== undefined) entries.push([bulk("since"), bulk(docs.since)]);
    entries.push([bulk("group"), bulk(docs.group)]);
    if (docs.complexity !== undefined) entries.push([bulk("complexity"), bulk(docs.complexity)]);
    if (docs.module !== undefined) entries.push([bulk("module"), bulk(docs.module)]);
    if (docs.doc_flags !== undefined) {
      entries.push([bulk("doc_flags"), set(docs.doc_flags.map(simple))]);
    }
    if (docs.deprecated_since !== undefined) {
      entries.push([bulk("deprecated_since"), bulk(docs.deprecated_since)]);
    }
    if (docs.replaced_by !== undefined) entries.push([bulk("replaced_by"), bulk(docs.replaced_by)]);
    if (docs.history !== undefined) {
      const history = docs.history.map(([since, change]) => array([bulk(since), bulk(change)]));
      entries.push([bulk("history"), set(history)]);
    }
    if (docs.arguments !== undefined) {
      entries.push([bulk("arguments"), array(docs.arguments.map(argDocValue))]);
    }
    if (command.subcommands.length > 0) {
      const subs = command.subcommands.map((sub): [RespValue, RespValue] => [
        bulk(sub.name),
        commandDocs(sub),
      ]);
      entries.push([bulk("subcommands"), map(subs)]);
    }
    value = map(entries);
    docsCache.set(command, value);
  }
  return value;
}

// --- COMMAND LIST ----------------------------------------------------------------

/** Every command and subcommand, each container followed by its subcommands. */
function everyCommand(): CommandSpec[] {
  return allCommands().flatMap((command) => [command, ...command.subcommands]);
}

function listReply(argv: readonly Uint8Array[]): RespValue {
  let filter: ((command: CommandSpec) => boolean) | undefined;
  for (let i = 2; i < argv.length; i++) {
    const more = argv.length - 1 - i;
    if (!equalsIgnoreCase(argv[i]!, "filterby") || more !== 2) return error(SYNTAX_ERROR);
    const kind = argv[i + 1]!;
    const arg = decoder.decode(argv[i + 2]!);
    if (equalsIgnoreCase(kind, "module")) {
      // No modules are loaded in Pylon's table.
      filter = () => false;
    } else if (equalsIgnoreCase(kind, "aclcat")) {
      const category = `@${arg.toLowerCase()}`;
      filter = (command) => command.aclCategories.includes(category);
    } else if (equalsIgnoreCase(kind, "pattern")) {
      filter = (command) => globMatch(arg, command.name, true);
    } else {
      return error(SYNTAX_ERROR);
    }
    i += 2;
  }
  const names = everyCommand().filter((command) => filter === undefined || filter(command));
  return array(names.map((command) => bulk(command.name)));
}

// --- COMMAND GETKEYS -------------------------------------------------------------

/** The command `COMMAND GETKEYS` means: Redis's non-strict lookup of a command and subcommand. */
function lookupTarget(argv: readonly Uint8Array[]): CommandSpec | undefined {
  const entry = lookupEntry(argv[0]!);
  if (entry === undefined) return undefined;
  if (argv.length === 1 || entry.subcommands === undefined) return entry.spec;
  return entry.subcommands.get(argv[1]!)?.spec;
}

function getKeysReply(argv: readonly Uint8Array[], withFlags: boolean): RespValue {
  const target = argv.slice(2);
  const command = lookupTarget(target);
  if (command === undefined) return error("ERR Invalid command specified");
  if (!hasKeys(command)) return error("ERR The command has no key arguments");
  if (!arityAccepts(command.arity, target.length)) {
    return error("ERR Invalid number of arguments specified for command");
  }
  const keys = commandKeysAndFlags(command, target);
  if (keys.length === 0) {
    return command.flags.includes("no_mandatory_keys")
      ? array([])
      : error("ERR Invalid arguments specified for command");
  }
  return array(keys.map(({ position, flags }) => {
    const key = bulk(target[position]!);
    return withFlags ? array([key, set(flags.map(simple))]) : key;
  }));
}

// --- COMMAND -----------------------------------------------------------------------

function names(argv: readonly Uint8Array[]): string[] {
  return argv.slice(2).map((name) => decoder.decode(name));
}

/** The reply to a COMMAND request (argv[0] is "COMMAND"). */
export function commandReply(argv: Uint8Array[]): RespValue {
  const routed = route(argv);
  if (routed.kind === "error") return error(routed.message);
  const name = routed.kind === "refused" ? "" : routed.command.name;
  switch (name) {
    case "command":
      return array(allCommands().map(commandInfo));
    case "command|count":
      return integer(allCommands().length);
    case "command|list":
      return listReply(argv);
    case "command|info": {
      if (argv.length === 2) return array(allCommands().map(commandInfo));
      return array(
        names(argv).map((name) => {
          const command = findCommand(name);
          return command === undefined ? nil() : commandInfo(command);
        }),
      );
    }
    case "command|docs": {
      const commands = argv.length === 2
        ? allCommands()
        : names(argv).flatMap((name) => findCommand(name) ?? []);
      return map(commands.map((command): [RespValue, RespValue] => [
        bulk(command.name),
        commandDocs(command),
      ]));
    }
    case "command|getkeys":
      return getKeysReply(argv, false);
    case "command|getkeysandflags":
      return getKeysReply(argv, true);
    case "command|help":
      return array(HELP_LINES.map(simple));
    default:
      throw new Error(`commandReply() answers COMMAND requests only, not '${name}'`);
  }
}
