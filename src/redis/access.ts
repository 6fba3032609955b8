/**
 * How Pylon reaches a Redis or Sentinel server: plain TCP or TLS (with a CA
 * to trust and, for mutual TLS, a client certificate), and the credentials it
 * authenticates with (`AUTH [user] password`) before anything else. Every
 * connection Pylon opens to the rack's Redis or its Sentinels goes through
 * here, so none of them can forget either.
 */

import type { TlsMaterial } from "../net/tls.ts";

export { openSocket } from "../net/transport.ts";

/** How to reach one kind of server. */
export interface RedisAccess {
  username?: string;
  password?: string;
  /** Undefined: plain TCP. */
  tls?: TlsMaterial;
}

/** Plain TCP, no credentials. */
export const OPEN_ACCESS: RedisAccess = {};

/** `AUTH [user] password` for `access`, or undefined when it has no password. */
export function authArgs(access: RedisAccess): string[] | undefined {
  if (access.password === undefined) return undefined;
  return access.username === undefined
    ? ["AUTH", access.password]
    : ["AUTH", access.username, access.password];
}
