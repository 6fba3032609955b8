/**
 * Where an option's text comes from: a flag (`--node-id x`), a `PYLON_*`
 * environment variable (`PYLON_NODE_ID=x`) or a key of the JSON configuration
 * file (`"node-id": "x"`). Per option, a flag beats the environment, which
 * beats the file; parse.ts falls back to the default. Pure: arguments, the
 * environment and a file reader come in.
 */

import {
  envName,
  isBooleanWord,
  type Kind,
  type OptionName,
  OPTIONS,
  type OptionSpec,
} from "./options.ts";
import { ConfigError } from "./types.ts";

/** Reads a configuration file (injected so parsing stays pure). */
export type ReadFile = (path: string) => string;

/** Where an option's value came from, highest precedence first. */
export type Source = "flag" | "environment" | "file";
/** The precedence of each source: the higher beats the lower. */
export const SOURCE_RANK: Record<Source, number> = { flag: 3, environment: 2, file: 1 };

/** One option's raw value: text pieces (lists may have several) and where they came from. */
export interface Raw {
  texts: string[];
  source: Source;
}

interface Flags {
  values: Map<OptionName, string[]>;
  config: string | undefined;
  help: boolean;
  version: boolean;
}

/**
 * Reads `--name value`, `--name=value` and bare booleans (`--join`, or
 * `--join false`). A leading `--` (as `deno task start -- ...` passes it) is
 * skipped.
 */
function parseFlags(args: string[]): Flags {
  const flags: Flags = { values: new Map(), config: undefined, help: false, version: false };
  let i = args[0] === "--" ? 1 : 0;
  while (i < args.length) {
    const arg = args[i++]!;
    if (!arg.startsWith("--") || arg === "--") {
      throw new ConfigError(`Unexpected argument '${arg}' (options start with --)`);
    }
    const eq = arg.indexOf("=");
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    let inline = eq < 0 ? undefined : arg.slice(eq + 1);
    if (name === "help" || name === "version") {
      if (inline !== undefined) throw new ConfigError(`--${name} takes no value`);
      flags[name] = true;
      continue;
    }
    if (name === "config") {
      inline ??= args[i++];
      if (inline === undefined) throw new ConfigError("--config needs a value");
      flags.config = inline;
      continue;
    }
    if (!(name in OPTIONS)) throw new ConfigError(`Unknown option '--${name}'`);
    const option = name as OptionName;
    const spec: OptionSpec = OPTIONS[option];
    if (inline === undefined) {
      const next = args[i];
      if (spec.kind === "boolean") {
        if (next !== undefined && isBooleanWord(next)) {
          inline = next;
          i++;
        } else inline = "true";
      } else {
        if (next === undefined) throw new ConfigError(`--${option} needs a value`);
        inline = next;
        i++;
      }
    }
    const list = flags.values.get(option) ?? [];
    if (spec.kind !== "list" && list.length > 0) {
      throw new ConfigError(`--${option} is given more than once`);
    }
    list.push(inline);
    flags.values.set(option, list);
  }
  return flags;
}

/** Text of a configuration file value, by the option's kind. */
function fileTexts(option: OptionName, raw: unknown, path: string): string[] {
  const kind: Kind = OPTIONS[option].kind;
  const scalar = (value: unknown): string => {
    if (typeof value === "string") return value;
    if (typeof value === "number" && kind !== "boolean") return String(value);
    if (typeof value === "boolean" && kind === "boolean") return String(value);
    if (option === "peer" && typeof value === "object" && value !== null) {
      const p = value as Record<string, unknown>;
      if (typeof p.id === "string" && typeof p.rack === "string" && typeof p.address === "string") {
        return `${p.id}@${p.rack}@${p.address}`;
      }
    }
    const expected = kind === "boolean"
      ? "true or false"
      : kind === "integer"
      ? "a number"
      : option === "peer"
      ? 'a list of "id@rack@host:port" or {id, rack, address}'
      : "a string";
    throw new ConfigError(`'${option}' in '${path}' must be ${expected}`);
  };
  if (Array.isArray(raw)) {
    if (kind !== "list" && kind !== "lines") {
      throw new ConfigError(`'${option}' in '${path}' cannot be a list`);
    }
    return raw.map(scalar);
  }
  return [scalar(raw)];
}

function readConfigFile(path: string, readFile: ReadFile): Map<OptionName, string[]> {
  let data: unknown;
  try {
    data = JSON.parse(readFile(path));
  } catch (error) {
    throw new ConfigError(`Cannot read configuration file '${path}': ${(error as Error).message}`);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new ConfigError(`Configuration file '${path}' must hold a JSON object`);
  }
  const values = new Map<OptionName, string[]>();
  for (const [key, raw] of Object.entries(data)) {
    if (!(key in OPTIONS)) throw new ConfigError(`Unknown option '${key}' in '${path}'`);
    values.set(key as OptionName, fileTexts(key as OptionName, raw, path));
  }
  return values;
}

/** The options' texts from every source, or a request for help or the version. */
export type Sources =
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "options"; raw: (option: OptionName) => Raw | undefined };

/** Reads the flags, the environment and the configuration file (named by `--config` or `PYLON_CONFIG`). */
export function readSources(
  args: string[],
  env: Record<string, string | undefined>,
  readFile: ReadFile,
): Sources {
  const flags = parseFlags(args);
  if (flags.help) return { kind: "help" };
  if (flags.version) return { kind: "version" };
  const configPath = flags.config ?? nonEmpty(env.PYLON_CONFIG);
  const file = configPath === undefined ? new Map() : readConfigFile(configPath, readFile);
  const raw = (option: OptionName): Raw | undefined => {
    const flag = flags.values.get(option);
    if (flag !== undefined) return { texts: flag, source: "flag" };
    const fromEnv = nonEmpty(env[envName(option)]);
    if (fromEnv !== undefined) return { texts: [fromEnv], source: "environment" };
    const fromFile = file.get(option);
    return fromFile === undefined ? undefined : { texts: fromFile, source: "file" };
  };
  return { kind: "options", raw };
}

function nonEmpty(text: string | undefined): string | undefined {
  return text === undefined || text === "" ? undefined : text;
}
