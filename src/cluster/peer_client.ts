/**
 * The dialing side of a peer link: connects to one configured peer, checks
 * that it is the node it should be and that it knows the world secret, proves
 * this node's knowledge of it, then probes the round trip every second and
 * carries this node's requests (forwarded reads and writes, reply
 * hand-backs). Reconnects with backoff when the link breaks.
 */

import * as net from "node:net";
import * as tls from "node:tls";
import type { PeerTls } from "../config/types.ts";
import { getLogger } from "@logtape/logtape";
import { describe, type HostPort } from "../net/address.ts";
import {
  encodeFrame,
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
import { Backoff, backoffSchedule } from "../backoff.ts";

const log = getLogger(["pylon", "cluster", "peer"]);

/** A configured peer node. */
export interface PeerAddress {
  id: string;
  rack: string;
  address: HostPort;
}

/** This node, as it presents itself to peers. */
export interface PeerSelf {
  id: string;
  rack: string;
  secret: string;
  /** Mutual TLS for the links: this node's certificate and the world's CA. */
  tls?: PeerTls;
}

/** A request that failed because the link is down or broke. */
export class PeerUnavailable extends Error {
  override name = "PeerUnavailable";
}

/** Delays between attempts to dial the peer again after the link broke or could not open. */
const RECONNECT = backoffSchedule("peer link", [100, 250, 500, 1_000, 2_000]);
const PROBE_INTERVAL_MS = 1_000;

interface Waiting {
  resolve: (frame: Frame) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
  /** Frames of a streamed answer (SnapshotData) before its Reply. */
  partial?: (frame: Frame) => void;
}

/** One outgoing link to a peer, kept up. */
export class PeerClient {
  readonly peer: PeerAddress;
  #self: PeerSelf;
  #socket: net.Socket | undefined;
  #up = false;
  #stopped = false;
  #nextId = 1;
  #waiting = new Map<number, Waiting>();
  #reconnect = new Backoff(RECONNECT);
  #probeTimer: ReturnType<typeof setInterval> | undefined;
  /** Smoothed round trip, once measured. */
  rttMs: number | undefined;
  /** The peer's state flags from its last probe answer. */
  flags = 0;
  lastError: string | undefined;
  /** Probes answered and lost, for health. */
  probesAnswered = 0;
  probesMissed = 0;

  /** What the link is for, when not the shared one (a rebuild's own link): named in its logs. */
  readonly purpose: string | undefined;

  constructor(peer: PeerAddress, self: PeerSelf, options: { purpose?: string } = {}) {
    this.peer = peer;
    this.#self = self;
    this.purpose = options.purpose;
  }

  /** Whether the link is authenticated and open. */
  get up(): boolean {
    return this.#up;
  }

  start(): void {
    this.#connect();
    this.#probeTimer = setInterval(() => this.#probe(), PROBE_INTERVAL_MS);
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#probeTimer);
    this.#socket?.destroy();
  }

  /**
   * Sends a request frame; resolves with the peer's answer or rejects within
   * `timeoutMs`. A streamed answer's frames before it go to `partial`.
   */
  request(
    type: number,
    payload: Uint8Array,
    timeoutMs: number,
    partial?: (frame: Frame) => void,
  ): Promise<Frame> {
    const socket = this.#socket;
    if (!this.#up || socket === undefined) {
      return Promise.reject(new PeerUnavailable(`peer ${this.peer.id} is not connected`));
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new PeerUnavailable(`peer ${this.peer.id} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(id, {
        resolve,
        reject,
        timer,
        ...(partial === undefined ? {} : { partial }),
      });
      socket.write(encodeFrame(type, id, payload));
    });
  }

  /** Sends a one-way frame; false when the link is down. */
  send(type: number, payload: Uint8Array): boolean {
    if (!this.#up || this.#socket === undefined) return false;
    this.#socket.write(encodeFrame(type, 0, payload));
    return true;
  }

  #probe(): void {
    if (!this.#up) return;
    this.request(FrameType.Ping, new PayloadWriter().f64(performance.now()).finish(), 2_000).then(
      (frame) => {
        const r = new PayloadReader(frame.payload);
        const sentAt = r.f64();
        this.flags = r.u8();
        const rtt = performance.now() - sentAt;
        this.rttMs = this.rttMs === undefined ? rtt : this.rttMs * 0.7 + rtt * 0.3;
        this.probesAnswered++;
      },
      () => {
        this.probesMissed++;
      },
    );
  }

  #connect(): void {
    if (this.#stopped) return;
    const tlsMaterial = this.#self.tls;
    // With TLS the CA vouches for the certificate and the HMAC proof for the node id, so the
    // name in the certificate need not match the address the peer was reached at.
    const socket: net.Socket = tlsMaterial === undefined
      ? net.connect({ host: this.peer.address.host, port: this.peer.address.port })
      : tls.connect({
        host: this.peer.address.host,
        port: this.peer.address.port,
        ...tlsMaterial,
        checkServerIdentity: () => undefined,
      });
    this.#socket = socket;
    socket.setNoDelay(true);
    // Until the peer proved the world secret, nothing larger than a handshake frame is read.
    const decoder = new FrameDecoder(HANDSHAKE_FRAME_BYTES_MAX);
    let ourChallenge: Uint8Array | undefined;
    let theirChallenge: Uint8Array | undefined;
    const fail = (why: string) => {
      this.lastError = why;
      socket.destroy();
    };
    socket.on("data", (chunk: Uint8Array) => {
      decoder.push(chunk);
      try {
        for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) {
          if (this.#up && this.#socket === socket) {
            this.#answer(frame);
          } else if (frame.type === FrameType.Challenge && ourChallenge === undefined) {
            const r = new PayloadReader(frame.payload);
            const version = r.u8();
            const id = r.text();
            theirChallenge = r.bytes();
            r.end();
            if (version !== PEER_PROTOCOL_VERSION) return fail(`peer speaks protocol ${version}`);
            if (id !== this.peer.id) {
              return fail(
                `node at ${describe(this.peer.address)} is '${id}', not '${this.peer.id}'`,
              );
            }
            const challenge = crypto.getRandomValues(new Uint8Array(32));
            ourChallenge = challenge;
            void proof(this.#self.secret, "auth", [theirChallenge, challenge, this.#self.id, id])
              .then((mac) => {
                socket.write(encodeFrame(
                  FrameType.Auth,
                  0,
                  new PayloadWriter().text(this.#self.id).text(this.#self.rack).bytes(challenge)
                    .bytes(mac).finish(),
                ));
              });
          } else if (
            frame.type === FrameType.AuthOk && ourChallenge !== undefined &&
            theirChallenge !== undefined
          ) {
            const answer = new PayloadReader(frame.payload).bytes();
            const mine = ourChallenge;
            const theirs = theirChallenge;
            socket.pause();
            void proof(this.#self.secret, "ok", [mine, theirs, this.peer.id, this.#self.id]).then(
              (expected) => {
                if (!sameProof(answer, expected)) {
                  return fail("peer could not prove the world secret");
                }
                decoder.limit(FRAME_BYTES_MAX);
                this.#up = true;
                this.#reconnect.reset();
                this.lastError = undefined;
                log.info("peer link to node {peer} ({rack}) is up{purpose}", {
                  peer: this.peer.id,
                  rack: this.peer.rack,
                  purpose: this.purpose === undefined ? "" : `, for ${this.purpose}`,
                });
                socket.resume();
                this.#probe();
              },
            );
          } else if (frame.type === FrameType.Refused) {
            return fail(`refused: ${new PayloadReader(frame.payload).text()}`);
          } else {
            throw new PeerProtocolError(`unexpected frame type ${frame.type} during the handshake`);
          }
        }
      } catch (error) {
        fail(error instanceof Error ? error.message : String(error));
      }
    });
    socket.on("error", (error: Error) => {
      this.lastError = error.message;
    });
    socket.on("close", () => {
      if (this.#socket !== socket) return;
      if (this.#up && this.purpose === undefined) {
        log.warning("peer link to node {peer} is down", { peer: this.peer.id });
      }
      this.#up = false;
      for (const [id, w] of this.#waiting) {
        clearTimeout(w.timer);
        w.reject(new PeerUnavailable(`link to peer ${this.peer.id} broke`));
        this.#waiting.delete(id);
      }
      if (this.#stopped) return;
      const delay = this.#reconnect.next()!;
      setTimeout(() => this.#connect(), delay);
    });
  }

  #answer(frame: Frame): void {
    if (frame.type === FrameType.Refused) {
      this.lastError = new PayloadReader(frame.payload).text();
      this.#socket?.destroy();
      return;
    }
    const waiting = this.#waiting.get(frame.id);
    if (waiting === undefined) return;
    if (waiting.partial !== undefined && frame.type === FrameType.SnapshotData) {
      return waiting.partial(frame);
    }
    this.#waiting.delete(frame.id);
    clearTimeout(waiting.timer);
    waiting.resolve(frame);
  }
}
