/** Opening a connection to a Redis or Sentinel server, with a deadline, Nagle off, TLS if asked. */

import type * as net from "node:net";
import { describe, type HostPort } from "../net/address.ts";
import { openSocket, type RedisAccess } from "./access.ts";

/** A connection-level failure (refused, reset, timed out, closed). */
export class ConnectionError extends Error {
  override name = "ConnectionError";
}

/** Connects to `address`, failing with {@linkcode ConnectionError} after `timeoutMs`. */
export function connectSocket(
  address: HostPort,
  timeoutMs: number,
  access: RedisAccess = {},
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const { socket, ready } = openSocket(address, access);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ConnectionError(`${describe(address)}: connect timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const onError = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new ConnectionError(`${describe(address)}: ${error.message}`));
    };
    socket.once("error", onError);
    socket.once(ready, () => {
      clearTimeout(timer);
      socket.off("error", onError);
      resolve(socket);
    });
  });
}
