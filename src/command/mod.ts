/**
 * The command table: every Redis command with its arity, flags, key specs and
 * docs (generated from Redis's own `COMMAND INFO`/`COMMAND DOCS`), Pylon's
 * class for it, request routing, key extraction and the COMMAND command; and
 * what the write path needs before logging an op: determinism rewrites,
 * partition placement by hash slot, and the dbs a write names.
 */

export type {
  ArgumentRule,
  CommandClass,
  CommandSpec,
  ReplyFilter,
  ReplyKind,
  Route,
} from "./types.ts";
export type { RawArgDoc, RawCommandDocs, RawKeySpec } from "./raw.ts";
export { route, transactionStep } from "./route.ts";
export { commandKeys, commandKeysIfKnown } from "./keys.ts";
export { commandReply } from "./command_reply.ts";
export {
  allCommands,
  findAnyCommand,
  findCommand,
  isPylonCommand,
  REDIS_VERSION,
} from "./table.ts";
export { OVERRIDES } from "./classify.ts";
export { rewriteForLog } from "./rewrite.ts";
export { keyHashSlot, SLOTS } from "./slot.ts";
export { CROSSSLOT_ERROR, partitionFor, type Placement, slotPartition } from "./partition.ts";
export { dbArguments } from "./db_args.ts";
