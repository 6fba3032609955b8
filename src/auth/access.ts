/**
 * Who may run what: one decision for every request, from the command table's
 * entry and the connection's user, in Redis's words. Redis's rules first
 * (NOAUTH until a password is proven when the default user needs one; the
 * user's ACL rules on the command and its keys), then Pylon's one addition:
 * changing the world's membership needs a proven password, even where the
 * password-less default user may run everything else.
 */

import type { AclUser } from "./acl.ts";
import type { CommandSpec } from "../command/mod.ts";

/** The refusal of a world change from a connection that proved no password. */
export const WORLD_CHANGE_NEEDS_AUTH =
  "NOPERM changing the world's membership or a rack's data needs an authenticated user " +
  "allowed to run it " +
  "(a configured user, or 'pylon' with the world secret): AUTH first";

/** What access is decided from: the connection's user, and whether it proved a password. */
export interface Principal {
  readonly user: AclUser;
  readonly authenticated: boolean;
}

/**
 * Why `who` may not run `command` (of Pylon's `kind`) with `argv`, or
 * undefined when it may.
 */
export function accessRefusal(
  who: Principal,
  authRequired: boolean,
  command: CommandSpec,
  kind: string,
  argv: readonly Uint8Array[],
): string | undefined {
  if (!who.authenticated && authRequired) {
    return command.flags.includes("no_auth") ? undefined : "NOAUTH Authentication required.";
  }
  if (!who.user.mayRun(command)) {
    return `NOPERM this user has no permissions to run the '${command.name}' command`;
  }
  if (!who.user.mayAccessKeys(command, argv as Uint8Array[])) {
    return "NOPERM this user has no permissions to access one of the keys used as arguments";
  }
  if (kind === "world-admin" && !who.authenticated) return WORLD_CHANGE_NEEDS_AUTH;
  return undefined;
}
