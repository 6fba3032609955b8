/**
 * Data rounds: the rack leader's comparison of the data itself with every
 * other rack's, a few keys at a time. Every {@linkcode DATA_ROUND_MS} it
 * takes the next keys of its own Redis (SCAN, every client db in turn; keys
 * carried over first), and asks every rack's leader, itself included, to
 * digest them when its applier stands at one log position of their
 * partition (src/divergence/stops.ts, data_digest.ts): the same keys as of
 * the same op everywhere. The position is taken just ahead of the furthest
 * rack, further ahead after a rack was already past it, nearer after one did
 * not reach it in time. What differs goes to the checker's verdict.
 */

import { getLogger } from "@logtape/logtape";
import { type Clock, sleep } from "../clock.ts";
import { keyHashSlot } from "../command/slot.ts";
import { slotPartition } from "../command/partition.ts";
import { FrameType } from "../cluster/peer_protocol.ts";
import type { PartitionStatus } from "../applier/applier.ts";
import type { CommandRunner } from "../redis/command_runner.ts";
import { encodeCommand } from "../resp/encoder.ts";
import { arrayItems, bulkPayload, frameText, isErrorFrame } from "../resp/frames.ts";
import type { ApplyStops, StopResult } from "./stops.ts";
import { decide, type Verdict } from "./verdict.ts";
import { ABSENT, describeDigest, DIGEST_LIMITS, digestKeys, NOT_DIGESTED } from "./data_digest.ts";
import {
  type DataHint,
  decodeDigestAnswer,
  type DigestAnswer,
  type DigestAsk,
  encodeDigestAsk,
} from "./wire.ts";

const log = getLogger(["pylon", "divergence"]);

/** Data digest rounds: one chunk of keys every this often. */
export const DATA_ROUND_MS = 250;
/** How long a rack waits to reach a digest's position. */
export const DIGEST_WAIT_MS = 5_000;
/** How long a peer may take to answer a request beside waiting for a position. */
export const ASK_TIMEOUT_MS = 3_000;
/** Keys carried to the next round at most (the budget left them out, a round was retried). */
const CARRY_KEYS_MAX = 1_000;
/** Racks further behind than this are not asked for digests (they catch up first). */
const DIGEST_LAG_OPS_MAX = 10_000;
/** How far ahead of the furthest rack a digest position is taken, at most. */
const MARGIN_OPS_MAX = 100_000;

const EMPTY = new Uint8Array(0);
const utf8 = new TextDecoder();

/** The other racks as the checker reaches them (src/cluster/peers.ts). */
export interface RackPeers {
  /** Each other rack's leader, as probes last said. */
  rackLeaders(): { id: string; rack: string }[];
  /** A request answered with a payload (rejects with the peer's error or when it does not answer). */
  ask(to: string, type: number, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
}

/** What the data rounds work with. */
export interface DataRoundsParts {
  rack: string;
  partitions: number;
  /** The db of Pylon's metadata (the digest checks the stored position there). */
  metaDb: number;
  /** This node's applier's partitions while it leads its rack; undefined otherwise. */
  applier(): readonly Readonly<PartitionStatus>[] | undefined;
  peers: RackPeers;
  /** Whether this rack has stopped (it diverged): it compares nothing then. */
  halted(): boolean;
  /** A connection of its own to the rack's master (for SCAN), or undefined. */
  connect(): Promise<CommandRunner | undefined>;
  /** The dbs clients use. */
  dbs(): number[];
  keysPerSecond: number;
  stops: ApplyStops;
  /** Where another rack's applier was last heard to be, and news of it. */
  position(rack: string, partition: number): number | undefined;
  learnPosition(rack: string, partition: number, position: number): void;
  /** A key differs: who diverged, and what to say (the checker halts or notes). */
  differs(verdict: Verdict<string>, what: string, hint: DataHint): void;
  clock: Clock;
}

/** Counters for `PYLON INFO`. */
export interface DataRoundStats {
  dataRounds: number;
  dataRoundsRetried: number;
  dataKeysCompared: number;
}

/** The rack leader's data rounds, and its answers to other racks' digest requests. */
export class DataRounds {
  #parts: DataRoundsParts;
  #stats: DataRoundStats = { dataRounds: 0, dataRoundsRetried: 0, dataKeysCompared: 0 };
  #scan = { dbIndex: 0, cursor: "0" };
  #carry: DataHint[] = [];
  #margins: number[];
  /** Whether the last round of each partition found a rack past its position. */
  #passedLast: boolean[];
  #connection: CommandRunner | undefined;

  constructor(parts: DataRoundsParts) {
    this.#parts = parts;
    this.#margins = Array.from({ length: parts.partitions }, () => 0);
    this.#passedLast = Array.from({ length: parts.partitions }, () => false);
  }

  stats(): DataRoundStats {
    return { ...this.#stats };
  }

  /** Runs rounds until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.#round();
      } catch (error) {
        this.#connection?.close();
        this.#connection = undefined;
        log.warning("data digest round failed: {error}", { error: (error as Error).message });
      }
      await sleep(this.#parts.clock, DATA_ROUND_MS, signal);
    }
    this.#connection?.close();
  }

  /** Another rack found this key different here: checked with every rack in the next round. */
  hint(hint: DataHint): void {
    if (this.#carry.some((c) => c.db === hint.db && sameBytes(c.key, hint.key))) return;
    this.#carry.unshift(hint);
    this.#carry.length = Math.min(this.#carry.length, CARRY_KEYS_MAX);
  }

  /** Digests keys here when this rack's applier stands at the asked position. */
  async digestHere(ask: DigestAsk): Promise<DigestAnswer> {
    const status = this.#parts.applier()?.[ask.partition];
    if (status === undefined || this.#parts.halted()) return { kind: "absent" };
    return answerOf(
      await this.#parts.stops.add(ask.partition, ask.position, {
        current: status.position,
        timeoutMs: DIGEST_WAIT_MS,
        work: (connection, logTimeMs) =>
          digestKeys(connection, {
            db: ask.db,
            keys: ask.keys,
            logTimeMs,
            limits: ask.limits,
            at: { metaDb: this.#parts.metaDb, partition: ask.partition, position: ask.position },
          }),
      }),
    );
  }

  /** Keys per round, from the rate. */
  #chunk(): number {
    return Math.max(1, Math.ceil(this.#parts.keysPerSecond * DATA_ROUND_MS / 1_000));
  }

  /** One round: the next keys, digested at a position on every rack, compared. */
  async #round(): Promise<void> {
    if (this.#parts.applier() === undefined || this.#parts.halted()) return;
    const leaders = this.#parts.peers.rackLeaders();
    if (leaders.length === 0) return;
    const sample = await this.#sample();
    if (sample === undefined) return;
    const groups = new Map<number, Uint8Array[]>();
    for (const key of sample.keys) {
      const p = this.#parts.partitions === 1
        ? 0
        : slotPartition(keyHashSlot(key), this.#parts.partitions);
      const group = groups.get(p);
      if (group === undefined) groups.set(p, [key]);
      else group.push(key);
    }
    this.#stats.dataRounds++;
    await Promise.all(
      [...groups].map(([partition, keys]) => this.#group(partition, sample.db, keys, leaders)),
    );
  }

  /** The keys of the next round: carried ones first, else the next SCAN of a client db. */
  async #sample(): Promise<{ db: number; keys: Uint8Array[] } | undefined> {
    const chunk = this.#chunk();
    if (this.#carry.length > 0) {
      const db = this.#carry[0]!.db;
      const same = this.#carry.filter((c) => c.db === db).slice(0, chunk);
      this.#carry = this.#carry.filter((c) => !same.includes(c));
      return { db, keys: same.map((c) => c.key) };
    }
    const dbs = this.#parts.dbs();
    if (dbs.length === 0) return undefined;
    const connection = await this.#connect();
    if (connection === undefined) return undefined;
    // At most one pass over the dbs for a non-empty chunk.
    for (let tries = 0; tries <= dbs.length; tries++) {
      const db = dbs[this.#scan.dbIndex % dbs.length]!;
      const [selected, reply] = await connection.run([
        encodeCommand(["SELECT", String(db)]),
        encodeCommand(["SCAN", this.#scan.cursor, "COUNT", String(chunk)]),
      ]);
      if (isErrorFrame(selected!)) throw new Error(`SELECT ${db}: ${frameText(selected!)}`);
      if (isErrorFrame(reply!)) throw new Error(`SCAN: ${frameText(reply!)}`);
      const [cursor, keys] = arrayItems(reply!) ?? [];
      this.#scan.cursor = utf8.decode(bulkPayload(cursor!) ?? EMPTY);
      if (this.#scan.cursor === "0") this.#scan.dbIndex = (this.#scan.dbIndex + 1) % dbs.length;
      const found = (arrayItems(keys!) ?? []).map((k) => (bulkPayload(k) ?? EMPTY).slice());
      if (found.length > 0) return { db, keys: found };
    }
    return undefined;
  }

  async #connect(): Promise<CommandRunner | undefined> {
    if (this.#connection !== undefined && !this.#connection.closed) return this.#connection;
    this.#connection = await this.#parts.connect();
    return this.#connection;
  }

  /** Digests `keys` of `db` (all of partition `partition`) on every rack at one position, and compares. */
  async #group(
    partition: number,
    db: number,
    keys: Uint8Array[],
    all: { id: string; rack: string }[],
  ): Promise<void> {
    const { peers, stops } = this.#parts;
    const current = this.#parts.applier()?.[partition]?.position;
    if (current === undefined) return this.#carryOver(db, keys);
    const known = (l: { rack: string }) => this.#parts.position(l.rack, partition);
    const furthest = Math.max(current, ...all.map((l) => known(l) ?? 0));
    // A rack catching up far behind would not reach the position in time: it is asked later.
    const leaders = all.filter((l) => (known(l) ?? furthest) >= furthest - DIGEST_LAG_OPS_MAX);
    if (leaders.length === 0) return this.#carryOver(db, keys);
    const position = furthest + this.#margins[partition]!;
    const limits = DIGEST_LIMITS;
    const mine = stops.add(partition, position, {
      current,
      timeoutMs: DIGEST_WAIT_MS,
      work: (connection, logTimeMs) =>
        digestKeys(connection, {
          db,
          keys,
          logTimeMs,
          limits,
          at: { metaDb: this.#parts.metaDb, partition, position },
        }),
    }).then(answerOf);
    const payload = encodeDigestAsk({ partition, position, db, limits, keys });
    const answers = await Promise.all([
      mine,
      ...leaders.map((l) =>
        peers.ask(l.id, FrameType.DataDigest, payload, DIGEST_WAIT_MS + ASK_TIMEOUT_MS)
          .then(decodeDigestAnswer)
          .catch((error): DigestAnswer => ({ kind: "failed", error: (error as Error).message }))
      ),
    ]);
    const racks = [this.#parts.rack, ...leaders.map((l) => l.rack)];
    answers.forEach((a, i) => {
      if (a.kind === "passed" && i > 0) this.#parts.learnPosition(racks[i]!, partition, a.position);
    });
    // A rack already past the position: once more from the positions just learnt, then further
    // ahead each time; otherwise nearer (a position too far ahead is not reached in time).
    const passed = answers.some((a) => a.kind === "passed");
    const margin = this.#margins[partition]!;
    this.#margins[partition] = !passed
      ? Math.floor(margin / 2)
      : this.#passedLast[partition]
      ? Math.min(MARGIN_OPS_MAX, Math.max(1, margin * 2))
      : margin;
    this.#passedLast[partition] = passed;
    const own = answers[0]!;
    if (passed || own.kind !== "done") {
      this.#stats.dataRoundsRetried++;
      return this.#carryOver(db, keys);
    }
    const left: Uint8Array[] = [];
    const differing: { key: Uint8Array; verdict: Verdict<string> }[] = [];
    keys.forEach((key, i) => {
      if (own.digests[i] === NOT_DIGESTED) {
        left.push(key);
        return;
      }
      const values = answers.map((a, r) => ({
        rack: racks[r]!,
        value: a.kind === "done" && a.digests[i] !== NOT_DIGESTED ? a.digests[i] : undefined,
      }));
      if (values.filter((v) => v.value !== undefined).length < 2) return;
      this.#stats.dataKeysCompared++;
      const verdict = decide(values);
      if (verdict.diverged.length > 0) differing.push({ key, verdict });
    });
    this.#carryOver(db, left);
    const found = differing[0];
    if (found === undefined) return;
    const at = keys.indexOf(found.key);
    const holds = racks
      .map((rack, r) => {
        const a = answers[r]!;
        return a.kind === "done"
          ? `rack '${rack}' has ${describeDigest(a.digests[at] ?? ABSENT)}`
          : undefined;
      })
      .filter((s) => s !== undefined)
      .join("; ");
    const more = differing.length > 1
      ? ` (and ${differing.length - 1} more keys of this round)`
      : "";
    this.#parts.differs(
      found.verdict,
      `key ${showKey(found.key)} of db ${db} differs at log position ${position} of partition ` +
        `${partition}${more}: ${holds}`,
      { db, key: found.key },
    );
  }

  #carryOver(db: number, keys: Uint8Array[]): void {
    for (const key of keys) {
      if (this.#carry.length >= CARRY_KEYS_MAX) return;
      this.#carry.push({ db, key });
    }
  }
}

/** A stop's result as a peer's answer. */
function answerOf(result: StopResult<string[]>): DigestAnswer {
  switch (result.kind) {
    case "done":
      return { kind: "done", digests: result.value };
    case "passed":
      return { kind: "passed", position: result.position };
    case "timeout":
      return { kind: "timeout" };
    case "failed":
      return { kind: "failed", error: result.error };
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** A key for a message: quoted, cut at 100 characters. */
function showKey(key: Uint8Array): string {
  const text = utf8.decode(key.subarray(0, 100));
  return JSON.stringify(text) + (key.length > 100 ? "..." : "");
}
