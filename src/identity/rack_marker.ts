/**
 * The marker a rack's Redis carries in Pylon's metadata db: which log it is
 * applied from and the layout of Pylon's keys. (Not which rack: a copy of a
 * healthy rack's Redis is a valid start for another rack, see the README.) The applier
 * checks it every time it (re)connects, before it reads a position: a Redis of
 * another world, with Pylon's metadata in another db than
 * this node uses, or holding data without a marker is refused with the cause,
 * never guessed around. Only an entirely empty Redis (a new rack, or one that
 * came back without its data) is claimed: the applier then replays the log
 * into it from the log's first op, if the log still holds it (else the rack
 * is rebuilt from a peer's snapshot, src/rebuild/). A Redis that a rebuild
 * was loading (its mark, `pylon:rebuild`, still there) is reported as such,
 * whatever else it holds.
 */

import { encodeCommand } from "../resp/encoder.ts";
import { arrayItems, bulkPayload, frameText, isErrorFrame } from "../resp/frames.ts";
import type { CommandRunner } from "../redis/command_runner.ts";
import { IdentityError } from "./node_identity.ts";
import { REBUILD_KEY } from "../meta_keys.ts";

/** The marker's key, in the metadata db. */
export const MARKER_KEY = "pylon:identity";

/** Version of the layout of Pylon's keys in the metadata db. */
export const LAYOUT_VERSION = 1;

/** What the marker says. */
export interface RackMarker {
  layout: number;
  /** The log's id ({@linkcode OpLog.id}). */
  log: string;
}

/** What a Redis holds, as far as the marker check needs to know. */
export interface RedisView {
  /** The marker in the metadata db, as stored (undefined: none). */
  marker: string | undefined;
  /** The dbs that hold keys (from `INFO keyspace`), when the marker is missing. */
  dbsWithKeys: number[];
  /** Markers found in other dbs, by db. */
  markersElsewhere: Map<number, string>;
}

/** What to do about a Redis. */
export type MarkerVerdict =
  | { kind: "ok" }
  | { kind: "claim" }
  /** `unmarked`: the reason is data without a marker (a rebuild may replace it). */
  | { kind: "refuse"; reason: string; unmarked?: true };

/** What {@linkcode checkRackRedis} found in a Redis it did not refuse. */
export type RackRedisFound =
  /** This log's marker. */
  | { kind: "marked" }
  /** It was empty, and now carries the marker. */
  | { kind: "claimed" }
  /** It is empty (not claimed: `claim` was false). */
  | { kind: "empty" }
  /** Data but no marker (only with `unmarked: "report"`; else refused). */
  | { kind: "unmarked"; reason: string }
  /** A rebuild was loading it and did not finish: `rebuild` is its mark's text. */
  | { kind: "unfinished"; rebuild: string };

/** The marker's stored form. */
export function encodeMarker(marker: RackMarker): string {
  return JSON.stringify({ layout: marker.layout, log: marker.log });
}

function decodeMarker(text: string): RackMarker | undefined {
  try {
    const data = JSON.parse(text);
    if (
      typeof data === "object" && data !== null && typeof data.layout === "number" &&
      typeof data.log === "string"
    ) {
      return { layout: data.layout, log: data.log };
    }
  } catch {
    // Not JSON: reported below as not a marker.
  }
  return undefined;
}

/** Decides about a Redis (pure). `where` names it in reasons. */
export function judgeMarker(
  expected: RackMarker,
  metaDb: number,
  view: RedisView,
  where: string,
): MarkerVerdict {
  if (view.marker !== undefined) {
    const found = decodeMarker(view.marker);
    if (found === undefined) {
      return {
        kind: "refuse",
        reason: `Redis at ${where} has a '${MARKER_KEY}' key in db ${metaDb} that is not a Pylon ` +
          `marker: this db is not Pylon's to use. Give --meta-db a db Pylon alone uses.`,
      };
    }
    if (found.layout !== expected.layout) {
      return {
        kind: "refuse",
        reason: `Redis at ${where} holds Pylon metadata of layout ${found.layout}; this build ` +
          `reads layout ${expected.layout}.`,
      };
    }
    if (found.log !== expected.log) {
      return {
        kind: "refuse",
        reason: `Redis at ${where} is applied from the log ${found.log}, not from this node's ` +
          `log ${expected.log}: it belongs to another world (or the log was re-created). Point ` +
          `the node at its own rack's Redis, or empty this one (FLUSHALL) to rebuild it from ` +
          `this log.`,
      };
    }
    return { kind: "ok" };
  }
  for (const [db, text] of view.markersElsewhere) {
    const found = decodeMarker(text);
    if (found === undefined) continue;
    return {
      kind: "refuse",
      reason: `Redis at ${where} holds Pylon's metadata in db ${db}, but this node uses db ` +
        `${metaDb} (did the number of databases change?). The metadata does not move: start ` +
        `the node with --meta-db ${db}${
          found.log === expected.log ? "" : ` (note: that metadata belongs to log ${found.log})`
        }.`,
    };
  }
  if (view.dbsWithKeys.length > 0) {
    return {
      kind: "refuse",
      unmarked: true,
      reason:
        `Redis at ${where} holds data (in db ${
          view.dbsWithKeys.join(", db ")
        }) but no Pylon marker: it was never a rack of this world, or its metadata was removed. ` +
        `Pylon does not guess which ops it holds. Empty it (FLUSHALL) to rebuild it from the ` +
        `log, or point the node at the rack's own Redis.`,
    };
  }
  return { kind: "claim" };
}

/** The dbs `INFO keyspace` lists (`db3:keys=1,...`). */
export function dbsInKeyspace(info: string): number[] {
  const dbs: number[] = [];
  for (const line of info.split(/\r?\n/)) {
    const match = /^db(\d+):keys=(\d+)/.exec(line);
    if (match !== null && Number(match[2]) > 0) dbs.push(Number(match[1]));
  }
  return dbs;
}

/** Redis refused the marker's read as a whole (out of memory, loading, ...): its reply. */
export class MarkerReadRefused extends Error {
  override name = "MarkerReadRefused";
  readonly reply: string;
  constructor(reply: string) {
    super(`reading ${MARKER_KEY}: ${reply}`);
    this.reply = reply;
  }
}

/**
 * Checks the marker of the Redis behind `connection`, claiming an empty
 * Redis. Throws {@linkcode IdentityError} when it must be refused (data
 * without a marker too, unless `unmarked` is `"report"`). Leaves the
 * connection in the metadata db.
 */
export async function checkRackRedis(
  connection: CommandRunner,
  expected: RackMarker,
  metaDb: number,
  where: string,
  options: { claim: boolean; unmarked?: "refuse" | "report" } = { claim: true },
): Promise<RackRedisFound> {
  // The marker, the keyspace and a rebuild's mark are read in one transaction: read apart,
  // another applier claiming the empty Redis in between looks like data with no marker (found
  // by the applier simulation, seed 1).
  const [selected, , queuedGet, queuedInfo, queuedMark, exec] = await connection.run([
    encodeCommand(["SELECT", String(metaDb)]),
    encodeCommand(["MULTI"]),
    encodeCommand(["GET", MARKER_KEY]),
    encodeCommand(["INFO", "keyspace"]),
    encodeCommand(["GET", REBUILD_KEY]),
    encodeCommand(["EXEC"]),
  ]);
  if (isErrorFrame(selected!)) {
    throw new IdentityError(
      `Redis at ${where} refuses db ${metaDb}, where Pylon's metadata is kept ` +
        `(${frameText(selected!)}). Start Redis with as many databases as before, or give ` +
        `--meta-db with a db it has.`,
    );
  }
  if (isErrorFrame(exec!)) {
    // EXECABORT names no cause: the command refused when queued does.
    const cause = [queuedGet!, queuedInfo!, queuedMark!].find(isErrorFrame) ?? exec!;
    throw new MarkerReadRefused(frameText(cause));
  }
  const [stored, info, rebuilding] = arrayItems(exec!) ?? [];
  if (stored === undefined || info === undefined || rebuilding === undefined) {
    throw new Error(`reading ${MARKER_KEY}: ${frameText(exec!)}`);
  }
  if (isErrorFrame(stored)) throw new Error(`GET ${MARKER_KEY}: ${frameText(stored)}`);
  const rebuild = bulkPayload(rebuilding);
  if (rebuild !== undefined) {
    return { kind: "unfinished", rebuild: new TextDecoder().decode(rebuild) };
  }
  const marker = bulkPayload(stored);
  const view: RedisView = {
    marker: marker === undefined ? undefined : new TextDecoder().decode(marker),
    dbsWithKeys: [],
    markersElsewhere: new Map(),
  };
  if (view.marker === undefined) {
    view.dbsWithKeys = dbsInKeyspace(new TextDecoder().decode(bulkPayload(info)));
    const others = view.dbsWithKeys.filter((db) => db !== metaDb);
    if (others.length > 0) {
      const commands = others.flatMap((db) => [
        encodeCommand(["SELECT", String(db)]),
        encodeCommand(["GET", MARKER_KEY]),
      ]);
      commands.push(encodeCommand(["SELECT", String(metaDb)]));
      const frames = await connection.run(commands);
      others.forEach((db, i) => {
        const text = bulkPayload(frames[2 * i + 1]!);
        if (text !== undefined) view.markersElsewhere.set(db, new TextDecoder().decode(text));
      });
    }
  }
  const verdict = judgeMarker(expected, metaDb, view, where);
  if (verdict.kind === "refuse") {
    if (verdict.unmarked === true && options.unmarked === "report") {
      return { kind: "unmarked", reason: verdict.reason };
    }
    throw new IdentityError(verdict.reason);
  }
  if (verdict.kind === "ok") return { kind: "marked" };
  if (!options.claim) return { kind: "empty" };
  const [claimed] = await connection.run([
    encodeCommand(["SET", MARKER_KEY, encodeMarker(expected), "NX"]),
  ]);
  if (isErrorFrame(claimed!)) throw new Error(`SET ${MARKER_KEY}: ${frameText(claimed!)}`);
  // Someone claimed it between the check and the SET: check what they wrote.
  if (bulkPayload(claimed!) === undefined && claimed![0] === 36) {
    return await checkRackRedis(connection, expected, metaDb, where, { ...options, claim: false });
  }
  return { kind: "claimed" };
}
