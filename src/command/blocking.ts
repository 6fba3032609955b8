/**
 * Blocking commands as Pylon serves them, without I/O: what a request waits
 * for (its keys, its timeout as Redis reads it), what a try answers when it
 * found nothing, what the client gets at its timeout, and the op that puts
 * back what a try took for a client that is gone.
 *
 * A blocking pop (and `XREADGROUP .. BLOCK`) is logged as a try: the command
 * itself, which inside the applier's MULTI never blocks in Redis and answers
 * the element or nil. `XREAD .. BLOCK` is a read of the local rack without
 * `BLOCK`. Nil from a try is {@linkcode isNothing}; the client waits on its
 * node and tries again when an applied op readies one of its keys.
 */

import { equalsIgnoreCase, isWord } from "./bytes.ts";
import { commandKeysIfKnown } from "./keys.ts";
import { findCommand } from "./table.ts";
import { ReplyDecoder } from "../resp/reply_decoder.ts";
import type { Protocol, RespValue } from "../resp/value.ts";

const NOT_FLOAT = "ERR timeout is not a float or out of range";
const NOT_INTEGER = "ERR timeout is not an integer or out of range";
const NEGATIVE = "ERR timeout is negative";
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const INFINITE = /^[+-]?inf(inity)?$/i;
const HEX = /^([+-]?)0x([0-9a-f]+)$/i;
const INTEGER = /^(0|-?[1-9]\d*)$/;

/** Where a blocking pop's timeout (in seconds) is, by command. */
const SECONDS_TIMEOUT_AT: Readonly<Record<string, (argv: readonly Uint8Array[]) => number>> = {
  blpop: (argv) => argv.length - 1,
  brpop: (argv) => argv.length - 1,
  bzpopmin: (argv) => argv.length - 1,
  bzpopmax: (argv) => argv.length - 1,
  brpoplpush: () => 3,
  blmove: () => 5,
  blmpop: () => 1,
  bzmpop: () => 1,
};

/**
 * Pops whose tries keep a claim until their client has what they took
 * (src/applier/claims.ts); moves keep their element in the destination.
 */
export const CLAIMED_POPS: ReadonlySet<string> = new Set([
  "blpop",
  "brpop",
  "blmpop",
  "bzpopmin",
  "bzpopmax",
  "bzmpop",
]);

/** Commands whose only waited key is their first (the source of a move). */
const SOURCE_ONLY = new Set(["brpoplpush", "blmove"]);

/** What a blocking request waits for. */
export interface BlockingRequest {
  /** `pop`: tries are ops; `stream-group`: XREADGROUP tries are ops; `stream-read`: XREAD reads. */
  kind: "pop" | "stream-group" | "stream-read";
  /** Milliseconds Redis would block (0: until data comes). */
  timeoutMs: number;
  /** Argument positions of the keys it waits on. */
  keys: number[];
}

/** Seconds as `strtold` reads them, to whole milliseconds as Redis truncates them. */
function seconds(value: string): { ms: number } | { error: string } {
  let s: number;
  const hex = HEX.exec(value);
  if (DECIMAL.test(value) || INFINITE.test(value)) {
    s = Number(value.replace(/inf(inity)?$/i, "Infinity"));
  } else if (hex !== null) s = (hex[1] === "-" ? -1 : 1) * parseInt(hex[2]!, 16);
  else return { error: NOT_FLOAT };
  const ms = Math.trunc(s * 1000);
  // Past a 64-bit millisecond count, Redis's conversion wraps to a negative one.
  if (!Number.isFinite(ms) || ms >= 2 ** 63 || ms < 0) return { error: NEGATIVE };
  return { ms: ms === 0 ? 0 : ms };
}

/** The index of XREAD/XREADGROUP's BLOCK option (before STREAMS), or -1. */
function blockIndex(argv: readonly Uint8Array[]): number {
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i]!;
    if (isWord(arg, "block")) return i;
    if (isWord(arg, "count")) i++;
    else if (isWord(arg, "group")) i += 2;
    else if (isWord(arg, "noack")) continue;
    else return -1;
  }
  return -1;
}

/** A blocking command's timeout in ms (0: forever), or Redis's error for it. */
export function blockingTimeout(
  name: string,
  argv: readonly Uint8Array[],
): { ms: number } | { error: string } {
  const text = new TextDecoder();
  const at = SECONDS_TIMEOUT_AT[name];
  if (at !== undefined) {
    const raw = argv[at(argv)];
    return raw === undefined ? { ms: 0 } : seconds(text.decode(raw));
  }
  if (name === "xread" || name === "xreadgroup") {
    const block = blockIndex(argv);
    const raw = block < 0 ? undefined : argv[block + 1];
    if (raw === undefined) return { ms: 0 };
    const value = text.decode(raw);
    if (!INTEGER.test(value) || !Number.isSafeInteger(Number(value))) return { error: NOT_INTEGER };
    return Number(value) < 0 ? { error: NEGATIVE } : { ms: Number(value) };
  }
  return { ms: 0 };
}

/** Redis's error for the timeout of blocking command `name`, or undefined when it is valid. */
export function blockingTimeoutError(
  name: string,
  argv: readonly Uint8Array[],
): string | undefined {
  const timeout = blockingTimeout(name, argv);
  return "error" in timeout ? timeout.error : undefined;
}

/**
 * What blocking request `argv` (of command `name`, arity checked) waits
 * for, or Redis's error for its timeout (checked before anything else, as
 * Redis does).
 */
export function blockingRequest(
  name: string,
  argv: Uint8Array[],
): BlockingRequest | { error: string } {
  const timeout = blockingTimeout(name, argv);
  if ("error" in timeout) return timeout;
  const command = findCommand(name);
  let keys = command === undefined ? [] : commandKeysIfKnown(command, argv) ?? [];
  if (SOURCE_ONLY.has(name)) keys = keys.slice(0, 1);
  const kind = name === "xread" ? "stream-read" : name === "xreadgroup" ? "stream-group" : "pop";
  return { kind, timeoutMs: timeout.ms, keys };
}

/**
 * Whether a try's reply says it found nothing: Redis's nil inside MULTI
 * (`*-1`, `$-1` for a move, RESP3's `_`).
 */
export function isNothing(reply: Uint8Array): boolean {
  if (reply.length === 3) return reply[0] === 0x5f && reply[1] === 0x0d;
  return reply.length === 5 && (reply[0] === 0x2a || reply[0] === 0x24) && reply[1] === 0x2d &&
    reply[2] === 0x31 && reply[3] === 0x0d;
}

const NULL_ARRAY = new TextEncoder().encode("*-1\r\n");
const NULL_RESP3 = new TextEncoder().encode("_\r\n");

/**
 * What Redis answers a blocked client at its timeout: the null array for
 * every blocking command (BLMOVE too, though inside MULTI it answers a null
 * bulk), RESP3's null.
 */
export function timeoutReply(protocol: Protocol): Uint8Array {
  return protocol === 3 ? NULL_RESP3 : NULL_ARRAY;
}

/** Redis's reply when CLIENT UNBLOCK .. ERROR unblocks a client. */
export const UNBLOCKED_ERROR = new TextEncoder().encode(
  "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n",
);

/** XREAD/XREADGROUP without a valid `BLOCK ms` (the request itself if it has none). */
export function withoutBlock(argv: Uint8Array[]): Uint8Array[] {
  const block = blockIndex(argv);
  if (block < 0) return argv;
  const value = argv[block + 1];
  if (value === undefined || !INTEGER.test(new TextDecoder().decode(value))) return argv;
  if (Number(new TextDecoder().decode(value)) < 0) return argv;
  return [...argv.slice(0, block), ...argv.slice(block + 2)];
}

function decodeReply(reply: Uint8Array): RespValue | undefined {
  const decoder = new ReplyDecoder();
  decoder.push(reply);
  try {
    return decoder.next();
  } catch {
    return undefined;
  }
}

function items(value: RespValue | undefined): RespValue[] | undefined {
  if (value === undefined) return undefined;
  if (value.type === "array") return value.value ?? undefined;
  if (value.type === "set" || value.type === "push") return value.value;
  return undefined;
}

function bytesOf(value: RespValue | undefined): Uint8Array | undefined {
  if (value === undefined) return undefined;
  if (value.type === "bulk") return value.value ?? undefined;
  if (value.type === "simple") return new TextEncoder().encode(value.value);
  if (value.type === "double") {
    const n = value.value;
    return new TextEncoder().encode(n === Infinity ? "inf" : n === -Infinity ? "-inf" : String(n));
  }
  if (value.type === "integer") return new TextEncoder().encode(String(value.value));
  return undefined;
}

const word = (text: string) => new TextEncoder().encode(text);

/**
 * The command that puts back what a try of `argv` took (its reply
 * `reply`), for a client that is gone before it got it: the elements go
 * back to the end they were taken from, in their order (so they are next in
 * line again), members back with their scores unless re-added since.
 * Undefined when nothing was taken or nothing is put back: a move (BLMOVE,
 * BRPOPLPUSH) leaves the element in its destination, as a reliable queue
 * expects; XREADGROUP leaves the entries pending for the consumer.
 */
export function putBackCommand(
  name: string,
  argv: readonly Uint8Array[],
  reply: Uint8Array,
): Uint8Array[] | undefined {
  if (isNothing(reply) || reply[0] === 0x2d || reply[0] === 0x21) return undefined;
  const parts = items(decodeReply(reply));
  if (parts === undefined) return undefined;
  const key = bytesOf(parts[0]);
  if (key === undefined) return undefined;
  switch (name) {
    case "blpop":
    case "brpop": {
      const element = bytesOf(parts[1]);
      if (element === undefined) return undefined;
      return [word(name === "blpop" ? "LPUSH" : "RPUSH"), key, element];
    }
    case "blmpop": {
      const elements = (items(parts[1]) ?? []).map(bytesOf);
      if (elements.length === 0 || elements.some((e) => e === undefined)) return undefined;
      const left = argv.some((a, i) => i > 2 && equalsIgnoreCase(a, "left"));
      // The first taken is pushed last, so it is at its end again.
      return [word(left ? "LPUSH" : "RPUSH"), key, ...(elements as Uint8Array[]).reverse()];
    }
    case "bzpopmin":
    case "bzpopmax": {
      const member = bytesOf(parts[1]);
      const score = bytesOf(parts[2]);
      if (member === undefined || score === undefined) return undefined;
      return [word("ZADD"), key, word("NX"), score, member];
    }
    case "bzmpop": {
      const pairs = (items(parts[1]) ?? []).map(items);
      const args: Uint8Array[] = [];
      for (const pair of pairs) {
        const member = bytesOf(pair?.[0]);
        const score = bytesOf(pair?.[1]);
        if (member === undefined || score === undefined) return undefined;
        args.push(score, member);
      }
      return args.length === 0 ? undefined : [word("ZADD"), key, word("NX"), ...args];
    }
    default:
      return undefined;
  }
}
