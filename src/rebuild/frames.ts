/**
 * The payloads of a snapshot on a peer link (frame types in
 * src/cluster/peer_protocol.ts):
 *
 * ```
 * SnapshotRequest  asker → source   node id, rack, first credit (u32)
 * SnapshotData     source → asker   kind (u8), then by kind:
 *                                     0 header     source node, rack, metadata db (u16),
 *                                                  databases (u32), keys at the start (f64),
 *                                                  Redis version
 *                                     1 start      payload bytes (f64; -1 when the Redis
 *                                                  streams it and did not say)
 *                                     2 bytes      the RDB payload's next bytes (the rest)
 *                                     3 keepalive  the source's Redis is still preparing it
 * SnapshotCredit   asker → source   request id (u32), more bytes (u32)
 * SnapshotCancel   asker → source   request id (u32)
 * Reply            source → asker   the request's end: the payload's byte count (f64), or
 *                                   why it failed
 * ```
 *
 * The source sends payload bytes only while the asker's credit lasts, so
 * neither side holds more than one credit window of the stream.
 */

import { PayloadReader, PayloadWriter } from "../wire.ts";

/** What a rebuild asks a source node for. */
export interface SnapshotRequest {
  /** The asking node and its rack (for the source's log and `PYLON INFO`). */
  node: string;
  rack: string;
  /** Payload bytes the source may send before the asker grants more. */
  creditBytes: number;
}

/** What the source says of its snapshot before its payload. */
export interface SnapshotHeader {
  node: string;
  rack: string;
  /** The db of the source's Redis that holds Pylon's metadata. */
  metaDb: number;
  /** `databases` of the source's Redis. */
  databases: number;
  /** Keys its Redis held when the snapshot was asked for (progress and time left). */
  keys: number;
  redisVersion: string;
}

/** One SnapshotData frame's payload, decoded. */
export type SnapshotData =
  | ({ kind: "header" } & SnapshotHeader)
  | { kind: "start"; bytesTotal: number | undefined }
  | { kind: "bytes"; bytes: Uint8Array }
  | { kind: "keepalive" };

const KIND = { header: 0, start: 1, bytes: 2, keepalive: 3 } as const;

/** The one-byte head of a `bytes` frame; the payload's bytes follow it as they are. */
export const BYTES_HEAD = new Uint8Array([KIND.bytes]);

export function encodeRequest(request: SnapshotRequest): Uint8Array {
  return new PayloadWriter().text(request.node).text(request.rack).u32(request.creditBytes)
    .finish();
}

export function decodeRequest(payload: Uint8Array): SnapshotRequest {
  const r = new PayloadReader(payload);
  const request = { node: r.text(), rack: r.text(), creditBytes: r.u32() };
  r.end();
  return request;
}

export function encodeHeader(header: SnapshotHeader): Uint8Array {
  return new PayloadWriter().u8(KIND.header).text(header.node).text(header.rack)
    .u16(header.metaDb).u32(header.databases).f64(header.keys).text(header.redisVersion)
    .finish();
}

export function encodeStart(bytesTotal: number | undefined): Uint8Array {
  return new PayloadWriter().u8(KIND.start).f64(bytesTotal ?? -1).finish();
}

export const KEEPALIVE = new Uint8Array([KIND.keepalive]);

export function decodeData(payload: Uint8Array): SnapshotData {
  const r = new PayloadReader(payload);
  const kind = r.u8();
  switch (kind) {
    case KIND.header: {
      const header: SnapshotData = {
        kind: "header",
        node: r.text(),
        rack: r.text(),
        metaDb: r.u16(),
        databases: r.u32(),
        keys: r.f64(),
        redisVersion: r.text(),
      };
      r.end();
      return header;
    }
    case KIND.start: {
      const total = r.f64();
      r.end();
      return { kind: "start", bytesTotal: total < 0 ? undefined : total };
    }
    case KIND.bytes:
      return { kind: "bytes", bytes: r.take(r.left) };
    case KIND.keepalive:
      r.end();
      return { kind: "keepalive" };
    default:
      throw new Error(`snapshot data of unknown kind ${kind}`);
  }
}

export function encodeCredit(id: number, bytes: number): Uint8Array {
  return new PayloadWriter().u32(id).u32(bytes).finish();
}

export function encodeCancel(id: number): Uint8Array {
  return new PayloadWriter().u32(id).finish();
}

/** A snapshot's end as its Reply carries it: the payload's byte count. */
export function encodeEnd(bytes: number): Uint8Array {
  return new PayloadWriter().f64(bytes).finish();
}

export function decodeEnd(bytes: Uint8Array): number {
  const r = new PayloadReader(bytes);
  const n = r.f64();
  r.end();
  return n;
}
