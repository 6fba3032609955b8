/**
 * Administration of the rack's own Redis through Pylon: `CONFIG SET`,
 * `CONFIG RESETSTAT` and `SLOWLOG` act on this rack's Redis alone (never on
 * the world), so only a connection that proved a password, as a user granted
 * the command, may run them, and never on the parameters Pylon itself depends
 * on (passwords, files, ports, TLS, replication). Test harnesses that reset a
 * server between tests run through Pylon this way; FLUSHALL, SCRIPT FLUSH and
 * FUNCTION FLUSH are world ops and need none of this.
 */

import { RequestDecoder } from "../resp/request_decoder.ts";

/** Commands forwarded to the rack's own Redis for an authenticated user granted them. */
export const RACK_ADMIN_COMMANDS: ReadonlySet<string> = new Set([
  "config|set",
  "config|resetstat",
  "slowlog|get",
  "slowlog|len",
  "slowlog|reset",
]);

/** CONFIG SET parameters that would cut Pylon off from its Redis, or move its data. */
const PROTECTED_PARAMETERS: ReadonlySet<string> = new Set([
  "requirepass",
  "masterauth",
  "masteruser",
  "aclfile",
  "dir",
  "dbfilename",
  "appendfilename",
  "appenddirname",
  "databases",
  "bind",
  "bind-source-addr",
  "port",
  "protected-mode",
  "unixsocket",
  "unixsocketperm",
  "replicaof",
  "slaveof",
  "replica-read-only",
  "slave-read-only",
  "enable-debug-command",
  "enable-protected-configs",
  "enable-module-command",
]);

const utf8 = new TextDecoder();

/**
 * Why this connection may not run the rack-admin command `name` (argv[0] is
 * the container), or undefined when it may.
 */
export function rackAdminRefusal(
  name: string,
  argv: readonly Uint8Array[],
  authenticated: boolean,
): string | undefined {
  const refused = (reason: string) => `ERR command '${name}' is refused by Pylon: ${reason}`;
  if (!authenticated) {
    return refused(
      "it changes or reads this rack's own Redis; it needs a connection authenticated as a user granted it (AUTH)",
    );
  }
  if (name !== "config|set") return undefined;
  for (let i = 2; i < argv.length; i += 2) {
    const parameter = utf8.decode(argv[i]).toLowerCase();
    if (PROTECTED_PARAMETERS.has(parameter) || parameter.startsWith("tls-")) {
      return refused(`Pylon depends on '${parameter}' of its rack's Redis; change it there`);
    }
  }
  return undefined;
}

/** Whether an encoded request is a rack-admin command (a peer never runs one for another rack). */
export function isRackAdminRequest(request: Uint8Array): boolean {
  const decoder = new RequestDecoder();
  decoder.push(request);
  let argv: Uint8Array[] | undefined;
  try {
    argv = decoder.next();
  } catch {
    return false;
  }
  if (argv === undefined || argv.length < 2) return false;
  const name = `${utf8.decode(argv[0]).toLowerCase()}|${utf8.decode(argv[1]).toLowerCase()}`;
  return RACK_ADMIN_COMMANDS.has(name);
}
