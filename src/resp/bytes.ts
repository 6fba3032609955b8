/** Byte arrays: joined with one allocation and one copy of each part; Node Buffers seen as plain arrays. */

/** The parts one after another in a new array (`size` is their total, when the caller knows it). */
export function concatBytes(parts: readonly Uint8Array[], size?: number): Uint8Array {
  if (parts.length === 1 && (size === undefined || size === parts[0]!.length)) return parts[0]!;
  let total = size ?? 0;
  if (size === undefined) { for (const part of parts) total += part.length; }
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * A chunk from a `node:net` socket (a Node Buffer) as a plain Uint8Array over
 * the same bytes: in Deno, Buffer's own `indexOf` is a JavaScript polyfill,
 * the typed array's is V8's builtin, and the decoders search every chunk for
 * CRLF.
 */
export function plainBytes(chunk: Uint8Array): Uint8Array {
  return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}
