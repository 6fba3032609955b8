/**
 * Node configuration: one table of options (options.ts), read from flags,
 * `PYLON_*` variables and a JSON file (sources.ts), turned into a
 * {@linkcode Config} (parse.ts), and what a reload can change live
 * (changes.ts). Parts of the configuration are named in types.ts, which
 * lower layers import directly.
 */

export type {
  Config,
  KafkaSecurity,
  LogLevelName,
  LogTarget,
  PeerConfig,
  PeerTls,
  RedisTarget,
  TlsListenConfig,
} from "./types.ts";
export { ConfigError } from "./types.ts";
export { envName, OPTION_NAMES, optionDefault, type OptionName, USAGE } from "./options.ts";
export type { ReadFile } from "./sources.ts";
export { checkNodeId, checkRack, parseConfig, type ParsedConfig } from "./parse.ts";
export { describeLog, describeRedis } from "./describe.ts";
export { configChanges, LIVE_OPTIONS, type LiveOption } from "./changes.ts";
