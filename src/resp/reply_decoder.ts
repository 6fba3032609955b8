/**
 * Decodes RESP2 and RESP3 values into {@linkcode RespValue}s: every type,
 * resumable at any byte boundary, bounded by {@linkcode RespLimits}. Used for
 * Pylon's own traffic with Redis and Sentinel, not for forwarded replies.
 */

import { ChunkBuffer, parseDecimal } from "./chunk_buffer.ts";
import { DEFAULT_LIMITS, ProtocolError, type RespLimits } from "./protocol_error.ts";
import type { RespValue } from "./value.ts";

type AggregateKind = "array" | "set" | "push" | "map" | "attribute";

interface Frame {
  kind: AggregateKind;
  remaining: number;
  items: RespValue[];
}

const latin1 = new TextDecoder("latin1");
const utf8 = new TextDecoder();

/** Streaming decoder of RESP values. */
export class ReplyDecoder {
  readonly limits: RespLimits;
  #in = new ChunkBuffer();
  #stack: Frame[] = [];
  /** Type byte and length of the bulk being read; length -1 when none. */
  #bulkType = 0;
  #bulkLen = -1;
  #valueBytes = 0;

  constructor(limits: Partial<RespLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** Feeds received bytes (kept by reference). */
  push(chunk: Uint8Array): void {
    this.#in.push(chunk);
  }

  /** Whether a value has started but not finished. */
  get midValue(): boolean {
    return this.#stack.length > 0 || this.#bulkLen >= 0 || this.#in.available > 0;
  }

  /** The next complete value, or undefined until more bytes arrive. Throws {@linkcode ProtocolError}. */
  next(): RespValue | undefined {
    const input = this.#in;
    while (true) {
      if (this.#bulkLen >= 0) {
        if (!input.ensure(this.#bulkLen + 2)) return undefined;
        const payload = input.buf.subarray(input.pos, input.pos + this.#bulkLen);
        if (
          input.buf[input.pos + this.#bulkLen] !== 13 ||
          input.buf[input.pos + this.#bulkLen + 1] !== 10
        ) {
          throw new ProtocolError("Protocol error: bulk payload not followed by CRLF");
        }
        input.pos += this.#bulkLen + 2;
        this.#bulkLen = -1;
        const done = this.#complete(this.#bulkValue(this.#bulkType, payload));
        if (done !== undefined) return done;
        continue;
      }

      if (input.available === 0) {
        input.compact();
        return undefined;
      }
      let crlf = input.findCrlf(input.pos);
      if (crlf < 0 && input.hasQueued) {
        input.joinAll();
        crlf = input.findCrlf(input.pos);
      }
      if (crlf < 0) {
        if (input.windowBytes > this.limits.inlineBytesMax) {
          throw new ProtocolError("Protocol error: too big header line");
        }
        return undefined;
      }
      const type = input.buf[input.pos]!;
      const start = input.pos + 1;
      const line = input.buf.subarray(start, crlf);
      input.pos = crlf + 2;
      this.#account(line.length + 3);

      let value: RespValue | undefined;
      switch (type) {
        case 43: // +
          value = { type: "simple", value: utf8.decode(line) };
          break;
        case 45: // -
          value = { type: "error", value: utf8.decode(line) };
          break;
        case 58: // :
          value = { type: "integer", value: this.#bigint(line, "integer") };
          break;
        case 95: // _
          if (line.length !== 0) throw new ProtocolError("Protocol error: invalid null");
          value = { type: "null" };
          break;
        case 35: // #
          if (line.length !== 1 || (line[0] !== 116 && line[0] !== 102)) {
            throw new ProtocolError("Protocol error: invalid boolean");
          }
          value = { type: "boolean", value: line[0] === 116 };
          break;
        case 44: // ,
          value = { type: "double", value: this.#double(line) };
          break;
        case 40: // (
          value = { type: "bignum", value: this.#bigint(line, "big number") };
          break;
        case 36: // $
        case 33: // !
        case 61: { // =
          const length = this.#length(line, "bulk");
          if (length < 0) {
            if (type !== 36) throw new ProtocolError("Protocol error: invalid bulk length");
            value = { type: "bulk", value: null };
            break;
          }
          if (length > this.limits.bulkBytesMax) {
            throw new ProtocolError("Protocol error: invalid bulk length");
          }
          this.#account(length + 2);
          this.#bulkType = type;
          this.#bulkLen = length;
          continue;
        }
        case 42: // *
        case 126: // ~
        case 62: // >
        case 37: // %
        case 124: { // |
          const count = this.#length(line, "multibulk");
          if (count < 0) {
            if (type !== 42) throw new ProtocolError("Protocol error: invalid multibulk length");
            value = { type: "array", value: null };
            break;
          }
          const kind: AggregateKind = type === 42
            ? "array"
            : type === 126
            ? "set"
            : type === 62
            ? "push"
            : type === 37
            ? "map"
            : "attribute";
          const elements = kind === "map" || kind === "attribute" ? count * 2 : count;
          if (count > this.limits.arrayElementsMax) {
            throw new ProtocolError("Protocol error: invalid multibulk length");
          }
          if (elements === 0) {
            value = this.#build({ kind, remaining: 0, items: [] });
            break;
          }
          if (this.#stack.length >= this.limits.depthLevelsMax) {
            throw new ProtocolError(
              `Protocol error: nesting deeper than ${this.limits.depthLevelsMax}`,
            );
          }
          this.#stack.push({ kind, remaining: elements, items: [] });
          continue;
        }
        default:
          throw new ProtocolError(
            `Protocol error: unknown reply type '${String.fromCharCode(type)}'`,
          );
      }
      const done = this.#complete(value);
      if (done !== undefined) return done;
    }
  }

  #account(bytes: number): void {
    this.#valueBytes += bytes;
    if (this.#valueBytes > this.limits.bufferedBytesMax) {
      throw new ProtocolError(
        `Protocol error: reply larger than ${this.limits.bufferedBytesMax} bytes`,
      );
    }
  }

  #length(line: Uint8Array, kind: string): number {
    const value = parseDecimal(line, 0, line.length);
    if (value === undefined || value < -1) {
      throw new ProtocolError(`Protocol error: invalid ${kind} length`);
    }
    return value;
  }

  #bigint(line: Uint8Array, what: string): bigint {
    const text = latin1.decode(line);
    if (!/^-?\d+$/.test(text)) throw new ProtocolError(`Protocol error: invalid ${what} '${text}'`);
    return BigInt(text);
  }

  #double(line: Uint8Array): number {
    const text = latin1.decode(line);
    if (text === "inf") return Infinity;
    if (text === "-inf") return -Infinity;
    if (text === "nan" || text === "-nan") return NaN;
    const value = Number(text);
    if (text === "" || Number.isNaN(value)) {
      throw new ProtocolError(`Protocol error: invalid double '${text}'`);
    }
    return value;
  }

  #bulkValue(type: number, payload: Uint8Array): RespValue {
    if (type === 36) return { type: "bulk", value: payload };
    if (type === 33) return { type: "blob_error", value: payload };
    if (payload.length < 4 || payload[3] !== 58) {
      throw new ProtocolError("Protocol error: verbatim string without a format");
    }
    return {
      type: "verbatim",
      format: latin1.decode(payload.subarray(0, 3)),
      value: payload.subarray(4),
    };
  }

  #build(frame: Frame): RespValue {
    switch (frame.kind) {
      case "array":
      case "set":
      case "push":
        return { type: frame.kind, value: frame.items };
      case "map":
      case "attribute": {
        const entries: [RespValue, RespValue][] = [];
        for (let i = 0; i < frame.items.length; i += 2) {
          entries.push([frame.items[i]!, frame.items[i + 1]!]);
        }
        return { type: frame.kind, value: entries };
      }
    }
  }

  /** Adds a finished value to its parent; returns it when it is a whole top-level value. */
  #complete(value: RespValue): RespValue | undefined {
    let current = value;
    while (true) {
      const top = this.#stack[this.#stack.length - 1];
      if (top === undefined) {
        this.#valueBytes = 0;
        return current;
      }
      // An attribute annotates the value after it; inside an aggregate it takes no slot.
      if (current.type === "attribute") return undefined;
      top.items.push(current);
      top.remaining--;
      if (top.remaining > 0) return undefined;
      this.#stack.pop();
      current = this.#build(top);
    }
  }
}
