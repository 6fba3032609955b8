/**
 * One connection to a Kafka broker: size-prefixed requests with a v1 header
 * (api key, version, correlation id, client id), responses matched by
 * correlation id, each with a deadline. Any failure fails every request in
 * flight and closes the connection; the caller opens a new one.
 */

import type * as net from "node:net";
import { openSocket } from "../../net/transport.ts";
import type { TlsMaterial } from "../../net/tls.ts";
import { describe, type HostPort } from "../../net/address.ts";
import { KafkaReader, KafkaWriter } from "./wire.ts";

/** A broker that could not be reached, or a connection that broke. */
export class KafkaConnectionError extends Error {
  override name = "KafkaConnectionError";
}

/** Largest response accepted: a fetch of the largest record plus framing. */
const RESPONSE_BYTES_MAX = 256 * 1024 * 1024;

interface InFlight {
  resolve: (body: KafkaReader) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** A connection to one broker. */
export class KafkaConnection {
  readonly address: HostPort;
  #socket: net.Socket;
  #clientId: string;
  #nextId = 1;
  #inFlight = new Map<number, InFlight>();
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #closed = false;

  private constructor(socket: net.Socket, options: { address: HostPort; clientId: string }) {
    this.address = options.address;
    this.#socket = socket;
    this.#clientId = options.clientId;
    // Plain views: record values handed on must not be Buffers.
    socket.on(
      "data",
      (chunk: Uint8Array) =>
        this.#receive(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)),
    );
    socket.on("error", (e: Error) => this.#fail(`${this.#where()}: ${e.message}`));
    socket.on("close", () => this.#fail(`${this.#where()}: connection closed`));
  }

  /** Connects within `timeoutMs`, over TLS when `secure` is given. */
  static connect(
    address: HostPort,
    clientId: string,
    timeoutMs: number,
    secure?: TlsMaterial,
  ): Promise<KafkaConnection> {
    return new Promise((resolve, reject) => {
      const { socket, ready } = openSocket(address, secure === undefined ? {} : { tls: secure });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new KafkaConnectionError(`${describe(address)}: connect timed out`));
      }, timeoutMs);
      const onError = (e: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new KafkaConnectionError(`${describe(address)}: ${e.message}`));
      };
      socket.once("error", onError);
      socket.once(ready, () => {
        clearTimeout(timer);
        socket.off("error", onError);
        resolve(new KafkaConnection(socket, { address, clientId }));
      });
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends a request; resolves with the response body (after the correlation id). */
  request(
    apiKey: number,
    version: number,
    body: Uint8Array,
    timeoutMs: number,
  ): Promise<KafkaReader> {
    if (this.#closed) {
      return Promise.reject(new KafkaConnectionError(`${this.#where()}: connection closed`));
    }
    const id = this.#nextId++;
    const header = new KafkaWriter().int16(apiKey).int16(version).int32(id).string(this.#clientId)
      .finish();
    const size = new KafkaWriter().int32(header.length + body.length).finish();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#fail(`${this.#where()}: no answer to request ${apiKey} within ${timeoutMs} ms`);
      }, timeoutMs);
      this.#inFlight.set(id, { resolve, reject, timer });
      this.#socket.write(size);
      this.#socket.write(header);
      this.#socket.write(body);
    });
  }

  close(): void {
    this.#fail(`${this.#where()}: closed`);
  }

  #where(): string {
    return `Kafka broker ${describe(this.address)}`;
  }

  #receive(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    while (this.#buffered >= 4) {
      const head = this.#peek(4);
      const size = new DataView(head.buffer, head.byteOffset, 4).getInt32(0);
      if (size < 4 || size > RESPONSE_BYTES_MAX) {
        this.#fail(`${this.#where()}: response of ${size} bytes`);
        return;
      }
      if (this.#buffered < 4 + size) return;
      const frame = this.#take(4 + size).subarray(4);
      const reader = new KafkaReader(frame);
      const id = reader.int32();
      const waiting = this.#inFlight.get(id);
      if (waiting === undefined) {
        this.#fail(`${this.#where()}: response to unknown request ${id}`);
        return;
      }
      this.#inFlight.delete(id);
      clearTimeout(waiting.timer);
      waiting.resolve(reader);
    }
  }

  #peek(n: number): Uint8Array {
    const first = this.#chunks[0]!;
    if (first.length >= n) return first;
    const out = this.#take(n);
    this.#chunks.unshift(out);
    this.#buffered += n;
    return out;
  }

  #take(n: number): Uint8Array {
    const first = this.#chunks[0]!;
    if (first.length === n) {
      this.#chunks.shift();
      this.#buffered -= n;
      return first;
    }
    if (first.length > n) {
      this.#chunks[0] = first.subarray(n);
      this.#buffered -= n;
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const chunk = this.#chunks[0]!;
      const part = Math.min(chunk.length, n - at);
      out.set(chunk.subarray(0, part), at);
      at += part;
      if (part === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(part);
    }
    this.#buffered -= n;
    return out;
  }

  #fail(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.destroy();
    const error = new KafkaConnectionError(reason);
    for (const waiting of this.#inFlight.values()) {
      clearTimeout(waiting.timer);
      waiting.reject(error);
    }
    this.#inFlight.clear();
    this.#chunks = [];
    this.#buffered = 0;
  }
}
