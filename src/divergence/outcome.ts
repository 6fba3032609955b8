/**
 * An op's outcome as racks compare it: the reply Redis gave when the op was
 * applied, with what legitimately differs between racks taken out.
 *
 * - `PUBLISH` and `SPUBLISH` answer how many of *this rack's* clients
 *   received the message: left out (a transaction's other replies stay).
 * - A script may return such a count: an `EVAL` whose body names `publish`
 *   (any case), an `EVALSHA` whose body is not known here or names it, and
 *   every `FCALL` (the function's code is not in the op) are left out; their
 *   effect on the data is still compared by the data digests.
 * - An error is compared by its code (`-ERR`, `-WRONGTYPE`, ...): Redis
 *   versions within the world's contract word some messages differently.
 * - An op with no reply (a tick, a record that is not an op) compares as
 *   empty; skipped ops (an overtaken watch) answer alike on every rack.
 *
 * Everything else is compared byte for byte: by log order every rack must
 * give the reply the accepting rack gave its client.
 */

import { equalsIgnoreCase } from "../command/bytes.ts";
import type { Op } from "../log/op.ts";
import { concatBytes } from "../resp/bytes.ts";
import { arrayItems, frameText, isErrorFrame } from "../resp/frames.ts";
import { chain52, hash52, hashText } from "./hash52.ts";

/** The body of a script by its sha, where this rack knows it (undefined: not known). */
export type ScriptBodies = (sha: string) => Uint8Array | undefined;

const encoder = new TextEncoder();
const utf8 = new TextDecoder();
const RACK_LOCAL = encoder.encode("(rack-local)");
const NO_REPLY = new Uint8Array(0);
const PUBLISH = encoder.encode("publish");

/** Whether `bytes` contains "publish" in any case. */
function mentionsPublish(bytes: Uint8Array): boolean {
  const last = bytes.length - PUBLISH.length;
  outer: for (let i = 0; i <= last; i++) {
    for (let j = 0; j < PUBLISH.length; j++) {
      if ((bytes[i + j]! | 0x20) !== PUBLISH[j]) continue outer;
    }
    return true;
  }
  return false;
}

/** Whether the reply to `argv` depends on the rack that applied it (a receiver count). */
export function rackLocalReply(argv: readonly Uint8Array[], bodies: ScriptBodies): boolean {
  const name = argv[0];
  if (name === undefined) return false;
  // Only names beginning with e, f, p or s can be these (the common case costs one test).
  const first = name[0]! | 0x20;
  if (first !== 0x65 && first !== 0x66 && first !== 0x70 && first !== 0x73) return false;
  if (equalsIgnoreCase(name, "publish") || equalsIgnoreCase(name, "spublish")) return true;
  if (equalsIgnoreCase(name, "fcall") || equalsIgnoreCase(name, "fcall_ro")) return true;
  if (equalsIgnoreCase(name, "eval") || equalsIgnoreCase(name, "eval_ro")) {
    return argv[1] === undefined || mentionsPublish(argv[1]);
  }
  if (equalsIgnoreCase(name, "evalsha") || equalsIgnoreCase(name, "evalsha_ro")) {
    const body = argv[1] === undefined ? undefined : bodies(utf8.decode(argv[1]).toLowerCase());
    return body === undefined || mentionsPublish(body);
  }
  return false;
}

/** An error frame as its code alone (`-WRONGTYPE`); other frames as they are. */
function compared(frame: Uint8Array): Uint8Array {
  if (!isErrorFrame(frame)) return frame;
  const text = frameText(frame);
  const space = text.indexOf(" ");
  return encoder.encode(`-${space < 0 ? text : text.slice(0, space)}\r\n`);
}

/** What of `reply` (op `op`'s, undefined when it has none) racks compare. */
export function comparedReply(
  op: Op | undefined,
  reply: Uint8Array | undefined,
  bodies: ScriptBodies,
): Uint8Array {
  if (op === undefined || reply === undefined) return NO_REPLY;
  const one = (argv: readonly Uint8Array[], frame: Uint8Array) =>
    rackLocalReply(argv, bodies) ? RACK_LOCAL : compared(frame);
  if (!op.transaction) {
    return op.commands[0] === undefined ? compared(reply) : one(op.commands[0], reply);
  }
  // EXEC's array holds one reply per queued command; nil (aborted) and errors stand alone.
  let items: Uint8Array[] | null;
  try {
    items = reply[0] === 42 || reply[0] === 126 ? arrayItems(reply) : null;
  } catch {
    items = null;
  }
  if (items === null || items.length !== op.commands.length) return compared(reply);
  return concatBytes([
    encoder.encode(`*${items.length}\r\n`),
    ...items.map((item, i) => one(op.commands[i]!, item)),
  ]);
}

/** The digest of one op's outcome: its id and its compared reply. */
export function outcomeDigest(opId: string, compared: Uint8Array): number {
  return chain52(hashText(opId), hash52(compared));
}

/**
 * A reply shown in a message: its first bytes as kept, CR LF made visible,
 * quoted; `length` is the whole reply's, said when the bytes are cut.
 */
export function showReply(reply: Uint8Array, length = reply.length): string {
  const text = utf8.decode(reply);
  return JSON.stringify(text) + (length > reply.length ? ` (${length} bytes, cut)` : "");
}
