/**
 * The accepting side of peer links: every connection must first answer a
 * challenge with a proof of the world secret; then it may probe this node,
 * forward reads and writes to it, hand back replies of ops this node
 * accepted, and ask for its rack's snapshot (a rebuild, streamed with the
 * asker's credit, src/rebuild/snapshot_source.ts). Anything else — a wrong proof, garbage, a frame out of turn, a
 * slow handshake — closes that connection and nothing else.
 */

import * as net from "node:net";
import { getLogger } from "@logtape/logtape";
import type { HostPort } from "../net/address.ts";
import type { PeerTls } from "../config/types.ts";
import * as tls from "node:tls";
import type { Placement } from "../log/op_log.ts";
import type { Need } from "../applier/rack_progress.ts";
import type { Protocol } from "../resp/value.ts";
import {
  encodeFrame,
  encodeFrameWith,
  type Frame,
  FRAME_BYTES_MAX,
  FrameDecoder,
  FrameType,
  HANDSHAKE_FRAME_BYTES_MAX,
  PayloadReader,
  PayloadWriter,
  PEER_PROTOCOL_VERSION,
  PeerProtocolError,
  proof,
  sameProof,
} from "./peer_protocol.ts";

const log = getLogger(["pylon", "cluster", "peer"]);

/** What this node offers its peers. */
export interface PeerService {
  /** Serves a forwarded read from this rack's Redis (never forwarding it again). */
  read(
    db: number,
    protocol: Protocol,
    request: Uint8Array,
    need: Need,
  ): Promise<{ reply: Uint8Array } | { error: string }>;
  /** Accepts a forwarded write as if a client of this node sent it; resolves with its reply. */
  write(
    db: number,
    protocol: Protocol,
    transaction: boolean,
    commands: Uint8Array[][],
  ): Promise<{ reply: Uint8Array; placement: Placement | undefined }>;
  /** A reply for an op this node accepted, applied by another node of its rack. */
  handBack(opId: string, reply: Uint8Array): void;
  /** This node's state flags for probes ({@linkcode PeerFlags}). */
  flags(): number;
  /** A batch of Raft messages from node `from` (authenticated). */
  raft(from: string, batch: Uint8Array): void;
  /** A proposal forwarded to this node as a group's leader; resolves with an error text if not taken. */
  propose(group: string, data: Uint8Array): Promise<string | undefined>;
  /** A divergence checker's request (Outcomes, OutcomeRecords, DataDigest): its answer's payload. */
  divergence(type: number, payload: Uint8Array): Promise<Uint8Array>;
  /**
   * A rebuild on node `from` asks for this rack's snapshot: the stream this
   * node serves on `link`, or the reason it refuses (then answered at once).
   */
  snapshot?(from: string, request: Uint8Array, link: StreamLink): PeerStream | string;
}

/** A stream this node serves on one peer link (a snapshot), steered by the asker's frames. */
export interface PeerStream {
  /** The asker takes `bytes` more. */
  credit(bytes: number): void;
  /** The asker stopped, or its link closed: stop and release everything. */
  cancel(): void;
}

/** Where a served stream writes: frames carrying its request's id, then its one answer. */
export interface StreamLink {
  /**
   * Sends a frame of the stream (payload `head` then `body`); false once the
   * link's socket holds more than {@linkcode STREAM_SOCKET_BYTES_MAX} unsent
   * (wait for {@linkcode onDrain}).
   */
  send(type: number, head: Uint8Array, body?: Uint8Array): boolean;
  /** Calls `fn` once, when the socket has sent what it held. */
  onDrain(fn: () => void): void;
  /** Ends the stream with its answer (the request's Reply: bytes, or an error). */
  end(answer: { ok: Uint8Array } | { error: string }): void;
  /** Whether the link closed. */
  readonly closed: boolean;
}

/** Unsent bytes a served stream may leave in a link's socket before it waits for it to drain. */
export const STREAM_SOCKET_BYTES_MAX = 1024 * 1024;

/** Bits of a node's state, sent in every probe answer. */
export const PeerFlags = {
  /** Its rack's Redis is reachable and caught up: it can serve reads. */
  servesReads: 1,
  /** Its rack applies the log now: writes forwarded to it get real replies. */
  applies: 2,
  /** It is its rack's leader and runs the applier: the divergence checker asks it. */
  leads: 4,
  /** Its rack's Redis lacks ops the log no longer holds (a rebuild is due or under way). */
  lacksData: 8,
} as const;

/** Options of {@linkcode PeerServer}. */
export interface PeerServerOptions {
  nodeId: string;
  secret: string;
  listen: HostPort;
  handshakeTimeoutMs?: number;
  /** Mutual TLS: peers must present a certificate the world's CA signed. */
  tls?: PeerTls;
}

/** Counters for `PYLON INFO`. */
export interface PeerServerStats {
  linksOpen: number;
  linksAccepted: number;
  linksRefused: number;
}

/** The peer port of this node. */
export class PeerServer {
  #service: PeerService;
  #options: PeerServerOptions;
  #server: net.Server;
  #sockets = new Set<net.Socket>();
  #stats = { linksAccepted: 0, linksRefused: 0 };

  constructor(service: PeerService, options: PeerServerOptions) {
    this.#service = service;
    this.#options = options;
    const material = options.tls;
    if (material === undefined) {
      this.#server = net.createServer((socket) => this.#accept(socket));
    } else {
      const server = tls.createServer(
        { ...material, requestCert: true, rejectUnauthorized: true },
        (socket) => this.#accept(socket),
      );
      // No certificate, one the CA did not sign, an expired one, or plain text: refused here.
      server.on("tlsClientError", (error: Error, socket: net.Socket) => {
        this.#stats.linksRefused++;
        log.warning("peer link from {addr} refused: TLS: {error}", {
          addr: socket.remoteAddress,
          error: error.message,
        });
      });
      this.#server = server;
    }
  }

  /** Starts listening; resolves with the bound address. */
  listen(): Promise<HostPort> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(this.#options.listen.port, this.#options.listen.host, () => {
        this.#server.off("error", reject);
        const address = this.#server.address() as net.AddressInfo;
        resolve({ host: address.address, port: address.port });
      });
    });
  }

  stats(): PeerServerStats {
    return { linksOpen: this.#sockets.size, ...this.#stats };
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  #accept(socket: net.Socket): void {
    socket.setNoDelay(true);
    this.#sockets.add(socket);
    socket.on("close", () => this.#sockets.delete(socket));
    socket.on("error", () => {});
    const decoder = new FrameDecoder();
    // Streams this link's peer asked for (snapshots), by request id; cancelled when it closes.
    const streams = new Map<number, PeerStream>();
    socket.on("close", () => {
      for (const stream of streams.values()) stream.cancel();
      streams.clear();
    });
    const challenge = crypto.getRandomValues(new Uint8Array(32));
    let peer: string | undefined;
    let authenticating = false;
    let refused = false;
    const refuse = (why: string) => {
      if (refused) return;
      refused = true;
      socket.pause();
      this.#stats.linksRefused++;
      log.warning("peer link from {addr} refused: {why}", { addr: socket.remoteAddress, why });
      socket.end(encodeFrame(FrameType.Refused, 0, new PayloadWriter().text(why).finish()));
      setTimeout(() => socket.destroy(), 1_000);
    };
    const timer = setTimeout(() => {
      if (peer === undefined) refuse("no handshake in time");
    }, this.#options.handshakeTimeoutMs ?? 3_000);
    socket.on("close", () => clearTimeout(timer));
    socket.write(encodeFrame(
      FrameType.Challenge,
      0,
      new PayloadWriter().u8(PEER_PROTOCOL_VERSION).text(this.#options.nodeId).bytes(challenge)
        .finish(),
    ));

    // Until the peer proved the world secret, nothing larger than a handshake frame is read.
    decoder.limit(HANDSHAKE_FRAME_BYTES_MAX);
    const drain = () => {
      try {
        for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) {
          if (peer !== undefined) {
            this.#serve(socket, peer, frame, streams);
          } else if (frame.type === FrameType.Auth && !authenticating) {
            authenticating = true;
            socket.pause();
            void this.#authenticate(frame, challenge).then((result) => {
              if (typeof result === "string") return refuse(result);
              peer = result.id;
              clearTimeout(timer);
              this.#stats.linksAccepted++;
              decoder.limit(FRAME_BYTES_MAX);
              socket.write(encodeFrame(FrameType.AuthOk, 0, result.answer));
              socket.resume();
              log.info("peer link from node {peer} accepted", { peer });
              drain();
            });
            return; // nothing else is read until the proof is checked
          } else {
            throw new PeerProtocolError(`frame type ${frame.type} before authentication`);
          }
        }
      } catch (error) {
        refuse(error instanceof PeerProtocolError ? error.message : String(error));
      }
    };
    socket.on("data", (chunk: Uint8Array) => {
      if (refused) return;
      decoder.push(chunk);
      if (peer !== undefined || !authenticating) drain();
    });
  }

  async #authenticate(
    frame: Frame,
    challenge: Uint8Array,
  ): Promise<{ id: string; answer: Uint8Array } | string> {
    try {
      const r = new PayloadReader(frame.payload);
      const id = r.text();
      r.text(); // rack: informational
      const theirChallenge = r.bytes();
      const mac = r.bytes();
      r.end();
      if (theirChallenge.length !== 32) return "bad challenge";
      const expected = await proof(this.#options.secret, "auth", [
        challenge,
        theirChallenge,
        id,
        this.#options.nodeId,
      ]);
      if (!sameProof(mac, expected)) return "authentication failed";
      const answer = await proof(this.#options.secret, "ok", [
        theirChallenge,
        challenge,
        this.#options.nodeId,
        id,
      ]);
      return { id, answer: new PayloadWriter().bytes(answer).finish() };
    } catch (error) {
      return error instanceof PeerProtocolError ? error.message : "malformed authentication";
    }
  }

  #serve(socket: net.Socket, peer: string, frame: Frame, streams: Map<number, PeerStream>): void {
    const r = new PayloadReader(frame.payload);
    const reply = (status: number, bytes: Uint8Array, placement?: Placement) => {
      if (socket.destroyed) return;
      const w = new PayloadWriter().u8(status).bytes(bytes);
      // A write's answer says where the log put it, so the asking connection reads it after.
      if (status === 0) {
        if (placement === undefined) w.u8(0);
        else w.u8(1).u32(placement.partition).f64(placement.offset);
      }
      socket.write(encodeFrame(FrameType.Reply, frame.id, w.finish()));
    };
    const error = (message: string) => reply(1, new TextEncoder().encode(message));
    switch (frame.type) {
      case FrameType.Ping: {
        const sentAt = r.f64();
        r.end();
        socket.write(encodeFrame(
          FrameType.Pong,
          frame.id,
          new PayloadWriter().f64(sentAt).u8(this.#service.flags()).finish(),
        ));
        return;
      }
      case FrameType.Read: {
        const db = r.u16();
        const protocol = protocolOf(r.u8());
        const request = r.bytes();
        const need = new Map<number, number>();
        for (let n = r.u32(); n > 0; n--) need.set(r.u32(), r.f64());
        r.end();
        this.#service.read(db, protocol, request, need).then(
          (result) => ("reply" in result ? reply(0, result.reply) : error(result.error)),
          (e: unknown) => error(String(e)),
        );
        return;
      }
      case FrameType.Write: {
        const db = r.u16();
        const protocol = protocolOf(r.u8());
        const transaction = r.u8() === 1;
        const count = r.u32();
        const commands: Uint8Array[][] = [];
        for (let c = 0; c < count; c++) {
          const argc = r.u32();
          const argv: Uint8Array[] = [];
          for (let i = 0; i < argc; i++) argv.push(r.bytes());
          commands.push(argv);
        }
        r.end();
        this.#service.write(db, protocol, transaction, commands).then(
          ({ reply: bytes, placement }) => reply(0, bytes, placement),
          (e: unknown) => error(String(e)),
        );
        return;
      }
      case FrameType.Raft:
        this.#service.raft(peer, frame.payload.slice());
        return;
      case FrameType.Propose: {
        const group = r.text();
        const data = r.bytes().slice();
        r.end();
        this.#service.propose(group, data).then(
          (failure) => (failure === undefined ? reply(0, new Uint8Array(0)) : error(failure)),
          (e: unknown) => error(String(e)),
        );
        return;
      }
      case FrameType.Outcomes:
      case FrameType.OutcomeRecords:
      case FrameType.DataDigest:
      case FrameType.DataHint:
        this.#service.divergence(frame.type, frame.payload.slice()).then(
          (bytes) => reply(0, bytes),
          (e: unknown) => error(String(e)),
        );
        return;
      case FrameType.HandBack: {
        const opId = r.text();
        const bytes = r.bytes();
        r.end();
        this.#service.handBack(opId, bytes);
        return;
      }
      case FrameType.SnapshotRequest: {
        if (this.#service.snapshot === undefined) return error("this node serves no snapshots");
        if (streams.has(frame.id)) {
          throw new PeerProtocolError(`snapshot request ${frame.id} asked twice on one link`);
        }
        const id = frame.id;
        let ended = false;
        const link: StreamLink = {
          send: (type, head, body) => {
            if (socket.destroyed || ended) return false;
            socket.write(encodeFrameWith(type, id, head, body ?? new Uint8Array(0)));
            return socket.writableLength <= STREAM_SOCKET_BYTES_MAX;
          },
          onDrain: (fn) => socket.once("drain", fn),
          end: (answer) => {
            if (ended) return;
            ended = true;
            streams.delete(id);
            if ("ok" in answer) reply(0, answer.ok);
            else error(answer.error);
          },
          get closed() {
            return socket.destroyed;
          },
        };
        const served = this.#service.snapshot(peer, frame.payload.slice(), link);
        if (typeof served === "string") return link.end({ error: served });
        if (!ended) streams.set(id, served);
        return;
      }
      case FrameType.SnapshotCredit: {
        const id = r.u32();
        const bytes = r.u32();
        r.end();
        streams.get(id)?.credit(bytes);
        return;
      }
      case FrameType.SnapshotCancel: {
        const id = r.u32();
        r.end();
        const stream = streams.get(id);
        streams.delete(id);
        stream?.cancel();
        return;
      }
      default:
        throw new PeerProtocolError(`unexpected frame type ${frame.type} from node ${peer}`);
    }
  }
}

function protocolOf(n: number): Protocol {
  if (n !== 2 && n !== 3) throw new PeerProtocolError(`protocol ${n} is not 2 or 3`);
  return n;
}
