/**
 * Administration of the rack's own Redis through Pylon: the commands the
 * table classes `rack-admin` (`CONFIG SET`, `CONFIG RESETSTAT`, `SLOWLOG`)
 * act on this rack's Redis alone, never on another rack's. Who may run them
 * follows Redis (src/auth/access.ts): the user's ACL rules decide, so with no
 * password configured the default user may, as on Redis, and with one it
 * must authenticate first. What no one may change through Pylon are the
 * parameters Pylon itself depends on (passwords, files, ports, TLS,
 * replication) and those of the world's contract for racks' Redis
 * (src/cluster/rack_contract.ts: they would make one rack answer an op
 * differently from the others). Test harnesses that tune a server at start run through Pylon
 * this way; FLUSHALL, SCRIPT FLUSH and FUNCTION FLUSH are world ops.
 */

import { SAME_EVERYWHERE } from "../cluster/rack_contract.ts";

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

/** CONFIG SET parameters the world's contract fixes (src/cluster/rack_contract.ts). */
const CONTRACT_PARAMETERS: ReadonlySet<string> = new Set([
  ...SAME_EVERYWHERE,
  "maxmemory-policy",
  "rename-command",
]);

const utf8 = new TextDecoder();

/**
 * Why the rack-admin command `name` (argv[0] is its container) may not run
 * with these arguments, or undefined when it may.
 */
export function rackAdminRefusal(name: string, argv: readonly Uint8Array[]): string | undefined {
  if (name !== "config|set") return undefined;
  for (let i = 2; i < argv.length; i += 2) {
    const parameter = utf8.decode(argv[i]).toLowerCase();
    if (CONTRACT_PARAMETERS.has(parameter)) {
      return `ERR command '${name}' is refused by Pylon: '${parameter}' is part of the world's ` +
        `contract for racks' Redis (PYLON WORLD): a rack with another value would apply ops ` +
        `differently from the others`;
    }
    if (PROTECTED_PARAMETERS.has(parameter) || parameter.startsWith("tls-")) {
      return `ERR command '${name}' is refused by Pylon: Pylon depends on '${parameter}' of its ` +
        `rack's Redis; change it there`;
    }
  }
  return undefined;
}
