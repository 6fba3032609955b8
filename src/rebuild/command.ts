/**
 * `PYLON REBUILD FROM <rack>`: an admin replaces this rack's Redis with
 * another rack's snapshot (src/rebuild/rebuilder.ts). A `world-admin` table
 * entry, so only a connection that proved a password reaches it.
 */

import { error, type RespValue, simple } from "../resp/value.ts";

/** What the command needs of the rebuilder. */
export interface RebuildRequests {
  request(rack: string): { ok: string } | { error: string };
}

const utf8 = new TextDecoder();

/** Handles `PYLON REBUILD ...`; undefined for other subcommands. */
export function rebuildCommand(
  rebuilds: RebuildRequests | undefined,
  argv: readonly Uint8Array[],
): Promise<RespValue> | undefined {
  if (utf8.decode(argv[1] ?? new Uint8Array(0)).toLowerCase() !== "rebuild") return undefined;
  const words = argv.map((a) => utf8.decode(a));
  const rack = words[3];
  if (words.length !== 4 || words[2]!.toLowerCase() !== "from" || rack === undefined) {
    return Promise.resolve(error("ERR usage: PYLON REBUILD FROM <rack>"));
  }
  if (rebuilds === undefined) {
    return Promise.resolve(error("ERR this node cannot rebuild its rack (no peer links)"));
  }
  const result = rebuilds.request(rack);
  return Promise.resolve("ok" in result ? simple(result.ok) : error(result.error));
}
