/**
 * One subscribing client's own connection to its rack's Redis. Messages are
 * published into every rack's Redis by its applier (PUBLISH is an op), so a
 * subscription to the local Redis receives what was published anywhere, in
 * log order. Subscribe commands go through as the client sent them and
 * Redis's answers come back as it sent them (RESP2 subscribe mode or RESP3
 * pushes, byte for byte).
 *
 * Each client command is followed by `PING <nonce>`: every frame before the
 * nonce's reply belongs to that command (its confirmations, and messages that
 * arrived meanwhile), so replies keep the client's request order without
 * knowing how many frames a command yields. One command is in flight at a
 * time, so what the client is subscribed to is known before its next command.
 *
 * When the connection is lost (Redis restarted, Sentinel failover) with no
 * command in flight, it reconnects to the master of the moment and subscribes
 * again to everything, silently; messages applied in between are not
 * delivered (the gap lasts from the loss until the new subscription).
 */

import type * as net from "node:net";
import { getLogger } from "@logtape/logtape";
import { describe, type HostPort } from "../net/address.ts";
import { encodeCommand } from "../resp/encoder.ts";
import { ReplyFramer } from "../resp/reply_framer.ts";
import { arrayItems, bulkPayload, isErrorFrame } from "../resp/frames.ts";
import { concatBytes, plainBytes } from "../resp/bytes.ts";
import type { Protocol } from "../resp/value.ts";
import { authArgs, openSocket, type RedisAccess } from "../redis/access.ts";
import { Backoff, backoffSchedule } from "../backoff.ts";

const log = getLogger(["pylon", "pubsub"]);

/** Where and how to reach the rack's Redis master now. */
export interface SubscriberTarget {
  address(): HostPort | undefined;
  access: RedisAccess;
}

/** What a subscriber tells its client connection. */
export interface SubscriberEvents {
  /** A frame that answers no command (a message, a push): deliver it. */
  message(frame: Uint8Array): void;
  /** The subscriber can take the next command. */
  ready(): void;
  /** Lost for good (or with a command in flight): the client must be closed. */
  lost(reason: string): void;
}

/** The kinds of subscription, by the command that makes them. */
const KINDS = {
  subscribe: "channels",
  unsubscribe: "channels",
  psubscribe: "patterns",
  punsubscribe: "patterns",
  ssubscribe: "shardChannels",
  sunsubscribe: "shardChannels",
} as const;
type Kind = typeof KINDS[keyof typeof KINDS];
const SUBSCRIBE_COMMAND: Record<Kind, string> = {
  channels: "SUBSCRIBE",
  patterns: "PSUBSCRIBE",
  shardChannels: "SSUBSCRIBE",
};
const MESSAGE_KINDS = new Set(["message", "pmessage", "smessage"]);

/** Delays between reconnection attempts; past the last (the 11th), the subscriber gives up. */
const RECONNECT = backoffSchedule(
  "subscriber connection",
  [50, 100, 200, 500, 1_000, 1_000, 2_000, 2_000, 5_000, 5_000, 10_000],
  { retriesMax: 11 },
);
const CONNECT_TIMEOUT_MS = 2_000;

const latin1 = new TextDecoder("latin1");

/** Bytes as text, one character per byte (TextDecoder's "latin1" is windows-1252 and does not round-trip). */
function byteText(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return text;
}

/** The bytes of a name kept by {@linkcode byteText}. */
function latin1Bytes(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}
let nonces = 0;

/** A dedicated subscribed connection for one client. */
export class Subscriber {
  readonly protocol: Protocol;
  #target: SubscriberTarget;
  #events: SubscriberEvents;
  #socket: net.Socket | undefined;
  #framer = new ReplyFramer();
  /** Setup replies (AUTH, HELLO) still to swallow on this socket. */
  #setupReplies = 0;
  /** The command in flight: its frames so far and where they go. */
  #inFlight: { frames: Uint8Array[]; done: (reply: Uint8Array) => void } | undefined;
  /** Re-subscribing after a reconnect: confirmations are swallowed until the barrier. */
  #resubscribing = false;
  #barriers: Uint8Array[] = [];
  #nonce = "";
  #reconnect = new Backoff(RECONNECT);
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  /** What Redis confirmed this client is subscribed to. */
  readonly subscriptions: Record<Kind, Set<string>> = {
    channels: new Set(),
    patterns: new Set(),
    shardChannels: new Set(),
  };

  constructor(target: SubscriberTarget, protocol: Protocol, events: SubscriberEvents) {
    this.#target = target;
    this.protocol = protocol;
    this.#events = events;
    this.#connect();
  }

  /** A command in flight or a reconnection under way: the next command must wait. */
  get busy(): boolean {
    return this.#inFlight !== undefined || this.#resubscribing || this.#socket === undefined;
  }

  /** Channels and patterns (Redis's subscribe mode counts these and shard channels). */
  get count(): number {
    const s = this.subscriptions;
    return s.channels.size + s.patterns.size + s.shardChannels.size;
  }

  /** Sends a client's command; `done` gets every frame Redis sent for it, in order. */
  send(request: Uint8Array, done: (reply: Uint8Array) => void): void {
    if (this.busy || this.#closed) throw new Error("the subscriber is busy");
    this.#inFlight = { frames: [], done };
    this.#socket!.write(concatBytes([request, this.#barrier()]));
  }

  /** Closes the connection (the client left, unsubscribed from everything, or RESET). */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#socket?.destroy();
    this.#socket = undefined;
  }

  /** `PING <nonce>`, remembering the replies it can get (subscribe mode or not). */
  #barrier(): Uint8Array {
    this.#nonce = `pylon-barrier-${++nonces}-${crypto.randomUUID()}`;
    const bulk = `$${this.#nonce.length}\r\n${this.#nonce}\r\n`;
    const encoder = new TextEncoder();
    this.#barriers = [encoder.encode(bulk), encoder.encode(`*2\r\n$4\r\npong\r\n${bulk}`)];
    return encodeCommand(["PING", this.#nonce]);
  }

  #isBarrier(frame: Uint8Array): boolean {
    return this.#barriers.some((b) =>
      b.length === frame.length && b.every((x, i) => x === frame[i])
    );
  }

  #connect(): void {
    const address = this.#target.address();
    if (address === undefined) {
      this.#retry("no Redis master known");
      return;
    }
    const { socket, ready } = openSocket(address, this.#target.access);
    this.#socket = undefined;
    this.#framer = new ReplyFramer();
    socket.setNoDelay(true);
    socket.setTimeout(CONNECT_TIMEOUT_MS);
    socket.on("timeout", () => socket.destroy(new Error("connect timed out")));
    socket.on(ready, () => {
      socket.setTimeout(0);
      if (this.#closed) {
        socket.destroy();
        return;
      }
      this.#socket = socket;
      const out: Uint8Array[] = [];
      this.#setupReplies = 0;
      const auth = authArgs(this.#target.access);
      if (auth !== undefined) {
        out.push(encodeCommand(auth));
        this.#setupReplies++;
      }
      if (this.protocol === 3) {
        out.push(encodeCommand(["HELLO", "3"]));
        this.#setupReplies++;
      }
      const again = this.#reconnect.retries > 0 && this.count > 0;
      if (again) {
        this.#resubscribing = true;
        for (const kind of ["channels", "patterns", "shardChannels"] as const) {
          const names = [...this.subscriptions[kind]];
          if (names.length > 0) {
            out.push(encodeCommand([SUBSCRIBE_COMMAND[kind], ...names.map(latin1Bytes)]));
          }
        }
        out.push(this.#barrier());
      }
      if (out.length > 0) socket.write(concatBytes(out));
      if (again) {
        log.info("subscriber re-subscribing on {address} after {n} attempts", {
          address: describe(address),
          n: this.#reconnect.retries,
        });
      } else {
        this.#events.ready();
      }
    });
    socket.on("data", (chunk: Uint8Array) => {
      if (socket === this.#socket) this.#receive(plainBytes(chunk));
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      if (this.#closed) return;
      if (this.#socket !== undefined && socket !== this.#socket) return;
      this.#lost(`connection to ${describe(address)} closed`);
    });
  }

  #lost(reason: string): void {
    this.#socket = undefined;
    if (this.#inFlight !== undefined) {
      // The client cannot be told which of its command's effects happened.
      this.#closed = true;
      this.#events.lost(`${reason} with a subscribe command in flight`);
      return;
    }
    this.#resubscribing = false;
    this.#retry(reason);
  }

  #retry(reason: string): void {
    const delay = this.#reconnect.next();
    if (delay === undefined) {
      this.#closed = true;
      this.#events.lost(`${reason}; gave up after ${this.#reconnect.retries} attempts`);
      return;
    }
    this.#timer = setTimeout(() => {
      if (!this.#closed) this.#connect();
    }, delay);
  }

  #receive(chunk: Uint8Array): void {
    this.#framer.push(chunk);
    while (!this.#closed) {
      let frame: Uint8Array | undefined;
      try {
        frame = this.#framer.next();
      } catch (error) {
        this.#socket?.destroy();
        this.#lost(`unparseable reply: ${(error as Error).message}`);
        return;
      }
      if (frame === undefined) return;
      this.#frame(frame);
    }
  }

  #frame(frame: Uint8Array): void {
    if (this.#setupReplies > 0) {
      this.#setupReplies--;
      if (isErrorFrame(frame)) {
        this.#closed = true;
        this.#socket?.destroy();
        this.#events.lost(`Redis refused Pylon's setup: ${latin1.decode(frame).trim()}`);
      }
      return;
    }
    if (this.#isBarrier(frame)) {
      this.#barriers = [];
      if (this.#resubscribing) {
        this.#resubscribing = false;
        this.#reconnect.reset();
        this.#events.ready();
        return;
      }
      const inFlight = this.#inFlight;
      this.#inFlight = undefined;
      this.#reconnect.reset();
      inFlight?.done(concatBytes(inFlight.frames));
      this.#events.ready();
      return;
    }
    const kind = this.#track(frame);
    if (this.#resubscribing) {
      if (kind === "message") this.#events.message(frame);
      return;
    }
    if (this.#inFlight !== undefined) this.#inFlight.frames.push(frame);
    else this.#events.message(frame);
  }

  /** Follows confirmations (subscribe, unsubscribe, ...) in what is subscribed. */
  #track(frame: Uint8Array): "message" | "confirmation" | "other" {
    if (frame[0] !== 42 && frame[0] !== 62) return "other";
    let items: Uint8Array[] | null;
    try {
      items = arrayItems(frame);
    } catch {
      return "other";
    }
    if (items === null || items.length < 3) return "other";
    const name = bulkPayload(items[0]!);
    if (name === undefined) return "other";
    const word = latin1.decode(name);
    if (MESSAGE_KINDS.has(word)) return "message";
    if (!Object.hasOwn(KINDS, word)) return "other";
    const channel = bulkPayload(items[1]!);
    if (channel === undefined) return "confirmation";
    const set = this.subscriptions[KINDS[word as keyof typeof KINDS]];
    // One character per byte, so binary channel names survive the round trip.
    if (word.includes("unsubscribe")) set.delete(byteText(channel));
    else set.add(byteText(channel));
    return "confirmation";
  }
}
