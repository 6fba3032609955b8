/**
 * Who may talk to a node: the `default` user (Redis's: `on nopass ~* &*
 * +@all`, or with `requirepass` a password), the users the configuration
 * names (Redis ACL lines), and the built-in user `pylon`, whose password is
 * the world secret. Only a connection that proved a password may change the
 * world's membership (`PYLON NODE|RACK`), and only if its user's rules allow
 * it: the password-less default user never can.
 */

import { AclError, AclUser, aclWords } from "./acl.ts";

/** The reserved user whose password is the world secret. */
export const WORLD_USER = "pylon";

/** What the configuration says about users. */
export interface UsersConfig {
  /** The default user's password (`requirepass`). */
  requirepass: string | undefined;
  /** ACL lines: `<name> <rule> ...` (as in Redis's ACL file, without the leading `user`). */
  users: readonly string[];
  worldSecret: string | undefined;
}

/** The node's users. */
export class Users {
  #users = new Map<string, AclUser>();

  constructor(config: UsersConfig) {
    const fallback = new AclUser("default").apply(["on", "nopass", "~*", "&*", "+@all"]);
    this.#users.set("default", fallback);
    if (config.requirepass !== undefined) fallback.apply(["resetpass", `>${config.requirepass}`]);
    for (const line of config.users) {
      const words = aclWords(line);
      if (words[0]?.toLowerCase() === "user") words.shift();
      const [name, ...rules] = words;
      if (name === undefined) throw new AclError(`An ACL line names no user: '${line}'`);
      if (name === WORLD_USER) {
        throw new AclError(
          `The user name '${WORLD_USER}' is reserved (its password is the world secret)`,
        );
      }
      const user = this.#users.get(name) ?? new AclUser(name);
      user.apply(rules);
      this.#users.set(name, user);
    }
    if (config.worldSecret !== undefined) {
      this.#users.set(
        WORLD_USER,
        new AclUser(WORLD_USER).apply(["on", `>${config.worldSecret}`, "~*", "&*", "+@all"]),
      );
    }
  }

  /** The user connections start as. */
  get defaultUser(): AclUser {
    return this.#users.get("default")!;
  }

  /** Whether a new connection must authenticate before anything else. */
  get authRequired(): boolean {
    const user = this.defaultUser;
    return !user.enabled || !user.nopass;
  }

  /** The user `name` with `password`, or undefined (unknown, disabled, or the wrong password). */
  authenticate(name: string, password: string): AclUser | undefined {
    const user = this.#users.get(name);
    return user !== undefined && user.checkPassword(password) ? user : undefined;
  }

  get(name: string): AclUser | undefined {
    return this.#users.get(name);
  }

  /** Every user, by name. */
  list(): AclUser[] {
    return [...this.#users.values()].sort((a, b) => a.name.localeCompare(b.name));
  }
}
