/**
 * ACL users with Redis's own rule language and semantics (Redis 7.0, without
 * selectors): `on`/`off`, passwords (`>plain`, `#sha256`, `<plain`, `!sha256`,
 * `nopass`, `resetpass`), commands (`+cmd`, `-cmd`, `+cmd|sub`, `+@category`,
 * `-@category`, `allcommands`, `nocommands`), keys (`~pattern`, `%R~`,
 * `%W~`, `%RW~`, `allkeys`, `resetkeys`), channels (`&pattern`,
 * `allchannels`, `resetchannels`) and `reset`. Pure: checks take a command
 * from the table and its arguments; passwords are compared as SHA-256 hex, as
 * Redis stores them.
 */

import { createHash } from "node:crypto";
import { globMatch } from "../command/glob.ts";
import type { CommandSpec } from "../command/mod.ts";
import { commandKeysAndFlags } from "../command/keys.ts";

/** What an ACL check needs of a command (a table entry, or one of Pylon's own). */
export interface AclCommand {
  readonly name: string;
  readonly aclCategories: readonly string[];
  readonly container?: { readonly name: string };
}

/** A rule that cannot be parsed, with Redis's wording where it has one. */
export class AclError extends Error {
  override name = "AclError";
}

const READ = 1;
const WRITE = 2;

interface KeyPattern {
  pattern: string;
  flags: number;
}

/** One command rule: allow or deny, and what it matches. */
interface CommandRule {
  allow: boolean;
  /** `@all`, `@category`, `name`, or `name|sub`. */
  target: string;
}

/** An ACL user. */
export class AclUser {
  readonly name: string;
  enabled = false;
  nopass = false;
  /** SHA-256 hex of each password. */
  passwords = new Set<string>();
  #commandRules: CommandRule[] = [];
  keys: KeyPattern[] = [];
  channels: string[] = [];

  constructor(name: string) {
    this.name = name;
  }

  /** Applies rules in order, as `ACL SETUSER` does. */
  apply(rules: readonly string[]): this {
    for (const rule of rules) this.#applyOne(rule);
    return this;
  }

  #applyOne(rule: string): void {
    const lower = rule.toLowerCase();
    if (lower === "on") this.enabled = true;
    else if (lower === "off") this.enabled = false;
    else if (lower === "nopass") {
      this.nopass = true;
      this.passwords.clear();
    } else if (lower === "resetpass") {
      this.nopass = false;
      this.passwords.clear();
    } else if (rule.startsWith(">")) {
      this.passwords.add(sha256(rule.slice(1)));
      this.nopass = false;
    } else if (rule.startsWith("<")) this.passwords.delete(sha256(rule.slice(1)));
    else if (rule.startsWith("#")) {
      this.passwords.add(checkHash(rule.slice(1)));
      this.nopass = false;
    } else if (rule.startsWith("!")) this.passwords.delete(checkHash(rule.slice(1)));
    else if (lower === "allkeys") this.keys = [{ pattern: "*", flags: READ | WRITE }];
    else if (lower === "resetkeys") this.keys = [];
    else if (rule.startsWith("~")) this.keys.push({ pattern: rule.slice(1), flags: READ | WRITE });
    else if (rule.startsWith("%")) this.keys.push(parseKeyPermission(rule));
    else if (lower === "allchannels") this.channels = ["*"];
    else if (lower === "resetchannels") this.channels = [];
    else if (rule.startsWith("&")) this.channels.push(rule.slice(1));
    else if (lower === "allcommands" || lower === "+@all") {
      this.#commandRules = [{ allow: true, target: "@all" }];
    } else if (lower === "nocommands" || lower === "-@all") {
      this.#commandRules = [{ allow: false, target: "@all" }];
    } else if (rule.startsWith("+") || rule.startsWith("-")) {
      const target = lower.slice(1);
      if (target === "" || target === "@") throw new AclError(`Syntax error in ACL rule '${rule}'`);
      this.#commandRules.push({ allow: rule.startsWith("+"), target });
    } else if (lower === "reset") {
      this.#applyOne("resetpass");
      this.#applyOne("resetkeys");
      this.#applyOne("resetchannels");
      this.#applyOne("off");
      this.#applyOne("-@all");
    } else if (rule.startsWith("(")) {
      throw new AclError(`ACL selectors are not supported by Pylon: '${rule}'`);
    } else {
      throw new AclError(`Error in ACL SETUSER modifier '${rule}': Syntax error`);
    }
  }

  /** Whether `password` is one of the user's (or the user needs none). */
  checkPassword(password: string): boolean {
    if (!this.enabled) return false;
    if (this.nopass) return true;
    return this.passwords.has(sha256(password));
  }

  /** Whether the user may run `command` at all (`+cmd`, `+@category`, ...). */
  mayRun(command: AclCommand): boolean {
    let allowed = false;
    for (const rule of this.#commandRules) {
      if (matchesCommand(rule.target, command)) allowed = rule.allow;
    }
    return allowed;
  }

  /** Whether the user may touch every key `argv` names, with the access each needs. */
  mayAccessKeys(command: CommandSpec, argv: readonly Uint8Array[]): boolean {
    if (this.keys.some((k) => k.pattern === "*" && k.flags === (READ | WRITE))) return true;
    for (const { position, flags } of commandKeysAndFlags(command, argv)) {
      const key = latin1(argv[position]!);
      const needed = keyPermissions(flags);
      if (!this.keys.some((k) => (k.flags & needed) === needed && globMatch(k.pattern, key))) {
        return false;
      }
    }
    return true;
  }

  /** Whether the user may use every channel in `channels`. */
  mayUseChannels(channels: readonly Uint8Array[], patterns = false): boolean {
    if (this.channels.includes("*")) return true;
    return channels.every((c) => {
      const channel = latin1(c);
      // A pattern subscription needs that exact pattern granted, as in Redis.
      return this.channels.some((p) => patterns ? p === channel : globMatch(p, channel));
    });
  }

  /** The user as `ACL LIST` shows it. */
  describe(): string {
    const parts = [`user ${this.name}`, this.enabled ? "on" : "off"];
    if (this.nopass) parts.push("nopass");
    else for (const hash of [...this.passwords].sort()) parts.push(`#${hash}`);
    for (const k of this.keys) {
      const prefix = k.flags === (READ | WRITE) ? "~" : k.flags === READ ? "%R~" : "%W~";
      parts.push(`${prefix}${k.pattern}`);
    }
    parts.push(
      ...(this.channels.length === 0 ? ["resetchannels"] : this.channels.map((c) => `&${c}`)),
    );
    parts.push(this.commandRules());
    return parts.join(" ");
  }

  /** The command rules as one string (`+@all -flushall`). */
  commandRules(): string {
    if (this.#commandRules.length === 0) return "-@all";
    return this.#commandRules.map((r) => `${r.allow ? "+" : "-"}${r.target}`).join(" ");
  }
}

function matchesCommand(target: string, command: AclCommand): boolean {
  if (target === "@all") return true;
  if (target.startsWith("@")) return command.aclCategories.includes(target);
  if (target.includes("|")) return command.name === target;
  return command.name === target || command.container?.name === target;
}

/** `%R~pattern`, `%W~pattern`, `%RW~pattern`. */
function parseKeyPermission(rule: string): KeyPattern {
  const tilde = rule.indexOf("~");
  if (tilde < 2) throw new AclError(`Error in ACL SETUSER modifier '${rule}': Syntax error`);
  let flags = 0;
  for (const c of rule.slice(1, tilde).toUpperCase()) {
    if (c === "R") flags |= READ;
    else if (c === "W") flags |= WRITE;
    else throw new AclError(`Error in ACL SETUSER modifier '${rule}': Syntax error`);
  }
  return { pattern: rule.slice(tilde + 1), flags };
}

/** The permissions a key needs, from its key-spec flags (as Redis's ACL reads them). */
function keyPermissions(flags: readonly string[]): number {
  let needed = 0;
  if (flags.includes("access")) needed |= READ;
  if (flags.includes("insert") || flags.includes("delete") || flags.includes("update")) {
    needed |= WRITE;
  }
  return needed === 0 ? READ | WRITE : needed;
}

function checkHash(hash: string): string {
  if (!/^[0-9a-fA-F]{64}$/.test(hash)) {
    throw new AclError(
      "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
    );
  }
  return hash.toLowerCase();
}

/** SHA-256 hex of a password, as Redis keeps it. */
export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Bytes as a string of char codes 0-255 (binary-safe glob matching). */
function latin1(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return out;
}

/** Splits an ACL line (`user name rule rule ...`, or just rules) into words. */
export function aclWords(line: string): string[] {
  return line.trim().split(/\s+/).filter((w) => w !== "");
}
