/** Working with raw reply frames (as {@linkcode ReplyFramer} returns them) without decoding values. */

import { findCrlf, parseDecimal } from "./chunk_buffer.ts";
import { ReplyFramer } from "./reply_framer.ts";

/**
 * The element frames of an array frame (`*n` or RESP3 `~n`/`>n`), each the
 * exact bytes Redis sent; `null` for a null reply (`*-1`, `_`). Throws on
 * anything else.
 */
export function arrayItems(frame: Uint8Array): Uint8Array[] | null {
  const type = frame[0];
  if (type === 95) return null;
  if (type !== 42 && type !== 126 && type !== 62) {
    throw new Error(`Expected an array reply, got '${String.fromCharCode(type ?? 0)}'`);
  }
  const crlf = findCrlf(frame, 1);
  const count = crlf < 0 ? undefined : parseDecimal(frame, 1, crlf);
  if (count === undefined) throw new Error("Malformed array header");
  if (count === -1) return null;
  const framer = new ReplyFramer();
  framer.push(frame.subarray(crlf + 2));
  const items: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const item = framer.next();
    if (item === undefined) throw new Error(`Array frame holds ${i} of ${count} elements`);
    items.push(item);
  }
  if (framer.midReply) throw new Error("Array frame has trailing bytes");
  return items;
}

/**
 * The frames of a RESP3 map (`%n`), key and value alternating; undefined for
 * anything else or a map cut short.
 */
export function mapItems(frame: Uint8Array): Uint8Array[] | undefined {
  if (frame[0] !== 0x25) return undefined;
  const crlf = findCrlf(frame, 1);
  const count = crlf < 0 ? undefined : parseDecimal(frame, 1, crlf);
  if (count === undefined || count < 0) return undefined;
  const framer = new ReplyFramer();
  framer.push(frame.subarray(crlf + 2));
  const items: Uint8Array[] = [];
  for (let i = 0; i < 2 * count; i++) {
    const item = framer.next();
    if (item === undefined) return undefined;
    items.push(item);
  }
  return items;
}

/** `-...` or RESP3 `!...`: an error reply. */
export function isErrorFrame(frame: Uint8Array): boolean {
  return frame[0] === 45 || frame[0] === 33;
}

/** The text of a simple string, error or bulk frame (for logs and checks). */
export function frameText(frame: Uint8Array): string {
  const type = frame[0];
  const crlf = findCrlf(frame, 1);
  if (type === 36 || type === 33) {
    const length = parseDecimal(frame, 1, crlf);
    if (length === undefined || length < 0) return "";
    return new TextDecoder().decode(frame.subarray(crlf + 2, crlf + 2 + length));
  }
  return new TextDecoder().decode(frame.subarray(1, crlf < 0 ? frame.length : crlf));
}

/** The payload of a bulk frame (binary-safe), or undefined for null and non-bulk frames. */
export function bulkPayload(frame: Uint8Array): Uint8Array | undefined {
  if (frame[0] !== 36) return undefined;
  const crlf = findCrlf(frame, 1);
  const length = parseDecimal(frame, 1, crlf);
  if (length === undefined || length < 0) return undefined;
  return frame.subarray(crlf + 2, crlf + 2 + length);
}
