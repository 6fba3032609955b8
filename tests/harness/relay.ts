/**
 * A fault-injecting TCP relay for partition tests: it forwards connections
 * from its own loopback port to a target and can be cut (every connection
 * through it is dropped and new ones are refused at once) and healed.
 * Put one in front of each directed node pair to partition a node.
 */

import * as net from "node:net";
import { freePort } from "./ports.ts";

/** One relay. */
export class Relay implements AsyncDisposable {
  readonly port: number;
  readonly target: { host: string; port: number };
  #server: net.Server;
  #sockets = new Set<net.Socket>();
  #cut = false;

  private constructor(port: number, target: { host: string; port: number }) {
    this.port = port;
    this.target = target;
    this.#server = net.createServer((client) => this.#accept(client));
  }

  /** Starts relaying `127.0.0.1:<free port>` to `target`. */
  static async start(target: { host: string; port: number }): Promise<Relay> {
    const relay = new Relay(freePort(), target);
    await new Promise<void>((resolve, reject) => {
      relay.#server.once("error", reject);
      relay.#server.listen(relay.port, "127.0.0.1", () => resolve());
    });
    return relay;
  }

  /** `127.0.0.1:<port>` to give nodes instead of the target's address. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Drops every connection and refuses new ones until {@linkcode heal}. */
  cut(): void {
    this.#cut = true;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  /** Lets connections through again. */
  heal(): void {
    this.#cut = false;
  }

  /**
   * Lets at most `bytesPerSecond` through from the target to each client
   * (undefined: no limit): a slow link, which TCP pushes back on the target.
   */
  limit(bytesPerSecond: number | undefined): void {
    this.#bytesPerSecond = bytesPerSecond;
  }

  #bytesPerSecond: number | undefined;

  /**
   * The next request a client sends still reaches the target, but its answer
   * never comes back: `settleMs` later every connection is dropped and the
   * relay stays cut until {@linkcode heal}. A server that did the work and
   * whose answer was lost, as a broker that wrote a batch and then failed.
   */
  loseNextAnswer(settleMs = 300): Promise<void> {
    const fired = Promise.withResolvers<void>();
    this.#onRequest = () => {
      this.#onRequest = undefined;
      this.#mute = true;
      setTimeout(() => {
        this.cut();
        this.#mute = false;
        fired.resolve();
      }, settleMs);
    };
    return fired.promise;
  }

  #onRequest: (() => void) | undefined;
  /** While set, nothing from the target reaches clients. */
  #mute = false;

  #accept(client: net.Socket): void {
    if (this.#cut) {
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: this.target.host, port: this.target.port });
    this.#sockets.add(client);
    this.#sockets.add(upstream);
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.#sockets.delete(client);
      this.#sockets.delete(upstream);
    };
    client.on("error", close);
    upstream.on("error", close);
    client.on("close", close);
    upstream.on("close", close);
    client.on("data", (chunk: Uint8Array) => {
      upstream.write(chunk);
      this.#onRequest?.();
    });
    // The time from which the link is free again, at the limited rate.
    let freeAt = performance.now();
    upstream.on("data", (chunk: Uint8Array) => {
      if (this.#mute) return;
      client.write(chunk);
      const rate = this.#bytesPerSecond;
      if (rate === undefined) return;
      freeAt = Math.max(freeAt, performance.now()) + (chunk.length / rate) * 1000;
      const wait = freeAt - performance.now();
      if (wait > 5) {
        upstream.pause();
        setTimeout(() => upstream.resume(), wait);
      }
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
