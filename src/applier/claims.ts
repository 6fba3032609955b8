/**
 * Claims: what a try took stays recorded until its client got it, so no
 * element is lost when the node holding the client dies with the try in
 * flight.
 *
 * A try of a pop (`BLPOP`, `BRPOP`, `BLMPOP`, `BZPOPMIN`, `BZPOPMAX`,
 * `BZMPOP`), applied by a rack leader of the rack that accepted it, runs as a
 * one-call script: the pop's non-blocking form (`LMPOP`, `ZMPOP`: the same
 * effect, the same errors) and, when it took something, the command that
 * would put it back, kept in the metadata db under the accepting node
 * (`pylon:claims:<node>`, field: the op's id), in the same transaction as the
 * pop. Other racks run the pop as it is: the data is the same everywhere, the
 * claim lives in the one rack whose node knows the client.
 *
 * The node removes a claim once it wrote the element to its client
 * (src/write/claims.ts), or puts the element back (the claim removed first)
 * when the client left. A node that starts again puts back every claim of
 * its earlier life once its rack applied the log up to where it ended at the
 * start: those tries' clients are gone with the old process.
 */

import { equalsIgnoreCase, parseStrictInteger } from "../command/bytes.ts";
import type { Op } from "../log/op.ts";
import { concatBytes } from "../resp/bytes.ts";
import { arrayItems } from "../resp/frames.ts";
import type { Protocol } from "../resp/value.ts";
import { claimsKey } from "../meta_keys.ts";
import { CLAIMED_POPS } from "../command/blocking.ts";

const encoder = new TextEncoder();
const utf8 = new TextDecoder();

/**
 * The script: ARGV = metaDb, claims key, op id, client db, put-back kind
 * (`LPUSH`, `RPUSH`, `ZADD`), then the non-blocking pop. The put-back is kept
 * as netstrings (`<length>:<bytes>`): the db, then the command's arguments.
 */
export const CLAIM_SCRIPT = [
  "local r = redis.pcall(unpack(ARGV, 6))",
  "if type(r) ~= 'table' or r.err ~= nil then return r end",
  "local function ns(s) return string.len(s) .. ':' .. s end",
  "local kind, key, items = ARGV[5], r[1], r[2]",
  "local out = {ns(ARGV[4]), ns(kind), ns(key)}",
  "if kind == 'ZADD' then",
  "  out[#out + 1] = ns('NX')",
  "  for _, pair in ipairs(items) do out[#out + 1] = ns(pair[2]); out[#out + 1] = ns(pair[1]) end",
  "else",
  "  for i = #items, 1, -1 do out[#out + 1] = ns(items[i]) end",
  "end",
  "redis.call('SELECT', ARGV[1])",
  "redis.call('HSET', ARGV[2], ARGV[3], table.concat(out))",
  "return r",
].join("\n");

/** `LMPOP`/`ZMPOP` with the same keys, end and count, or undefined when the request is malformed. */
function nonBlocking(name: string, argv: readonly Uint8Array[]): Uint8Array[] | undefined {
  const keys = argv.slice(1, -1);
  switch (name) {
    case "blpop":
    case "brpop":
      return [
        encoder.encode("LMPOP"),
        encoder.encode(String(keys.length)),
        ...keys,
        encoder.encode(name === "blpop" ? "LEFT" : "RIGHT"),
      ];
    case "bzpopmin":
    case "bzpopmax":
      return [
        encoder.encode("ZMPOP"),
        encoder.encode(String(keys.length)),
        ...keys,
        encoder.encode(name === "bzpopmin" ? "MIN" : "MAX"),
      ];
    case "blmpop":
    case "bzmpop": {
      // timeout numkeys key.. end [COUNT n]: only well-formed ones (else Redis's error, raw).
      const numkeys = parseStrictInteger(argv[2] ?? new Uint8Array());
      if (numkeys === undefined || numkeys < 1 || argv.length < 4 + numkeys) return undefined;
      const end = argv[3 + numkeys]!;
      const ends = name === "blmpop" ? ["left", "right"] : ["min", "max"];
      if (!ends.some((word) => equalsIgnoreCase(end, word))) return undefined;
      const rest = argv.slice(4 + numkeys);
      if (rest.length !== 0) {
        if (rest.length !== 2 || !equalsIgnoreCase(rest[0]!, "count")) return undefined;
        const count = parseStrictInteger(rest[1]!);
        if (count === undefined || count < 1) return undefined;
      }
      return [encoder.encode(name === "blmpop" ? "LMPOP" : "ZMPOP"), ...argv.slice(2)];
    }
    default:
      return undefined;
  }
}

/** Which end an element goes back to (the end it was taken from). */
function putBackKind(name: string, argv: readonly Uint8Array[]): string {
  if (name === "bzpopmin" || name === "bzpopmax" || name === "bzmpop") return "ZADD";
  if (name === "blpop") return "LPUSH";
  if (name === "brpop") return "RPUSH";
  const numkeys = parseStrictInteger(argv[2]!)!;
  return equalsIgnoreCase(argv[3 + numkeys]!, "left") ? "LPUSH" : "RPUSH";
}

/** A claimed try as the applier runs it: the script's arguments, and its reply made the pop's. */
export interface ClaimedTry {
  /** `EVAL` arguments after the body: numkeys (0) and ARGV. */
  args: Uint8Array[];
  /** Redis's reply to the script as the client's pop answers it. */
  restore: (reply: Uint8Array) => Uint8Array;
}

/**
 * The claimed form of `op` when it is a try of a pop accepted in `rack`
 * (one command, not a transaction, well-formed); undefined otherwise.
 */
export function claimedTry(
  op: Op,
  options: { rack: string; metaDb: number },
): ClaimedTry | undefined {
  if (op.rack !== options.rack || op.transaction || op.commands.length !== 1) return undefined;
  const argv = op.commands[0]!;
  const name = utf8.decode(argv[0]).toLowerCase();
  if (!CLAIMED_POPS.has(name)) return undefined;
  const pop = nonBlocking(name, argv);
  if (pop === undefined) return undefined;
  const args = [
    encoder.encode("0"),
    encoder.encode(String(options.metaDb)),
    encoder.encode(claimsKey(op.origin)),
    encoder.encode(op.id),
    encoder.encode(String(op.db)),
    encoder.encode(putBackKind(name, argv)),
    ...pop,
  ];
  return { args, restore: (reply) => popReply(name, op.protocol, reply) };
}

const NIL_ARRAY = encoder.encode("*-1\r\n");

/** `$-1\r\n`. */
function isNilBulk(reply: Uint8Array): boolean {
  return reply.length === 5 && reply[0] === 0x24 && reply[1] === 0x2d && reply[2] === 0x31;
}

const header = (type: string, count: number) => encoder.encode(`${type}${count}\r\n`);

/** A score as the client's protocol sends it: a bulk string in RESP2, a double in RESP3. */
function score(frame: Uint8Array, protocol: Protocol): Uint8Array {
  if (protocol === 2 || frame[0] !== 0x24) return frame;
  const crlf = frame.indexOf(0x0d);
  return concatBytes([encoder.encode(","), frame.subarray(crlf + 2)]);
}

/**
 * The pop's own reply from the script's (`LMPOP`/`ZMPOP`'s, as Lua passed it
 * on): BLPOP's `[key, element]`, BZPOPMIN's `[key, member, score]`, BZMPOP's
 * scores as doubles in RESP3. Lua turns the pop's nil array into a nil bulk
 * string (RESP2): made the pop's nil array again, the reply other racks get
 * from the bare pop (the divergence checker compares them). Errors pass
 * unchanged.
 */
export function popReply(name: string, protocol: Protocol, reply: Uint8Array): Uint8Array {
  if (isNilBulk(reply)) return NIL_ARRAY;
  if (reply[0] !== 0x2a) return reply;
  const [key, items] = arrayItems(reply) ?? [];
  if (key === undefined || items === undefined) return reply;
  const list = arrayItems(items) ?? [];
  switch (name) {
    case "blpop":
    case "brpop":
      return list.length === 1 ? concatBytes([header("*", 2), key, list[0]!]) : reply;
    case "blmpop":
      return reply;
    case "bzpopmin":
    case "bzpopmax": {
      const [member, value] = list.length === 1 ? arrayItems(list[0]!) ?? [] : [];
      if (member === undefined || value === undefined) return reply;
      return concatBytes([header("*", 3), key, member, score(value, protocol)]);
    }
    case "bzmpop": {
      if (protocol === 2) return reply;
      const parts = [header("*", 2), key, header("*", list.length)];
      for (const pair of list) {
        const [member, value] = arrayItems(pair) ?? [];
        if (member === undefined || value === undefined) return reply;
        parts.push(header("*", 2), member, score(value, protocol));
      }
      return concatBytes(parts);
    }
    default:
      return reply;
  }
}

/** A kept claim's put-back: the db and the command (netstrings, as the script wrote them). */
export function decodeClaim(value: Uint8Array): { db: number; argv: Uint8Array[] } | undefined {
  const parts: Uint8Array[] = [];
  let at = 0;
  while (at < value.length) {
    const colon = value.indexOf(0x3a, at);
    if (colon < 0) return undefined;
    const length = Number(utf8.decode(value.subarray(at, colon)));
    if (!Number.isSafeInteger(length) || colon + 1 + length > value.length) return undefined;
    parts.push(value.subarray(colon + 1, colon + 1 + length));
    at = colon + 1 + length;
  }
  const db = Number(utf8.decode(parts[0]));
  if (parts.length < 3 || !Number.isSafeInteger(db)) return undefined;
  return { db, argv: parts.slice(1) };
}
