/**
 * Pylon: many Redis racks kept in sync through one ordered commit log.
 *
 * This module is the public API for embedding a node; `main.ts` is the
 * command-line entry point.
 */

export {
  type Config,
  ConfigError,
  type LogTarget,
  parseConfig,
  type RedisTarget,
} from "./src/config/mod.ts";
export type { HostPort } from "./src/net/address.ts";
