/** Joining byte arrays: one allocation, one copy of each part. */

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
