/**
 * The node-to-node protocol on the peer port: length-prefixed binary frames.
 *
 *   u32 length of what follows, u8 type, u32 request id, payload
 *
 * A link starts with a mutual challenge-response over the world secret
 * (HMAC-SHA256), so a stranger can neither inject frames nor pose as a
 * node; until both sides have proved the secret, only handshake frames are
 * accepted. Payload fields are length-prefixed (u32) byte strings or fixed
 * integers, big-endian. Pure encoding and decoding: no sockets here.
 */

import { ChunkBuffer } from "../resp/chunk_buffer.ts";
import { PayloadWriter } from "../wire.ts";

export { PayloadReader, PayloadWriter } from "../wire.ts";

/** Frame types. */
export const FrameType = {
  /** acceptor → dialer: version, acceptor id, 32-byte challenge */
  Challenge: 1,
  /** dialer → acceptor: dialer id, rack, 32-byte challenge, proof */
  Auth: 2,
  /** acceptor → dialer: proof */
  AuthOk: 3,
  /** either way: why the link is refused, then close */
  Refused: 4,
  /** round-trip probe: sender's send time (f64) */
  Ping: 10,
  /** probe answer: echoed time, the answering node's state flags */
  Pong: 11,
  /** forwarded read: db (u16), protocol (u8), the encoded request (empty: only the need), need */
  Read: 20,
  /** forwarded write: db (u16), protocol (u8), transaction (u8), commands */
  Write: 21,
  /** answer to Read or Write: status (u8, 0 reply / 1 error text), bytes */
  Reply: 22,
  /** an applier hands a reply to the node that accepted the op: op id, reply */
  HandBack: 30,
  /** a batch of Raft messages for one group (one-way; src/raft/message_codec.ts) */
  Raft: 40,
  /** a proposal for a group this peer leads: group, data; answered with Reply */
  Propose: 41,
  /** divergence (src/divergence/wire.ts): the outcome summaries asked for; answered with Reply */
  Outcomes: 50,
  /** divergence: the ops kept in a range of offsets, their outcome digests and replies */
  OutcomeRecords: 51,
  /** divergence: data digests of keys at a log position */
  DataDigest: 52,
  /** divergence: a key another rack found different here, to digest again (one-way) */
  DataHint: 53,
  /**
   * a rebuild asks for this node's rack's snapshot (src/rebuild/frames.ts):
   * answered by SnapshotData frames with the request's id, then its Reply
   */
  SnapshotRequest: 60,
  /** part of a snapshot: its header, the start of its payload, its bytes, or a keepalive */
  SnapshotData: 61,
  /** the requester takes more of a snapshot: request id (u32), bytes (u32) */
  SnapshotCredit: 62,
  /** the requester stops a snapshot: request id (u32) */
  SnapshotCancel: 63,
} as const;

export type FrameTypeValue = typeof FrameType[keyof typeof FrameType];

/** Protocol version in the challenge; a node refuses another version. */
export const PEER_PROTOCOL_VERSION = 4;

/** Largest frame accepted from an authenticated peer (a forwarded reply may hold a 512 MiB value). */
export const FRAME_BYTES_MAX = 600 * 1024 * 1024;

/** Largest frame accepted before the peer proved the world secret: handshakes are small. */
export const HANDSHAKE_FRAME_BYTES_MAX = 4 * 1024;

/** One decoded frame. */
export interface Frame {
  type: number;
  id: number;
  payload: Uint8Array;
}

/** A frame that breaks the protocol: the link is closed. */
export class PeerProtocolError extends Error {
  override name = "PeerProtocolError";
}

/** The bytes of one frame. */
export function encodeFrame(type: number, id: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 1 + 4 + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 1 + 4 + payload.length);
  out[4] = type;
  view.setUint32(5, id);
  out.set(payload, 9);
  return out;
}

/** One frame whose payload is `head` followed by `body`, built with one copy of each. */
export function encodeFrameWith(
  type: number,
  id: number,
  head: Uint8Array,
  body: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(4 + 1 + 4 + head.length + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 1 + 4 + head.length + body.length);
  out[4] = type;
  view.setUint32(5, id);
  out.set(head, 9);
  out.set(body, 9 + head.length);
  return out;
}

/** Splits a byte stream into frames; resumable at any byte boundary, one copy per frame at most. */
export class FrameDecoder {
  #in = new ChunkBuffer();
  #frameBytesMax: number;

  constructor(frameBytesMax = FRAME_BYTES_MAX) {
    this.#frameBytesMax = frameBytesMax;
  }

  /** Changes the largest frame accepted from here on. */
  limit(frameBytesMax: number): void {
    this.#frameBytesMax = frameBytesMax;
  }

  push(chunk: Uint8Array): void {
    this.#in.push(chunk);
  }

  /** The next whole frame, or undefined. Throws {@linkcode PeerProtocolError} on a bad length. */
  next(): Frame | undefined {
    const input = this.#in;
    if (!input.ensure(4)) return undefined;
    const view = new DataView(input.buf.buffer, input.buf.byteOffset + input.pos, 4);
    const length = view.getUint32(0);
    if (length < 5 || length > this.#frameBytesMax) {
      throw new PeerProtocolError(`frame length ${length} outside 5..${this.#frameBytesMax}`);
    }
    if (!input.ensure(4 + length)) return undefined;
    const at = input.pos;
    const frame: Frame = {
      type: input.buf[at + 4]!,
      id: new DataView(input.buf.buffer, input.buf.byteOffset + at + 5, 4).getUint32(0),
      payload: input.buf.subarray(at + 9, at + 4 + length),
    };
    input.pos += 4 + length;
    input.compact();
    return frame;
  }
}

const encoder = new TextEncoder();

/** HMAC-SHA256 of `parts` joined with `|`, under the world secret. */
export async function proof(
  secret: string,
  label: string,
  parts: (Uint8Array | string)[],
): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const message = new PayloadWriter().text(label);
  for (const part of parts) {
    if (typeof part === "string") message.text(part);
    else message.bytes(part);
  }
  const data = message.finish();
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, new Uint8Array(data)));
}

/** Compares two proofs in time independent of where they differ. */
export function sameProof(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
