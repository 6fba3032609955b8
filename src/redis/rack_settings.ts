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
import { type RackSettings, SAME_EVERYWHERE } from "../cluster/rack_contract.ts";

const utf8 = new TextDecoder();

/** The settings `CONFIG GET` reads (all in one call). */
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

/** Reads the rack's settings; `commands`: also which commands of Pylon's table it lacks. */
export async function readRackSettings(
  connection: CommandRunner,
  options: { commands: boolean },
): Promise<RackSettings> {
  const commands = [
    encodeCommand(["INFO", "server"]),
    encodeCommand(["CONFIG", "GET", ...CONFIG_NAMES]),
  ];
  if (options.commands) commands.push(encodeCommand(["COMMAND", "LIST"]));
  const [info, config, list] = await connection.run(commands);
  for (const frame of [info!, ...(list === undefined ? [] : [list])]) {
    if (isErrorFrame(frame)) {
      throw new Error(`reading the rack's Redis settings: ${frameText(frame)}`);
    }
  }
  // A Redis that refuses CONFIG (renamed, as managed services do) cannot show its settings.
  if (isErrorFrame(config!)) {
    return { redisVersion: versionOf(info!), config: undefined, ...missing(list) };
  }
  const values: Record<string, string> = {};
  const items = (mapItems(config!) ?? arrayItems(config!) ?? []).map((frame) =>
    utf8.decode(bulkPayload(frame))
  );
  for (let i = 0; i + 1 < items.length; i += 2) values[items[i]!] = items[i + 1]!;
  return { redisVersion: versionOf(info!), config: values, ...missing(list) };
}

/** `redis_version` from `INFO server`. */
function versionOf(info: Uint8Array): string {
  return /^redis_version:(\S+)/m.exec(utf8.decode(bulkPayload(info)))?.[1] ?? "";
}

/** The commands of Pylon's table missing from `COMMAND LIST`'s reply, when it was read. */
function missing(list: Uint8Array | undefined): { missingCommands?: string[] } {
  if (list === undefined) return {};
  const present = new Set(
    (arrayItems(list) ?? []).map((frame) => utf8.decode(bulkPayload(frame)).toLowerCase()),
  );
  return { missingCommands: commandsPylonSends().filter((name) => !present.has(name)) };
}
