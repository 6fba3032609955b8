/**
 * Network addresses: the `host:port` pair every listener and every client of
 * Pylon names, how it is read from text and how it is written in messages.
 * A leaf: it imports nothing of the project, so any layer can use it.
 */

/** A `host:port` pair. */
export interface HostPort {
  host: string;
  port: number;
}

/** Text that is not a `host:port`, worded for the operator (the caller names the option). */
export class AddressError extends Error {
  override name = "AddressError";
}

/** Parses `host:port` (an IPv6 host in brackets); `what` names the option in errors. */
export function parseHostPort(text: string, what: string): HostPort {
  const match = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(text.trim());
  if (match === null) throw new AddressError(`${what} must be host:port, got '${text}'`);
  const port = Number(match[2]);
  if (port < 1 || port > 65535) throw new AddressError(`${what} has port ${port} outside 1-65535`);
  const host = match[1]!.startsWith("[") ? match[1]!.slice(1, -1) : match[1]!;
  return { host, port };
}

/** `host:port` for messages and comparisons (an IPv6 host without brackets, as Node reports it). */
export function describe(address: HostPort): string {
  return `${address.host}:${address.port}`;
}
