/**
 * Reads what the world's contract (src/cluster/rack_contract.ts) asks of a
 * rack's Redis: its version, the settings the contract names, and — when
 * asked, since it changes only with a restart — which of the commands
 * Pylon's table describes it lacks.
 */

import { allCommands, isPylonCommand } from "../command/table.ts";
import { encodeCommand } from "../resp/encoder.ts";
import { arrayItems, bulkPayload, frameText, isErrorFrame, mapItems } from "../resp/frames.ts";
import type { CommandRunner } from "./command_runner.ts";
import {
  compareVersions,
  type RackSettings,
  REDIS_VERSION_FLOOR,
  SAME_EVERYWHERE,
} from "../cluster/rack_contract.ts";

const utf8 = new TextDecoder();

/** The settings `CONFIG GET` reads (one call each). */
const CONFIG_NAMES = [...SAME_EVERYWHERE, "maxmemory-policy"];

/**
 * The commands ops may carry or scripts may call: Redis's top-level
 * commands of Pylon's table that it routes as reads or writes, or whose
 * subcommands it does.
 */
function commandsPylonSends(): string[] {
  return allCommands()
    .filter((spec) =>
      !isPylonCommand(spec) &&
      [spec, ...spec.subcommands].some((s) => s.class === "read" || s.class === "write")
    )
    .map((spec) => spec.name);
}

/**
 * Reads the rack's settings; `commands`: also which commands of Pylon's table
 * it lacks. Each setting is read with its own `CONFIG GET` and the command
 * list is left unread below the version floor, so a Redis older than the
 * floor (6.2 has neither `CONFIG GET` of several names nor `COMMAND LIST`) is
 * still read, and refused for its version rather than failing to be read.
 */
export async function readRackSettings(
  connection: CommandRunner,
  options: { commands: boolean },
): Promise<RackSettings> {
  const commands = [
    encodeCommand(["INFO", "server"]),
    ...CONFIG_NAMES.map((name) => encodeCommand(["CONFIG", "GET", name])),
  ];
  if (options.commands) commands.push(encodeCommand(["COMMAND", "LIST"]));
  const frames = await connection.run(commands);
  const [info, ...configs] = frames.slice(0, 1 + CONFIG_NAMES.length);
  const list = options.commands ? frames[1 + CONFIG_NAMES.length] : undefined;
  if (isErrorFrame(info!)) {
    throw new Error(`reading the rack's Redis settings: ${frameText(info!)}`);
  }
  const version = versionOf(info!);
  // A Redis that refuses CONFIG (renamed, as managed services do) cannot show its settings.
  if (configs.some((config) => isErrorFrame(config!))) {
    return { redisVersion: version, config: undefined, ...missing(version, list) };
  }
  const values: Record<string, string> = {};
  for (const config of configs) {
    const items = (mapItems(config!) ?? arrayItems(config!) ?? []).map((frame) =>
      utf8.decode(bulkPayload(frame))
    );
    for (let i = 0; i + 1 < items.length; i += 2) values[items[i]!] = items[i + 1]!;
  }
  return { redisVersion: version, config: values, ...missing(version, list) };
}

/** `redis_version` from `INFO server`. */
function versionOf(info: Uint8Array): string {
  return /^redis_version:(\S+)/m.exec(utf8.decode(bulkPayload(info)))?.[1] ?? "";
}

/** The commands of Pylon's table missing from `COMMAND LIST`'s reply, when it was read. */
function missing(
  version: string,
  list: Uint8Array | undefined,
): { missingCommands?: string[] } {
  if (list === undefined) return {};
  if (isErrorFrame(list)) {
    // Below the floor the version alone refuses the rack; at or above it, this is a failure.
    if (compareVersions(version, REDIS_VERSION_FLOOR) < 0) return {};
    throw new Error(`reading the rack's Redis commands: ${frameText(list)}`);
  }
  const present = new Set(
    (arrayItems(list) ?? []).map((frame) => utf8.decode(bulkPayload(frame)).toLowerCase()),
  );
  return { missingCommands: commandsPylonSends().filter((name) => !present.has(name)) };
}
