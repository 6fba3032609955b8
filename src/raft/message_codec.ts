/**
 * Raft messages on the wire: a batch of messages for one group, in one
 * binary payload (the transport sends one per destination per Ready, so
 * heartbeats to a node ride together). Versioned; every field bounded.
 */

import type { ConfState, Entry, EntryType, Message, MessageType, Snapshot } from "./types.ts";

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

class Writer {
  parts: Uint8Array[] = [];
  size = 0;

  push(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.size += bytes.length;
  }

  u8(n: number): void {
    this.push(Uint8Array.of(n));
  }

  f64(n: number): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, n);
    this.push(b);
  }

  u32(n: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n);
    this.push(b);
  }

  bytes(data: Uint8Array): void {
    this.u32(data.length);
    this.push(data);
  }

  text(s: string): void {
    this.bytes(new TextEncoder().encode(s));
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

class Reader {
  #data: Uint8Array;
  #view: DataView;
  #at = 0;

  constructor(data: Uint8Array) {
    this.#data = data;
    this.#view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  #need(n: number): void {
    if (this.#at + n > this.#data.length) throw new MessageFormatError("Raft batch truncated");
  }

  u8(): number {
    this.#need(1);
    return this.#data[this.#at++]!;
  }

  f64(): number {
    this.#need(8);
    const v = this.#view.getFloat64(this.#at);
    this.#at += 8;
    return v;
  }

  u32(): number {
    this.#need(4);
    const v = this.#view.getUint32(this.#at);
    this.#at += 4;
    return v;
  }

  bytes(): Uint8Array {
    const n = this.u32();
    this.#need(n);
    // A copy: entries outlive the network chunk they arrived in.
    const v = this.#data.slice(this.#at, this.#at + n);
    this.#at += n;
    return v;
  }

  text(): string {
    return new TextDecoder("utf-8", { fatal: true }).decode(this.bytes());
  }

  get done(): boolean {
    return this.#at === this.#data.length;
  }
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
  const r = new Reader(bytes);
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
      entries.push({ index: entryIndex, term: entryTerm, type: entryType, data: r.bytes() });
    }
    let snapshot: Snapshot | undefined;
    if ((flags & 4) !== 0) {
      const snapIndex = r.f64();
      const snapTerm = r.f64();
      const conf = readConf(r);
      snapshot = { index: snapIndex, term: snapTerm, conf, data: r.bytes() };
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
  if (!r.done) throw new MessageFormatError("Raft batch has trailing bytes");
  return { group, messages };
}
