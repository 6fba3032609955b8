/**
 * Pylon's own commands as ACL rules see them: `pylon|info`, `pylon|world`,
 * ... with categories like Redis's, so `+@admin`, `-pylon|node` and the rest
 * work on them. Changing the world's membership is `@admin @dangerous`, and
 * needs a connection that proved a password as well.
 */

import type { AclCommand } from "./acl.ts";

const ADMIN = ["@admin", "@slow", "@dangerous"];
const CATEGORIES: Record<string, readonly string[]> = {
  info: ["@slow"],
  help: ["@slow"],
  world: ["@slow"],
  consistency: ["@fast", "@connection"],
  node: ADMIN,
  rack: ADMIN,
};

const utf8 = new TextDecoder();

/** The ACL view of a `PYLON <sub> ...` request. */
export function pylonCommand(argv: readonly Uint8Array[]): AclCommand {
  const sub = argv[1] === undefined ? "" : utf8.decode(argv[1]).toLowerCase();
  const categories = CATEGORIES[sub];
  return categories === undefined
    ? { name: "pylon", aclCategories: ["@slow"] }
    : { name: `pylon|${sub}`, aclCategories: categories, container: { name: "pylon" } };
}

/** Whether the request changes the world (`PYLON NODE ...`, `PYLON RACK ...`). */
export function isWorldChange(argv: readonly Uint8Array[]): boolean {
  const name = pylonCommand(argv).name;
  return name === "pylon|node" || name === "pylon|rack";
}

/** The refusal of a world change from a connection that proved no password. */
export const WORLD_CHANGE_NEEDS_AUTH =
  "NOPERM changing the world's membership needs an authenticated user allowed to run it " +
  "(a configured user, or 'pylon' with the world secret): AUTH first";
