/**
 * Pylon's own commands, `PYLON <subcommand>`, described as Redis describes
 * its commands (arity, flags, ACL categories, docs), so they are looked up,
 * arity-checked, classified and ACL-checked by the same table as every Redis
 * command. `COMMAND` does not list them: it answers what Redis would.
 */

import type { RawCommand } from "./raw.ts";

const ADMIN = ["@admin", "@slow", "@dangerous"];

function subcommand(
  name: string,
  arity: number,
  aclCategories: string[],
  summary: string,
): RawCommand {
  return {
    name: `pylon|${name}`,
    arity,
    flags: ["loading", "stale"],
    first_key: 0,
    last_key: 0,
    step: 0,
    acl_categories: aclCategories,
    tips: [],
    key_specs: [],
    subcommands: [],
    docs: { summary, since: "1.0.0", group: "server", complexity: "O(1)" },
  };
}

const SUBCOMMANDS: RawCommand[] = [
  subcommand(
    "consistency",
    -2,
    ["@fast", "@connection"],
    "Show or set the connection's consistency",
  ),
  subcommand("help", 2, ["@slow"], "Show helpful text about the PYLON subcommands"),
  subcommand("info", -2, ["@slow"], "This node's state, by section"),
  subcommand("node", -3, ADMIN, "Add a node to the world or remove one"),
  subcommand("rack", -3, ADMIN, "Hand this rack's leadership to another of its nodes"),
  subcommand("rebuild", 4, ADMIN, "Rebuild this rack's Redis from another rack's snapshot"),
  subcommand("world", 2, ["@slow"], "The world's nodes, racks, rack leaders and Raft groups"),
];

/** `pylon` and its subcommands, in the shape of the generated table's entries. */
export const PYLON_COMMANDS: readonly RawCommand[] = [
  {
    name: "pylon",
    arity: -2,
    flags: [],
    first_key: 0,
    last_key: 0,
    step: 0,
    acl_categories: ["@slow"],
    tips: [],
    key_specs: [],
    subcommands: SUBCOMMANDS.map((s) => s.name),
    docs: { summary: "A container for Pylon's own commands", group: "server" },
  },
  ...SUBCOMMANDS,
];
