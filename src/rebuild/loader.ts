/**
 * The receiving side of a rebuild: loads a peer's snapshot into this rack's
 * own Redis master, key by key, with `RESTORE .. ABSTTL` (each key's value
 * and stored expiry exactly as the source's Redis held them) and `FUNCTION
 * RESTORE`. The master stays a master throughout — its role never changes,
 * so Sentinel has nothing to react to — and its replicas receive the same
 * commands through ordinary replication.
 *
 * Never a partial history, by construction:
 *
 * 1. `begin` empties the Redis and sets the rebuild's mark (`pylon:rebuild`)
 *    in one MULTI/EXEC, writing every partition's position key too: an
 *    applier whose session began before (WATCHing its position) finds it
 *    moved at its next EXEC, which runs nothing; any session that begins
 *    later reads the mark and does not apply (src/rebuild/judge.ts).
 * 2. The snapshot's keys follow, its metadata db included: the source's
 *    positions and log times arrive with the data they describe.
 * 3. `finish` checks what arrived (this world's marker, a position for every
 *    partition the log no longer holds from 0, none older than the log's
 *    start) and only then removes the mark, in one transaction.
 *
 * A load that stops anywhere before 3 (the source gone, the link cut, this
 * Redis restarted) leaves the mark, or an empty Redis: either way the rack
 * is rebuilt again, never applied to. Memory: commands are sent in groups,
 * with at most {@linkcode GROUPS_IN_FLIGHT_MAX} groups of about
 * {@linkcode GROUP_BYTES_MAX} waiting for Redis's replies.
 */

import type { CommandRunner } from "../redis/command_runner.ts";
import { encodeCommand } from "../resp/encoder.ts";
import { bulkPayload, frameText, isErrorFrame } from "../resp/frames.ts";
import { positionKey, REBUILD_KEY } from "../meta_keys.ts";
import { encodeMarker, MARKER_KEY, type RackMarker } from "../identity/rack_marker.ts";
import type { LogBounds } from "../log/op_log.ts";
import type { RdbItem } from "./rdb.ts";
import { functionRestoreCommand, restoreCommand } from "./restore.ts";

/** A group of commands is sent once it holds this many bytes... */
export const GROUP_BYTES_MAX = 1024 * 1024;
/** ...or this many commands. */
export const GROUP_COMMANDS_MAX = 1_000;
/** Groups sent and not yet answered, at most. */
export const GROUPS_IN_FLIGHT_MAX = 4;

/** The value of a position key while a rebuild loads: not a number, so no applier reads one. */
export const POSITION_WHILE_REBUILDING = "rebuilding";

/** A load that cannot go on: what Redis refused, or a snapshot that does not fit this rack. */
export class LoadError extends Error {
  override name = "LoadError";
}

/** Where a snapshot goes, and what it must be. */
export interface LoadTarget {
  /** This node's metadata db, and the source's (its keys land in ours). */
  metaDb: number;
  sourceMetaDb: number;
  /** `databases` of this rack's Redis. */
  databases: number;
  partitions: number;
  /** The marker this rack's Redis must carry (this world's log). */
  marker: RackMarker;
}

/** What a finished load holds. */
export interface Loaded {
  /** Per partition, the position loaded (undefined: none, and the log holds it from 0). */
  positions: (number | undefined)[];
  keys: number;
}

interface Group {
  commands: Uint8Array[];
  /** What each command does, for an error's message: a key and its db, or a description. */
  what: ({ key: Uint8Array; db: number } | string)[];
  bytes: number;
  keys: number;
  functions: number;
}

/** Loads one snapshot into one Redis connection. */
export class SnapshotLoader {
  #connection: CommandRunner;
  #target: LoadTarget;
  #version = -1;
  /** The db the connection is in, as this loader last selected it (-1: none yet). */
  #db = -1;
  #group: Group = emptyGroup();
  #inFlight: Promise<void>[] = [];
  #failure: Error | undefined;
  /** Keys restored (answered OK) and functions restored. */
  keys = 0;
  functions = 0;
  /** Keys sent (restored or in flight). */
  keysSent = 0;

  constructor(connection: CommandRunner, target: LoadTarget) {
    this.#connection = connection;
    this.#target = target;
  }

  /**
   * Empties the Redis and marks it as being rebuilt, in one transaction
   * (`mark` is the mark's text: where the snapshot comes from, since when).
   */
  async begin(mark: string): Promise<void> {
    const { metaDb, partitions } = this.#target;
    const commands = [
      ["MULTI"],
      ["FLUSHALL"],
      ["FUNCTION", "FLUSH"],
      ["SELECT", String(metaDb)],
      ["SET", REBUILD_KEY, mark],
      ...Array.from(
        { length: partitions },
        (_, p) => ["SET", positionKey(p), POSITION_WHILE_REBUILDING],
      ),
      ["EXEC"],
    ];
    const frames = await this.#connection.run(commands.map((argv) => encodeCommand(argv)));
    const exec = frames[frames.length - 1]!;
    const refused = frames.find(isErrorFrame);
    if (refused !== undefined) {
      throw new LoadError(`emptying this rack's Redis was refused: ${frameText(refused)}`);
    }
    if (exec[0] !== 42 /* * */) throw new LoadError(`emptying answered ${frameText(exec)}`);
    this.#db = metaDb;
  }

  /** Queues what `item` needs; waits while too much is in flight. Throws {@linkcode LoadError}. */
  async add(item: RdbItem): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure;
    switch (item.kind) {
      case "header":
        this.#version = item.version;
        return;
      case "select": {
        const db = this.#dbFor(item.db);
        if (db !== this.#db) this.#queue(encodeCommand(["SELECT", String(db)]), `SELECT ${db}`);
        this.#db = db;
        break;
      }
      case "key": {
        if (this.#db === this.#target.metaDb && equalsText(item.key, REBUILD_KEY)) return;
        this.#queue(
          restoreCommand(item.key, item.expireMs, item.type, item.body, this.#version),
          { key: item.key, db: this.#db },
        );
        this.#group.keys++;
        this.keysSent++;
        break;
      }
      case "function":
        this.#queue(functionRestoreCommand(item.payload, this.#version), "a function library");
        this.#group.functions++;
        break;
      case "aux":
      case "resize":
      case "end":
        return;
    }
    const group = this.#group;
    if (group.bytes >= GROUP_BYTES_MAX || group.commands.length >= GROUP_COMMANDS_MAX) {
      await this.#send();
    }
  }

  /**
   * Sends what is queued, waits for every reply, checks what was loaded and
   * removes the rebuild's mark: the Redis is the source's snapshot from now
   * on. `bounds`: the log's bounds per partition, read now.
   */
  async finish(bounds: readonly LogBounds[]): Promise<Loaded> {
    await this.#send();
    await Promise.all(this.#inFlight);
    if (this.#failure !== undefined) throw this.#failure;
    const { metaDb, partitions, marker } = this.#target;
    const frames = await this.#connection.run([
      encodeCommand(["SELECT", String(metaDb)]),
      encodeCommand(["GET", MARKER_KEY]),
      ...Array.from({ length: partitions }, (_, p) => encodeCommand(["GET", positionKey(p)])),
    ]);
    this.#db = metaDb;
    const found = bulkPayload(frames[1]!);
    const expected = encodeMarker(marker);
    if (found === undefined || new TextDecoder().decode(found) !== expected) {
      throw new LoadError(
        `the snapshot's marker is ${
          found === undefined ? "missing" : `'${new TextDecoder().decode(found)}'`
        }, not this world's '${expected}'`,
      );
    }
    const positions = frames.slice(2).map((frame) => {
      const text = bulkPayload(frame);
      const value = text === undefined ? NaN : Number(new TextDecoder().decode(text));
      return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
    });
    positions.forEach((position, p) => {
      const start = bounds[p]?.start ?? 0;
      if (position === undefined && start > 0) {
        throw new LoadError(
          `the snapshot holds no position for partition ${p}, whose log now starts at ${start}`,
        );
      }
      if (position !== undefined && position < start) {
        throw new LoadError(
          `the snapshot is applied up to ${position} in partition ${p}, but the log now starts ` +
            `at ${start} (retention removed ops while it was taken or loaded)`,
        );
      }
    });
    // Partitions the source never applied to keep no placeholder; then the mark goes.
    const commands = [
      ["MULTI"],
      ...positions.flatMap((position, p) =>
        position === undefined ? [["DEL", positionKey(p)]] : []
      ),
      ["DEL", REBUILD_KEY],
      ["EXEC"],
    ];
    const done = await this.#connection.run(commands.map((argv) => encodeCommand(argv)));
    const exec = done[done.length - 1]!;
    if (isErrorFrame(exec) || exec[0] !== 42) {
      throw new LoadError(`removing the rebuild's mark answered ${frameText(exec)}`);
    }
    return { positions, keys: this.keys };
  }

  /** The db of this Redis where the source's db `db` goes. */
  #dbFor(db: number): number {
    const { metaDb, sourceMetaDb, databases } = this.#target;
    if (db === sourceMetaDb) return metaDb;
    if (db === metaDb) {
      throw new LoadError(
        `the snapshot has client data in db ${db}, which is this rack's metadata db (its own is ` +
          `db ${sourceMetaDb}): give this node a --meta-db the source does not use for data`,
      );
    }
    if (db >= databases) {
      throw new LoadError(
        `the snapshot has data in db ${db}; this rack's Redis has ${databases} databases`,
      );
    }
    return db;
  }

  #queue(command: Uint8Array, what: Group["what"][number]): void {
    const group = this.#group;
    group.commands.push(command);
    group.what.push(what);
    group.bytes += command.length;
  }

  /** Sends the queued group; waits first if too many are in flight. */
  async #send(): Promise<void> {
    const group = this.#group;
    if (group.commands.length === 0) return;
    this.#group = emptyGroup();
    while (this.#inFlight.length >= GROUPS_IN_FLIGHT_MAX) {
      await this.#inFlight[0];
    }
    if (this.#failure !== undefined) throw this.#failure;
    const sent = this.#connection.run(group.commands).then(
      (frames) => {
        for (let i = 0; i < frames.length; i++) {
          if (frames[i]![0] === 45 /* - */ && this.#failure === undefined) {
            const what = group.what[i]!;
            this.#failure = new LoadError(
              `Redis refused ${
                typeof what === "string" ? what : `key '${printable(what.key)}' of db ${what.db}`
              }: ${frameText(frames[i]!)}`,
            );
          }
        }
        this.keys += group.keys;
        this.functions += group.functions;
      },
      (error: Error) => {
        this.#failure ??= new LoadError(`this rack's Redis: ${error.message}`);
      },
    ).finally(() => {
      this.#inFlight.splice(this.#inFlight.indexOf(sent), 1);
    });
    this.#inFlight.push(sent);
  }
}

function emptyGroup(): Group {
  return { commands: [], what: [], bytes: 0, keys: 0, functions: 0 };
}

function equalsText(bytes: Uint8Array, text: string): boolean {
  if (bytes.length !== text.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[i] !== text.charCodeAt(i)) return false;
  return true;
}

/** A key for a message: its text, shortened, control bytes escaped. */
function printable(key: Uint8Array): string {
  const text = new TextDecoder().decode(key.subarray(0, 100));
  // deno-lint-ignore no-control-regex
  return text.replaceAll(/[\x00-\x1f]/g, "?") + (key.length > 100 ? "..." : "");
}
