/**
 * Opening a TCP connection, plain or TLS, the one way every client Pylon
 * runs (to Redis, Sentinel, Kafka) does it: Nagle off, the CA to trust and
 * an optional client certificate for mutual TLS.
 */

import * as net from "node:net";
import * as tls from "node:tls";
import type { HostPort } from "./address.ts";
import type { TlsMaterial } from "./tls.ts";

/** Opens a socket to `address`; `ready` is the event that says it can carry commands. */
export function openSocket(
  address: HostPort,
  access: { tls?: TlsMaterial | undefined },
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
