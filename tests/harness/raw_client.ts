/**
 * A byte-level client for tests that send what real clients never would:
 * half commands, malformed headers, absurd lengths. Replies are decoded with
 * Pylon's own decoder; every read has a deadline.
 */

import { ReplyDecoder } from "../../src/resp/reply_decoder.ts";
import { encodeCommand } from "../../src/resp/encoder.ts";
import type { RespValue } from "../../src/resp/value.ts";

/** A reply as comparable text: bytes decoded as UTF-8, bigints written out. */
export function shown(value: RespValue): string {
  return JSON.stringify(
    value,
    (_, v) =>
      v instanceof Uint8Array ? new TextDecoder().decode(v) : typeof v === "bigint" ? String(v) : v,
  );
}

/** One raw TCP connection to a Redis-speaking server. */
export class RawClient implements AsyncDisposable {
  #conn: Deno.TcpConn;
  #decoder = new ReplyDecoder({ bulkBytesMax: 1024 * 1024 * 1024 });
  #eof = false;
  #buf = new Uint8Array(256 * 1024);

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  /** Connects to `127.0.0.1:port`. */
  static async connect(port: number): Promise<RawClient> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    return new RawClient(conn);
  }

  /** Writes bytes (a string is sent as UTF-8) exactly as given. */
  async send(data: string | Uint8Array): Promise<void> {
    let bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    while (bytes.length > 0) {
      const n = await this.#conn.write(bytes);
      bytes = bytes.subarray(n);
    }
  }

  /** Sends a command and reads its reply (30 s deadline). */
  async call(...argv: (string | Uint8Array)[]): Promise<RespValue> {
    await this.command(...argv);
    return await this.read(30_000);
  }

  /** Sends a command encoded as a RESP array. */
  command(...argv: (string | Uint8Array)[]): Promise<void> {
    return this.send(encodeCommand(argv));
  }

  /** Reads the next reply; rejects at the deadline or if the server closes first. */
  async read(timeoutMs = 10_000): Promise<RespValue> {
    const value = await this.#next(timeoutMs);
    if (value === undefined) throw new Error("Connection closed before a reply");
    return value;
  }

  /** Reads replies until the server closes the connection; rejects at the deadline. */
  async readUntilClosed(timeoutMs = 10_000): Promise<RespValue[]> {
    const values: RespValue[] = [];
    const deadline = performance.now() + timeoutMs;
    while (true) {
      const value = await this.#next(Math.max(1, deadline - performance.now()));
      if (value === undefined) return values;
      values.push(value);
    }
  }

  async #next(timeoutMs: number): Promise<RespValue | undefined> {
    const deadline = performance.now() + timeoutMs;
    while (true) {
      const value = this.#decoder.next();
      if (value !== undefined) return value;
      if (this.#eof) return undefined;
      const remaining = deadline - performance.now();
      if (remaining <= 0) throw new Error(`No reply within ${timeoutMs} ms`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), remaining);
      });
      // A read cut short by close() rejects; that only means end of stream here.
      const read = this.#conn.read(this.#buf).catch(() => null);
      const result = await Promise.race([read, timeout]);
      clearTimeout(timer);
      if (result === "timeout") {
        // The pending read must end before the connection can be reused: close it.
        this.#conn.close();
        this.#eof = true;
        throw new Error(`No reply within ${timeoutMs} ms`);
      }
      if (result === null) this.#eof = true;
      else this.#decoder.push(this.#buf.slice(0, result));
    }
  }

  /** Closes the connection (again is fine). */
  close(): void {
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    this.#eof = true;
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}
