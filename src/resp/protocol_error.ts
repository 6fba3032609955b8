/** Limits that protect the process from hostile or broken peers, and the error raised past them. */

/** Bounds of one decoder (one connection). */
export interface RespLimits {
  /** Largest bulk string, like Redis's `proto-max-bulk-len`. */
  bulkBytesMax: number;
  /** Most elements of one array (arguments of one request, elements of one aggregate reply). */
  arrayElementsMax: number;
  /** Deepest nesting of aggregate replies. */
  depthLevelsMax: number;
  /** Most bytes one request or reply may hold while it is incomplete, like `client-query-buffer-limit`. */
  bufferedBytesMax: number;
  /** Longest inline request or header line, like Redis's `PROTO_INLINE_MAX_SIZE`. */
  inlineBytesMax: number;
}

/** Redis's defaults: 512 MiB bulks, 1 GiB query buffer, 64 KiB inline requests. */
export const DEFAULT_LIMITS: Readonly<RespLimits> = {
  bulkBytesMax: 512 * 1024 * 1024,
  arrayElementsMax: 1024 * 1024,
  depthLevelsMax: 32,
  bufferedBytesMax: 1024 * 1024 * 1024,
  inlineBytesMax: 64 * 1024,
};

/**
 * Malformed input. The message is Redis's wording (`Protocol error: ...`); the
 * connection that sent it gets `-ERR <message>` and is closed, as Redis does.
 */
export class ProtocolError extends Error {
  override name = "ProtocolError";
}
