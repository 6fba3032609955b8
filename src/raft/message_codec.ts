/**
 * Raft messages on the wire: a batch of messages for one group, in one
 * binary payload (the transport sends one per destination per Ready, so
 * heartbeats to a node ride together). Versioned; every field bounded.
 */

import type { ConfState, Entry, EntryType, Message, MessageType, Snapshot } from "./types.ts";
import { PayloadReader as Reader, PayloadWriter as Writer, WireFormatError } from "../wire.ts";

const VERSION = 1;

const TYPES: readonly MessageType[] = [
  "preVote",
  "preVoteResponse",
  "vote",
  "voteResponse",
  "append",
  "appendResponse",
  "heartbeat",
  "heartbeatResponse",
  "snapshot",
  "timeoutNow",
];

/** A batch that does not decode. */
export class MessageFormatError extends Error {
  override name = "MessageFormatError";
}

function writeConf(w: Writer, conf: ConfState): void {
  w.u32(conf.voters.length);
  for (const v of conf.voters) w.text(v);
  w.u32(conf.learners.length);
  for (const l of conf.learners) w.text(l);
}

function readConf(r: Reader): ConfState {
  const voters: string[] = [];
  for (let i = r.u32(); i > 0; i--) voters.push(r.text());
  const learners: string[] = [];
  for (let i = r.u32(); i > 0; i--) learners.push(r.text());
  return { voters, learners };
}

/** The bytes of a batch of messages of `group`. */
export function encodeMessages(group: string, messages: readonly Message[]): Uint8Array {
  const w = new Writer();
  w.u8(VERSION);
  w.text(group);
  w.u32(messages.length);
  for (const m of messages) {
    w.u8(TYPES.indexOf(m.type));
    w.text(m.from);
    w.text(m.to);
    w.f64(m.term);
    w.f64(m.index);
    w.f64(m.logTerm);
    w.f64(m.commit);
    w.u8((m.reject ? 1 : 0) | (m.transfer ? 2 : 0) | (m.snapshot === undefined ? 0 : 4));
    w.f64(m.rejectHint);
    w.u32(m.entries.length);
    for (const e of m.entries) {
      w.f64(e.index);
      w.f64(e.term);
      w.u8(e.type === "conf" ? 1 : 0);
      w.bytes(e.data);
    }
    if (m.snapshot !== undefined) {
      w.f64(m.snapshot.index);
      w.f64(m.snapshot.term);
      writeConf(w, m.snapshot.conf);
      w.bytes(m.snapshot.data);
    }
  }
  return w.finish();
}

/** Decodes a batch. Throws {@linkcode MessageFormatError}. */
export function decodeMessages(bytes: Uint8Array): { group: string; messages: Message[] } {
  try {
    return decode(new Reader(bytes));
  } catch (error) {
    if (error instanceof WireFormatError) {
      throw new MessageFormatError(`Raft batch: ${error.message}`);
    }
    throw error;
  }
}

function decode(r: Reader): { group: string; messages: Message[] } {
  const version = r.u8();
  if (version !== VERSION) throw new MessageFormatError(`Unknown Raft batch version ${version}`);
  const group = r.text();
  const messages: Message[] = [];
  for (let count = r.u32(); count > 0; count--) {
    const type = TYPES[r.u8()];
    if (type === undefined) throw new MessageFormatError("Unknown Raft message type");
    const from = r.text();
    const to = r.text();
    const term = r.f64();
    const index = r.f64();
    const logTerm = r.f64();
    const commit = r.f64();
    const flags = r.u8();
    const rejectHint = r.f64();
    const entries: Entry[] = [];
    for (let n = r.u32(); n > 0; n--) {
      const entryIndex = r.f64();
      const entryTerm = r.f64();
      const entryType: EntryType = r.u8() === 1 ? "conf" : "normal";
      // A copy: entries outlive the network chunk they arrived in.
      entries.push({
        index: entryIndex,
        term: entryTerm,
        type: entryType,
        data: r.bytes().slice(),
      });
    }
    let snapshot: Snapshot | undefined;
    if ((flags & 4) !== 0) {
      const snapIndex = r.f64();
      const snapTerm = r.f64();
      const conf = readConf(r);
      snapshot = { index: snapIndex, term: snapTerm, conf, data: r.bytes().slice() };
    }
    messages.push({
      type,
      from,
      to,
      term,
      index,
      logTerm,
      entries,
      commit,
      reject: (flags & 1) !== 0,
      rejectHint,
      snapshot,
      transfer: (flags & 2) !== 0,
    });
  }
  r.end();
  return { group, messages };
}
