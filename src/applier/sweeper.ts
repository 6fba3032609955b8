/**
 * The sweeper: removes, on the rack leader's Redis, keys the log has already
 * expired that no op touches, so expired keys stop taking memory and stop
 * being read. A rack's own business, not an op: deleting a key whose expiry
 * the rack's log time has passed changes no later op's outcome, since every
 * later op's log time is at least as far and would find it expired anyway
 * (src/applier/expiry_steps.ts).
 *
 * It scans each client db with SCAN and hands each expired key back to
 * Redis's own expiry (its stored expiry set to 100 ms from Redis's clock: a
 * time in the past would make Redis delete it at once, without the event), so Redis
 * removes it as it removes any expired key, with the keyspace event
 * `expired` that clients waiting for expiries listen to. Paced: one slice
 * of {@linkcode SWEEP_KEYS_PER_SLICE} keys per db every
 * {@linkcode SWEEP_INTERVAL_MS}, at once again while a slice finds many
 * (as Redis's own active expiry does), so a full pass over N keys takes
 * about N / 20,000 seconds when few are expired.
 */

import { getLogger } from "@logtape/logtape";
import type { HostPort } from "../net/address.ts";
import type { CommandRunner } from "../redis/command_runner.ts";
import { encodeCommand } from "../resp/encoder.ts";
import { arrayItems, bulkPayload, frameText, isErrorFrame } from "../resp/frames.ts";
import { type Clock, realClock } from "../clock.ts";
import { EXPIRY_SHIFT_MS } from "../determinism/expiry.ts";

const log = getLogger(["pylon", "sweeper"]);

/** Keys looked at per db and slice. */
export const SWEEP_KEYS_PER_SLICE = 2_000;
/** Pause between slices when the last ones found few expired keys. */
export const SWEEP_INTERVAL_MS = 100;
/** A slice that finds more than this share of its keys expired is followed at once. */
const BUSY_SHARE = 0.25;

/**
 * One slice: SCAN from cursor ARGV[3] (COUNT ARGV[4]) and hand every key
 * expired at log time ARGV[1] (its stored expiry at least the shift ARGV[2],
 * minus the shift reached) to Redis's own expiry. Answers the next cursor,
 * the keys handed over and the keys looked at. Runs under OOM too: it only
 * frees memory.
 */
export const SWEEP = "#!lua flags=allow-oom\n" +
  "local t = tonumber(ARGV[1]) local h = tonumber(ARGV[2]) " +
  "local scan = redis.call('SCAN', ARGV[3], 'COUNT', ARGV[4]) " +
  "local now = redis.call('TIME') " +
  "local soon = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + 100 " +
  "local swept = 0 " +
  "for _, key in ipairs(scan[2]) do " +
  "local at = redis.call('PEXPIRETIME', key) " +
  "if at >= h and at - h <= t then redis.call('PEXPIREAT', key, soon) swept = swept + 1 end " +
  "end return {scan[1], swept, #scan[2]}";

/** What the sweeper needs of the rack. */
export interface SweeperParts {
  /** The master now, and a connection of the sweeper's own to it. */
  address(): HostPort | undefined;
  connect(address: HostPort): Promise<CommandRunner>;
  /** The dbs clients use (every db but Pylon's metadata db). */
  dbs(): number[];
  /** The log time every partition has reached on this rack (the smallest), or undefined. */
  logTime(): number | undefined;
  clock?: Clock;
}

/** Counters for `PYLON INFO`. */
export interface SweeperStats {
  /** Keys handed to Redis's own expiry. */
  swept: number;
  /** Keys looked at. */
  scanned: number;
  /** Full passes over every db. */
  passes: number;
}

/** Sweeps expired keys on the rack's Redis while it runs. */
export class Sweeper {
  #parts: SweeperParts;
  #clock: Clock;
  #running: Promise<void> | undefined;
  #stopped = false;
  #connection: CommandRunner | undefined;
  /** Ends the pause between slices at once (stop). */
  #wake: (() => void) | undefined;
  #cursors = new Map<number, string>();
  #stats: SweeperStats = { swept: 0, scanned: 0, passes: 0 };

  constructor(parts: SweeperParts) {
    this.#parts = parts;
    this.#clock = parts.clock ?? realClock;
  }

  stats(): SweeperStats {
    return { ...this.#stats };
  }

  start(): void {
    this.#running ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    this.#connection?.close();
    await this.#running;
  }

  async #run(): Promise<void> {
    let lastError: string | undefined;
    while (!this.#stopped) {
      let busy = false;
      try {
        busy = await this.#slice();
        lastError = undefined;
      } catch (error) {
        this.#connection?.close();
        this.#connection = undefined;
        const message = (error as Error).message;
        if (message !== lastError && !this.#stopped) {
          log.warning("sweeping expired keys paused: {error}; retrying", { error: message });
        }
        lastError = message;
      }
      if (!busy && !this.#stopped) {
        await new Promise<void>((resolve) => {
          const cancel = this.#clock.after(SWEEP_INTERVAL_MS, resolve);
          this.#wake = () => {
            cancel();
            resolve();
          };
        });
        this.#wake = undefined;
      }
    }
  }

  /** One slice of every db; true when one found many expired keys (go on at once). */
  async #slice(): Promise<boolean> {
    const time = this.#parts.logTime();
    if (time === undefined || time <= 0) return false;
    const connection = await this.#connect();
    if (connection === undefined) return false;
    let busy = false;
    let passed = true;
    for (const db of this.#parts.dbs()) {
      const cursor = this.#cursors.get(db) ?? "0";
      const [selected, reply] = await connection.run([
        encodeCommand(["SELECT", String(db)]),
        encodeCommand([
          "EVAL",
          SWEEP,
          "0",
          String(time),
          String(EXPIRY_SHIFT_MS),
          cursor,
          String(SWEEP_KEYS_PER_SLICE),
        ]),
      ]);
      if (isErrorFrame(selected!)) throw new Error(frameText(selected!));
      if (isErrorFrame(reply!)) throw new Error(frameText(reply!));
      const [next, swept, scanned] = (arrayItems(reply!) ?? []).map((item) =>
        item[0] === 36 ? new TextDecoder().decode(bulkPayload(item)) : frameText(item)
      );
      const sweptKeys = Number(swept);
      const scannedKeys = Number(scanned);
      this.#stats.swept += sweptKeys;
      this.#stats.scanned += scannedKeys;
      this.#cursors.set(db, next ?? "0");
      if (next !== "0") passed = false;
      if (scannedKeys > 0 && sweptKeys / scannedKeys > BUSY_SHARE) busy = true;
    }
    if (passed) this.#stats.passes++;
    return busy;
  }

  async #connect(): Promise<CommandRunner | undefined> {
    if (this.#connection !== undefined && !this.#connection.closed) return this.#connection;
    const address = this.#parts.address();
    if (address === undefined) return undefined;
    this.#connection = await this.#parts.connect(address);
    return this.#connection;
  }
}
