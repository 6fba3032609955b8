/** Opening a TCP connection to a Redis or Sentinel server, with a deadline and Nagle off. */

import * as net from "node:net";
import type { HostPort } from "../config.ts";
import { ConnectionError, describe } from "./client.ts";

/** Connects to `address`, failing with {@linkcode ConnectionError} after `timeoutMs`. */
export function connectSocket(address: HostPort, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address.host, port: address.port });
    socket.setNoDelay(true);
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
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.off("error", onError);
      resolve(socket);
    });
  });
}
