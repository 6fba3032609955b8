/**
 * How Pylon reaches a Redis or Sentinel server: plain TCP or TLS (with a CA
 * to trust and, for mutual TLS, a client certificate), and the credentials it
 * authenticates with (`AUTH [user] password`) before anything else. Every
 * connection Pylon opens to the rack's Redis or its Sentinels goes through
 * here, so none of them can forget either.
 */

import * as net from "node:net";
import * as tls from "node:tls";
import type { HostPort } from "../config.ts";

/** TLS material, PEM text (read from files at start). */
export interface TlsMaterial {
  /** CA certificates to trust (undefined: the system's). */
  ca?: string;
  /** A client certificate and its key, for servers that verify clients. */
  cert?: string;
  key?: string;
}

/** How to reach one kind of server. */
export interface RedisAccess {
  username?: string;
  password?: string;
  /** Undefined: plain TCP. */
  tls?: TlsMaterial;
}

/** Plain TCP, no credentials. */
export const OPEN_ACCESS: RedisAccess = {};

/** Opens a socket to `address`; `ready` is the event that says it can carry commands. */
export function openSocket(
  address: HostPort,
  access: RedisAccess,
): { socket: net.Socket; ready: "connect" | "secureConnect" } {
  if (access.tls === undefined) {
    const socket = net.connect({ host: address.host, port: address.port });
    socket.setNoDelay(true);
    return { socket, ready: "connect" };
  }
  const socket = tls.connect({
    host: address.host,
    port: address.port,
    ...(net.isIP(address.host) ? {} : { servername: address.host }),
    ...(access.tls.ca === undefined ? {} : { ca: access.tls.ca }),
    ...(access.tls.cert === undefined ? {} : { cert: access.tls.cert }),
    ...(access.tls.key === undefined ? {} : { key: access.tls.key }),
  });
  socket.setNoDelay(true);
  return { socket, ready: "secureConnect" };
}

/** `AUTH [user] password` for `access`, or undefined when it has no password. */
export function authArgs(access: RedisAccess): string[] | undefined {
  if (access.password === undefined) return undefined;
  return access.username === undefined
    ? ["AUTH", access.password]
    : ["AUTH", access.username, access.password];
}
