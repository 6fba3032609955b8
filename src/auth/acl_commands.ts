/**
 * The ACL subcommands Pylon answers about its own users, as Redis answers
 * them: WHOAMI, LIST, USERS, GETUSER, CAT, GENPASS, HELP. Users come from the
 * configuration; ACL SETUSER and the other changes are refused (the table in
 * src/command/classify.ts says why).
 */

import { allCommands } from "../command/mod.ts";
import { parseDecimal } from "../resp/chunk_buffer.ts";
import { array, bulk, error, map, nil, type RespValue, simple } from "../resp/value.ts";
import type { AclUser } from "./acl.ts";
import type { Users } from "./users.ts";

const utf8 = new TextDecoder();

const HELP = [
  "ACL <subcommand> [<arg> [value] [opt] ...]. Pylon answers these about its own users:",
  "CAT [<category>]",
  "    List all commands that belong to <category>, or all command categories",
  "    when no category is specified.",
  "GENPASS [<bits>]",
  "    Generate a secure 256-bit user password. The optional `bits` argument can",
  "    be used to specify a different size.",
  "GETUSER <username>",
  "    Get the user's details.",
  "LIST",
  "    Show users details in config file format.",
  "USERS",
  "    List all the registered usernames.",
  "WHOAMI",
  "    Return the current connection username.",
  "HELP",
  "    Print this help.",
  "Users are configured with Pylon's 'user' option (Redis ACL rules); ACL SETUSER is refused.",
];

/** Answers `ACL <sub> ...` for the connection's `user`. */
export function aclReply(users: Users, user: AclUser, name: string, argv: Uint8Array[]): RespValue {
  switch (name) {
    case "acl|whoami":
      return bulk(user.name);
    case "acl|users":
      return array(users.list().map((u) => bulk(u.name)));
    case "acl|list":
      return array(users.list().map((u) => bulk(u.describe())));
    case "acl|getuser": {
      const found = users.get(utf8.decode(argv[2]!));
      if (found === undefined) return nil();
      const flags = [found.enabled ? "on" : "off", ...(found.nopass ? ["nopass"] : [])];
      return map([
        [bulk("flags"), array(flags.map((f) => bulk(f)))],
        [bulk("passwords"), array([...found.passwords].sort().map((p) => bulk(p)))],
        [bulk("commands"), bulk(found.commandRules())],
        [bulk("keys"), bulk(found.describe().split(" ").filter((w) => /^(~|%)/.test(w)).join(" "))],
        [bulk("channels"), bulk(found.channels.map((c) => `&${c}`).join(" "))],
        [bulk("selectors"), array([])],
      ]);
    }
    case "acl|cat": {
      if (argv.length > 3) return error("ERR wrong number of arguments for 'acl|cat' command");
      const commands = allCommands();
      if (argv.length === 2) {
        const categories = new Set(commands.flatMap((c) => c.aclCategories.map((a) => a.slice(1))));
        return array([...categories].sort().map((c) => bulk(c)));
      }
      const wanted = `@${utf8.decode(argv[2]!).toLowerCase()}`;
      const members = commands.filter((c) => c.aclCategories.includes(wanted)).map((c) => c.name);
      if (members.length === 0) {
        return error(`ERR Unknown category '${utf8.decode(argv[2]!)}'`);
      }
      return array(members.sort().map((m) => bulk(m)));
    }
    case "acl|genpass": {
      const bits = argv.length > 2 ? parseDecimal(argv[2]!, 0, argv[2]!.length) : 256;
      if (bits === undefined || bits <= 0 || bits > 4096) {
        return error(
          "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096",
        );
      }
      const bytes = crypto.getRandomValues(new Uint8Array(Math.ceil(bits / 8)));
      const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
      return bulk(hex.slice(0, Math.ceil(bits / 4)));
    }
    case "acl|help":
      return array(HELP.map((line) => simple(line)));
    default:
      return error(`ERR command '${name}' is not answered by Pylon`);
  }
}
