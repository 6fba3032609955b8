/**
 * The payloads of the divergence checker's peer frames (src/cluster/peer_protocol.ts
 * carries them): a rack pulls another's outcome summaries, the ops of a range
 * to name the first that differs, and data digests at a log position. Pure
 * encoding and decoding.
 */

import { PayloadReader, PayloadWriter } from "../wire.ts";
import type { ChainPoint, OutcomeRecord } from "./outcome_log.ts";

/**
 * What the asker wants of one partition: the window hashes from `fromWindow`,
 * at most `count`, and the chain at `at` (the asker's own last op) if the
 * answering rack has it.
 */
export interface WindowAsk {
  fromWindow: number;
  count: number;
  at: number | undefined;
}

/** One partition's outcomes as the answering rack has them. */
export interface PartitionSummary {
  /** The next offset its applier applies, when it applies. */
  position: number | undefined;
  /** Its chain at its last op, and at the op the asker asked about, where it has them. */
  points: ChainPoint[];
  /** Hashes of windows `fromWindow` onwards that it applied whole (undefined: not kept, or not seen whole). */
  fromWindow: number;
  windows: (number | undefined)[];
}

/** The answer to an outcome summary request. */
export interface OutcomeSummary {
  /** Whether the answering node applies (leads its rack): only then does it record outcomes. */
  leads: boolean;
  /** Why its rack has stopped because it diverged, or undefined. */
  diverged: string | undefined;
  partitions: PartitionSummary[];
}

const NONE = -1;

export function encodeSummaryAsk(asks: WindowAsk[]): Uint8Array {
  const w = new PayloadWriter().u32(asks.length);
  for (const ask of asks) w.f64(ask.fromWindow).u32(ask.count).f64(ask.at ?? NONE);
  return w.finish();
}

export function decodeSummaryAsk(payload: Uint8Array): WindowAsk[] {
  const r = new PayloadReader(payload);
  const asks: WindowAsk[] = [];
  for (let n = r.u32(); n > 0; n--) {
    const fromWindow = r.f64();
    const count = r.u32();
    const at = r.f64();
    asks.push({ fromWindow, count, at: at === NONE ? undefined : at });
  }
  r.end();
  return asks;
}

export function encodeSummary(summary: OutcomeSummary): Uint8Array {
  const w = new PayloadWriter().u8(summary.leads ? 1 : 0).text(summary.diverged ?? "")
    .u32(summary.partitions.length);
  for (const p of summary.partitions) {
    w.f64(p.position ?? NONE);
    w.u8(p.points.length);
    for (const point of p.points) w.f64(point.offset).f64(point.chain);
    w.f64(p.fromWindow).u32(p.windows.length);
    for (const hash of p.windows) {
      if (hash === undefined) w.u8(0);
      else w.u8(1).f64(hash);
    }
  }
  return w.finish();
}

export function decodeSummary(payload: Uint8Array): OutcomeSummary {
  const r = new PayloadReader(payload);
  const leads = r.u8() === 1;
  const diverged = r.text() || undefined;
  const partitions: PartitionSummary[] = [];
  for (let n = r.u32(); n > 0; n--) {
    const position = r.f64();
    const points: ChainPoint[] = [];
    for (let k = r.u8(); k > 0; k--) points.push({ offset: r.f64(), chain: r.f64() });
    const fromWindow = r.f64();
    const windows: (number | undefined)[] = [];
    for (let k = r.u32(); k > 0; k--) windows.push(r.u8() === 1 ? r.f64() : undefined);
    partitions.push({
      position: position === NONE ? undefined : position,
      points,
      fromWindow,
      windows,
    });
  }
  r.end();
  return { leads, diverged, partitions };
}

/** Asks for the ops kept in [from, to] of a partition. */
export interface RecordsAsk {
  partition: number;
  from: number;
  to: number;
}

export function encodeRecordsAsk(ask: RecordsAsk): Uint8Array {
  return new PayloadWriter().u32(ask.partition).f64(ask.from).f64(ask.to).finish();
}

export function decodeRecordsAsk(payload: Uint8Array): RecordsAsk {
  const r = new PayloadReader(payload);
  const ask = { partition: r.u32(), from: r.f64(), to: r.f64() };
  r.end();
  return ask;
}

export function encodeRecords(records: readonly OutcomeRecord[]): Uint8Array {
  const w = new PayloadWriter().u32(records.length);
  for (const r of records) {
    w.f64(r.offset).text(r.opId).text(r.rack).f64(r.digest).bytes(r.reply).f64(r.replyLength);
  }
  return w.finish();
}

export function decodeRecords(payload: Uint8Array): OutcomeRecord[] {
  const r = new PayloadReader(payload);
  const records: OutcomeRecord[] = [];
  for (let n = r.u32(); n > 0; n--) {
    records.push({
      offset: r.f64(),
      opId: r.text(),
      rack: r.text(),
      digest: r.f64(),
      reply: r.bytes().slice(),
      replyLength: r.f64(),
    });
  }
  r.end();
  return records;
}

/** How much one digest request may read (src/divergence/data_digest.ts). */
export interface DigestLimits {
  /** Elements of one collection read whole; beyond, its count and both ends. */
  elementsMax: number;
  /** Elements all keys of the request may read; the keys after it are left out ("?"). */
  budget: number;
  /** String bytes read whole; beyond, its length and both ends. */
  stringBytesMax: number;
}

/** Digest `keys` of `db` when partition `partition`'s applier stands at `position`. */
export interface DigestAsk {
  partition: number;
  position: number;
  db: number;
  limits: DigestLimits;
  keys: Uint8Array[];
}

export function encodeDigestAsk(ask: DigestAsk): Uint8Array {
  const w = new PayloadWriter().u32(ask.partition).f64(ask.position).u16(ask.db)
    .u32(ask.limits.elementsMax).u32(ask.limits.budget).u32(ask.limits.stringBytesMax)
    .u32(ask.keys.length);
  for (const key of ask.keys) w.bytes(key);
  return w.finish();
}

export function decodeDigestAsk(payload: Uint8Array): DigestAsk {
  const r = new PayloadReader(payload);
  const partition = r.u32();
  const position = r.f64();
  const db = r.u16();
  const limits = { elementsMax: r.u32(), budget: r.u32(), stringBytesMax: r.u32() };
  const keys: Uint8Array[] = [];
  for (let n = r.u32(); n > 0; n--) keys.push(r.bytes().slice());
  r.end();
  return { partition, position, db, limits, keys };
}

/** A key another rack found different on this one: this rack digests it with the others again. */
export interface DataHint {
  db: number;
  key: Uint8Array;
}

export function encodeDataHint(hint: DataHint): Uint8Array {
  return new PayloadWriter().u16(hint.db).bytes(hint.key).finish();
}

export function decodeDataHint(payload: Uint8Array): DataHint {
  const r = new PayloadReader(payload);
  const hint = { db: r.u16(), key: r.bytes().slice() };
  r.end();
  return hint;
}

/** A rack's answer to a digest request. */
export type DigestAnswer =
  | { kind: "done"; digests: string[] }
  /** Its applier was already past the position: it is at `position`. */
  | { kind: "passed"; position: number }
  | { kind: "timeout" }
  | { kind: "failed"; error: string }
  /** This node does not apply (it does not lead its rack, or the rack halted). */
  | { kind: "absent" };

const DIGEST_KINDS = ["done", "passed", "timeout", "failed", "absent"] as const;

export function encodeDigestAnswer(answer: DigestAnswer): Uint8Array {
  const w = new PayloadWriter().u8(DIGEST_KINDS.indexOf(answer.kind));
  if (answer.kind === "done") {
    w.u32(answer.digests.length);
    for (const d of answer.digests) w.text(d);
  } else if (answer.kind === "passed") w.f64(answer.position);
  else if (answer.kind === "failed") w.text(answer.error);
  return w.finish();
}

export function decodeDigestAnswer(payload: Uint8Array): DigestAnswer {
  const r = new PayloadReader(payload);
  const kind = DIGEST_KINDS[r.u8()];
  let answer: DigestAnswer;
  switch (kind) {
    case "done": {
      const digests: string[] = [];
      for (let n = r.u32(); n > 0; n--) digests.push(r.text());
      answer = { kind, digests };
      break;
    }
    case "passed":
      answer = { kind, position: r.f64() };
      break;
    case "failed":
      answer = { kind, error: r.text() };
      break;
    case "timeout":
    case "absent":
      answer = { kind };
      break;
    default:
      throw new RangeError("unknown digest answer");
  }
  r.end();
  return answer;
}
