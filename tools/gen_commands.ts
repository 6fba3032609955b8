/**
 * Generates src/command/generated.ts from a real Redis: starts a throwaway
 * `redis-server` on a free loopback port, reads `COMMAND INFO` and
 * `COMMAND DOCS` for every command and subcommand, and writes them as one JSON
 * text (parsed at load, which keeps type checking cheap).
 *
 * Run with `deno task gen-commands`; the output is committed.
 */

import { join } from "node:path";
import type { RespValue } from "../src/resp/value.ts";
import { RedisClient } from "../src/redis/client.ts";
import { startRedis } from "../tests/harness/redis.ts";
import type {
  RawArgDoc,
  RawBeginSearch,
  RawCommand,
  RawCommandDocs,
  RawFindKeys,
  RawKeySpec,
} from "../src/command/raw.ts";

const decoder = new TextDecoder();

// --- Reading Redis's replies into the raw table ----------------------------

function text(value: RespValue | undefined): string {
  if (value === undefined) throw new Error("Missing value in Redis's reply");
  switch (value.type) {
    case "simple":
    case "error":
      return value.value;
    case "bulk":
    case "verbatim":
      if (value.value === null) throw new Error("Unexpected null in Redis's reply");
      return decoder.decode(value.value);
    default:
      throw new Error(`Expected a string in Redis's reply, got ${value.type}`);
  }
}

function int(value: RespValue | undefined): number {
  if (value?.type !== "integer") throw new Error(`Expected an integer, got ${value?.type}`);
  return Number(value.value);
}

function list(value: RespValue | undefined): RespValue[] {
  if (value?.type === "array" && value.value !== null) return value.value;
  if (value?.type === "set") return value.value;
  throw new Error(`Expected an array or set, got ${value?.type}`);
}

function fields(value: RespValue | undefined): Map<string, RespValue> {
  if (value?.type !== "map") throw new Error(`Expected a map, got ${value?.type}`);
  return new Map(value.value.map(([k, v]) => [text(k), v]));
}

function beginSearch(value: RespValue | undefined): RawBeginSearch {
  const map = fields(value);
  const spec = fields(map.get("spec"));
  const type = text(map.get("type"));
  switch (type) {
    case "index":
      return { type, index: int(spec.get("index")) };
    case "keyword":
      return { type, keyword: text(spec.get("keyword")), startfrom: int(spec.get("startfrom")) };
    case "unknown":
      return { type };
    default:
      throw new Error(`Unknown begin_search type '${type}'`);
  }
}

function findKeys(value: RespValue | undefined): RawFindKeys {
  const map = fields(value);
  const spec = fields(map.get("spec"));
  const type = text(map.get("type"));
  switch (type) {
    case "range":
      return {
        type,
        lastkey: int(spec.get("lastkey")),
        keystep: int(spec.get("keystep")),
        limit: int(spec.get("limit")),
      };
    case "keynum":
      return {
        type,
        keynumidx: int(spec.get("keynumidx")),
        firstkey: int(spec.get("firstkey")),
        keystep: int(spec.get("keystep")),
      };
    case "unknown":
      return { type };
    default:
      throw new Error(`Unknown find_keys type '${type}'`);
  }
}

function keySpec(value: RespValue): RawKeySpec {
  const map = fields(value);
  const known = new Set(["notes", "flags", "begin_search", "find_keys"]);
  for (const key of map.keys()) {
    if (!known.has(key)) throw new Error(`Unknown key spec field '${key}'`);
  }
  const notes = map.get("notes");
  return {
    ...(notes === undefined ? {} : { notes: text(notes) }),
    flags: list(map.get("flags")).map(text),
    begin_search: beginSearch(map.get("begin_search")),
    find_keys: findKeys(map.get("find_keys")),
  };
}

const ARG_FIELDS = [
  "name",
  "type",
  "key_spec_index",
  "token",
  "summary",
  "since",
  "deprecated_since",
  "flags",
  "arguments",
];

function argDoc(value: RespValue): RawArgDoc {
  const map = fields(value);
  for (const key of map.keys()) {
    if (!ARG_FIELDS.includes(key)) throw new Error(`Unknown argument doc field '${key}'`);
  }
  const doc: RawArgDoc = { name: text(map.get("name")), type: text(map.get("type")) };
  const keySpecIndex = map.get("key_spec_index");
  if (keySpecIndex !== undefined) doc.key_spec_index = int(keySpecIndex);
  for (const key of ["token", "summary", "since", "deprecated_since"] as const) {
    const field = map.get(key);
    if (field !== undefined) doc[key] = text(field);
  }
  const flags = map.get("flags");
  if (flags !== undefined) doc.flags = list(flags).map(text);
  const args = map.get("arguments");
  if (args !== undefined) doc.arguments = list(args).map(argDoc);
  return doc;
}

const DOC_FIELDS = [
  "summary",
  "since",
  "group",
  "complexity",
  "module",
  "doc_flags",
  "deprecated_since",
  "replaced_by",
  "history",
  "arguments",
  "subcommands",
];

/** Reads one command's docs; subcommand docs are returned beside it, keyed by full name. */
function commandDocs(value: RespValue, into: Map<string, RawCommandDocs>, name: string): void {
  const map = fields(value);
  for (const key of map.keys()) {
    if (!DOC_FIELDS.includes(key)) throw new Error(`Unknown docs field '${key}' of '${name}'`);
  }
  const docs = {} as RawCommandDocs;
  // Built in Redis's field order, so the generated file reads like Redis's reply.
  for (const key of ["summary", "since", "group", "complexity", "module"] as const) {
    const field = map.get(key);
    if (field !== undefined) docs[key] = text(field);
  }
  if (docs.group === undefined) throw new Error(`Docs of '${name}' have no group`);
  const docFlags = map.get("doc_flags");
  if (docFlags !== undefined) docs.doc_flags = list(docFlags).map(text);
  for (const key of ["deprecated_since", "replaced_by"] as const) {
    const field = map.get(key);
    if (field !== undefined) docs[key] = text(field);
  }
  const history = map.get("history");
  if (history !== undefined) {
    docs.history = list(history).map((entry) => {
      const [since, change] = list(entry);
      return [text(since), text(change)];
    });
  }
  const args = map.get("arguments");
  if (args !== undefined) docs.arguments = list(args).map(argDoc);
  into.set(name, docs);
  const subcommands = map.get("subcommands");
  if (subcommands !== undefined) {
    for (const [subName, subDocs] of fields(subcommands)) commandDocs(subDocs, into, subName);
  }
}

/** Reads one `COMMAND INFO` entry and its subcommands into `into` (flat, full names). */
function commandInfo(
  value: RespValue,
  docs: Map<string, RawCommandDocs>,
  into: RawCommand[],
): string {
  const [name, arity, flags, first, last, step, categories, tips, specs, subcommands] = list(value);
  if (list(value).length !== 10) throw new Error("COMMAND INFO entries must have 10 fields");
  const fullName = text(name);
  const subNames = list(subcommands).map((sub) => commandInfo(sub, docs, into));
  const commandDoc = docs.get(fullName);
  if (commandDoc === undefined) throw new Error(`COMMAND DOCS has no entry for '${fullName}'`);
  into.push({
    name: fullName,
    arity: int(arity),
    flags: list(flags).map(text),
    first_key: int(first),
    last_key: int(last),
    step: int(step),
    acl_categories: list(categories).map(text),
    tips: list(tips).map(text),
    key_specs: list(specs).map(keySpec),
    subcommands: subNames.sort(),
    docs: commandDoc,
  });
  return fullName;
}

/** Reads every command (and subcommand) from a running Redis. */
export async function readCommands(
  client: RedisClient,
): Promise<{ version: string; commands: RawCommand[] }> {
  const hello = await client.call("HELLO", "3");
  const version = text(fields(hello).get("version"));
  const docsReply = await client.call("COMMAND", "DOCS");
  const docs = new Map<string, RawCommandDocs>();
  for (const [name, value] of fields(docsReply)) commandDocs(value, docs, name);
  const commands: RawCommand[] = [];
  for (const info of list(await client.call("COMMAND", "INFO"))) commandInfo(info, docs, commands);
  commands.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (commands.length !== docs.size) {
    throw new Error(`COMMAND INFO has ${commands.length} entries but COMMAND DOCS ${docs.size}`);
  }
  return { version, commands };
}

// --- Output ----------------------------------------------------------------

/** Where the generated table goes, relative to the repository root. */
export const OUTPUT_PATH = "src/command/generated.ts";

/** The generated module's text: a header and the table as one JSON text, one command per line. */
export function renderModule(version: string, commands: RawCommand[]): string {
  const json = `[\n${commands.map((c) => JSON.stringify(c)).join(",\n")}\n]`;
  const literal = json.replaceAll("\\", "\\\\").replaceAll("`", "\\`").replaceAll("${", "\\${");
  return `// GENERATED by tools/gen_commands.ts from Redis ${version} (COMMAND INFO and COMMAND DOCS).
// DO NOT EDIT: run \`deno task gen-commands\` to regenerate.
// deno-fmt-ignore-file
// deno-lint-ignore-file

/** The Redis version the table was read from. */
export const REDIS_VERSION = ${JSON.stringify(version)};

/** Every command and subcommand as JSON: an array of \`RawCommand\` (src/command/raw.ts), sorted by name. */
export const COMMANDS_JSON = \`${literal}\`;
`;
}

async function main(): Promise<void> {
  // A throwaway redis-server on a free loopback port, stopped even on error.
  await using redis = await startRedis();
  using client = await RedisClient.connect({ host: redis.host, port: redis.port });
  const { version, commands } = await readCommands(client);
  const root = new URL("..", import.meta.url).pathname;
  await Deno.writeTextFile(join(root, OUTPUT_PATH), renderModule(version, commands));
  const top = commands.filter((c) => !c.name.includes("|")).length;
  console.log(
    `Wrote ${OUTPUT_PATH}: ${top} commands and ${
      commands.length - top
    } subcommands from Redis ${version}`,
  );
}

if (import.meta.main) await main();
