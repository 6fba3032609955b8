/**
 * Which log partition an op goes to. With one partition (the default) every
 * op shares one total order. With several, the slot ranges are split evenly
 * (partition = floor(slot * partitions / 16384)) and an op goes to the
 * partition of its keys' hash slots, so ops on the same keys keep their order;
 * PUBLISH and SPUBLISH go by their channel's slot. Requests whose keys fall in
 * different partitions are refused as Redis Cluster refuses cross-slot
 * requests, and keyless writes that touch every key (FLUSHALL, FLUSHDB,
 * SWAPDB) are refused: no single partition orders them against the others;
 * so is SORT with BY or GET patterns (it reads keys it does not name). Scripts
 * keep to their op's partition at run time (src/determinism/wrapper_lua.ts).
 */

import { commandKeys, hasKeys } from "./keys.ts";
import { keyHashSlot, SLOTS } from "./slot.ts";
import { refusedMessage } from "./table.ts";
import type { CommandSpec } from "./types.ts";

/** Redis Cluster's text for keys in different slots (here: in different partitions). */
export const CROSSSLOT_ERROR = "CROSSSLOT Keys in request don't hash to the same slot";

/** Writes whose first argument is a channel, placed by the channel's slot. */
const CHANNEL_COMMANDS: ReadonlySet<string> = new Set(["publish", "spublish"]);

/** The partition of a slot when `partitions` split the slots evenly. */
export function slotPartition(slot: number, partitions: number): number {
  return Math.floor(slot * partitions / SLOTS);
}

/** Where an op goes, or the error that refuses it. */
export type Placement = { partition: number } | { error: string };

/**
 * The partition (0..partitions-1) of a write request (argv[0] is the command
 * name), or the error text that refuses it: CROSSSLOT for keys in different
 * partitions, and a refusal naming the command for keyless writes that touch
 * every key. Keyed requests whose keys cannot be found (arguments Redis will
 * refuse, such as a bad `numkeys`) go to partition 0.
 */
export function partitionFor(
  command: CommandSpec,
  argv: Uint8Array[],
  partitions: number,
): Placement {
  if (!Number.isSafeInteger(partitions) || partitions < 1 || partitions > SLOTS) {
    throw new RangeError(`Partition count must be 1..${SLOTS}, got '${partitions}'`);
  }
  if (partitions === 1) return { partition: 0 };
  if (CHANNEL_COMMANDS.has(command.name)) {
    const channel = argv[1];
    return {
      partition: channel === undefined ? 0 : slotPartition(keyHashSlot(channel), partitions),
    };
  }
  if (!hasKeys(command)) {
    return {
      error: refusedMessage(
        command.name,
        `it touches every key, so it needs a world with one partition (this one has ${partitions})`,
      ),
    };
  }
  if ((command.name === "sort" || command.name === "sort_ro") && readsByPattern(argv)) {
    return {
      error: refusedMessage(
        command.name,
        `BY and GET patterns read other keys, which may live in other partitions, applied at ` +
          `another pace on each rack (this world has ${partitions}); sort without them, or use ` +
          `one partition`,
      ),
    };
  }
  let partition: number | undefined;
  for (const position of commandKeys(command, argv)) {
    const own = slotPartition(keyHashSlot(argv[position]!), partitions);
    if (partition === undefined) partition = own;
    else if (own !== partition) return { error: CROSSSLOT_ERROR };
  }
  return { partition: partition ?? 0 };
}

/** Whether SORT's arguments read other keys: `BY` a pattern with `*`, or `GET` anything but `#`. */
function readsByPattern(argv: readonly Uint8Array[]): boolean {
  const text = new TextDecoder();
  for (let i = 2; i + 1 < argv.length; i++) {
    const word = text.decode(argv[i]).toLowerCase();
    const next = text.decode(argv[i + 1]);
    if ((word === "by" && next.includes("*")) || (word === "get" && next !== "#")) return true;
  }
  return false;
}
