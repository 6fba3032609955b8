/**
 * Functions (`FCALL`) through the same wrapper as scripts. A library is
 * loaded wrapped: after its `#!lua name=...` line (Redis requires it first),
 * a one-line prologue binds `redis` and `math` for the whole library, so its
 * callbacks' calls decide time and chance from the op (see prologue.ts), and
 * wraps every callback it registers so that it takes T, the seed and the
 * script budget off its args: an op's `FCALL fn numkeys keys... args...` is
 * applied with T, the seed and the budget appended, and the callback sees the
 * client's args. Its loops and functions are charged for the budget
 * (script_budget.ts), and `FUNCTION LIST`/`DUMP` show the code without the
 * charges.
 *
 * Clients see their own code: `FUNCTION LIST WITHCODE` and `FUNCTION DUMP`
 * replies are rewritten to it ({@linkcode restoreFunctionReply}), and
 * `FUNCTION RESTORE` of a client's payload loads its libraries wrapped.
 *
 * `math.random` in a function draws from the op's seed (the applier cannot
 * reseed the functions' Lua state as it does the scripts'), so code naming it
 * need not be refused once this is wired in.
 *
 * Stated differences from Redis, all on libraries Redis refuses to load:
 * Redis gives library code nothing but `redis.register_function`,
 * `redis.log` and the version while it loads (no `type`, `pairs`,
 * `setmetatable`), so the prologue cannot check what it wraps: a callback that
 * is not a function, or named arguments Redis does not know, load under Pylon
 * (the function then fails when called), and an argument of the wrong type to
 * `register_function` may fail with Lua's words instead of Redis's.
 */

import { equalsIgnoreCase, parseStrictInteger } from "../command/bytes.ts";
import { concatBytes } from "../resp/bytes.ts";
import { encodeCommand } from "../resp/encoder.ts";
import { RequestDecoder } from "../resp/request_decoder.ts";
import { arrayItems, bulkPayload, mapItems } from "../resp/frames.ts";
import type { Protocol } from "../resp/value.ts";
import { contextArgs, type LogContext, pressLua, WRAPPER_CORE_PRESSED } from "./prologue.ts";
import { instrument, LIBRARY_LOAD_STEPS, uninstrument } from "./script_budget.ts";
import {
  checksumHolds,
  readFunctionPayload,
  writeFunctionPayload,
} from "../command/function_payload.ts";
import { FUNCTION_PROLOGUE_SOURCE } from "./wrapper_lua.ts";

/** The one-line prologue of a library: follows its shebang line; ends in a space, no newline. */
export const FUNCTION_PROLOGUE = pressLua(FUNCTION_PROLOGUE_SOURCE)
  .replace("@LOAD_STEPS@", String(LIBRARY_LOAD_STEPS))
  .replace("@CORE@", () => WRAPPER_CORE_PRESSED) + " ";

const encoder = new TextEncoder();
const PROLOGUE_BYTES = encoder.encode(FUNCTION_PROLOGUE);
const NEWLINE = 0x0a;

/**
 * A library's code as Pylon loads it: its loops and functions charged for
 * the script budget (script_budget.ts), the prologue at the start of line 2.
 * Code without a `#!` first line is returned as it is (Redis refuses it).
 * Code that names a name reserved for the budget never loads: in its place
 * goes a library that fails to load, naming the reason, alike on every rack
 * (the gateway refuses such code before it is logged).
 */
export function libraryCode(clientCode: Uint8Array): Uint8Array {
  if (clientCode[0] !== 0x23 || clientCode[1] !== 0x21) return clientCode;
  const end = clientCode.indexOf(NEWLINE);
  if (end < 0) return clientCode;
  const charged = instrument(clientCode);
  const code = "refusal" in charged
    ? concatBytes([clientCode.subarray(0, end + 1), RESERVED_NAME_LIBRARY])
    : charged.code;
  return concatBytes([code.subarray(0, end + 1), PROLOGUE_BYTES, code.subarray(end + 1)]);
}

/** Library code that fails to load, its error naming why (no `error` exists at load time). */
const RESERVED_NAME_LIBRARY = encoder.encode(
  "local Pylon_refuses_library_code_naming_a_name_reserved_for_its_script_budget; " +
    "Pylon_refuses_library_code_naming_a_name_reserved_for_its_script_budget()\n",
);

/** The client's own code of a library Pylon loaded (any other code as it is). */
export function clientLibraryCode(code: Uint8Array): Uint8Array {
  const end = code.indexOf(NEWLINE);
  if (code[0] !== 0x23 || code[1] !== 0x21 || end < 0) return code;
  const at = end + 1;
  if (code.length < at + PROLOGUE_BYTES.length) return code;
  for (let i = 0; i < PROLOGUE_BYTES.length; i++) {
    if (code[at + i] !== PROLOGUE_BYTES[i]) return code;
  }
  return uninstrument(
    concatBytes([code.subarray(0, at), code.subarray(at + PROLOGUE_BYTES.length)]),
  );
}

/**
 * `FUNCTION LOAD [REPLACE] code` with the code wrapped; any other shape as it
 * is (Redis's own error).
 */
export function wrapFunctionLoad(argv: readonly Uint8Array[]): Uint8Array[] {
  const out = [...argv];
  if (argv.length < 3 || !equalsIgnoreCase(argv[1]!, "load")) return out;
  if (argv.length === 4 && !equalsIgnoreCase(argv[2]!, "replace")) return out;
  if (argv.length > 4) return out;
  out[out.length - 1] = libraryCode(argv[argv.length - 1]!);
  return out;
}

/**
 * `FUNCTION RESTORE payload [policy]` with each library of the payload
 * wrapped (its footer recomputed). A payload Redis would refuse (bad version
 * or checksum) goes as it is, for Redis's own error; undefined when the
 * payload is valid but holds what Pylon cannot read (the op must be refused:
 * loading it unwrapped would let each rack decide time and chance itself).
 */
export function wrapFunctionRestore(argv: readonly Uint8Array[]): Uint8Array[] | undefined {
  const out = [...argv];
  if (argv.length < 3 || !equalsIgnoreCase(argv[1]!, "restore")) return out;
  const payload = argv[2]!;
  const read = readFunctionPayload(payload);
  if (read === undefined) return checksumHolds(payload) ? undefined : out;
  out[2] = writeFunctionPayload({ ...read, libraries: read.libraries.map(libraryCode) });
  return out;
}

/**
 * `FCALL`/`FCALL_RO fn numkeys keys... args...` as the op applies it: T, the
 * seed and the budget appended. As it is when numkeys is not what Redis
 * accepts (its own error).
 */
export function wrapFcall(argv: readonly Uint8Array[], context: LogContext): Uint8Array[] {
  const name = argv[0];
  const out = [...argv];
  if (
    name === undefined || (!equalsIgnoreCase(name, "fcall") && !equalsIgnoreCase(name, "fcall_ro"))
  ) {
    return out;
  }
  const numkeys = argv[2] === undefined ? undefined : parseStrictInteger(argv[2]);
  if (numkeys === undefined || numkeys < 0 || numkeys > argv.length - 3) return out;
  return [...out, ...contextArgs(context)];
}

/**
 * An encoded read-only script request as the rack's Redis runs it for a
 * read: `FCALL_RO` gets T, the seed and the budget appended, as the
 * library's prologue takes them off its args (without them it would take
 * the client's last three); a read has no op, so T is the time it is served
 * and the seed 0. The budget bounds read-only functions as it bounds ops.
 * Any other request is returned as it is.
 */
export function readScriptRequest(request: Uint8Array, context: LogContext): Uint8Array {
  const decoder = new RequestDecoder();
  decoder.push(request);
  const argv = decoder.next();
  if (argv === undefined || argv[0] === undefined || !equalsIgnoreCase(argv[0], "fcall_ro")) {
    return request;
  }
  return encodeCommand(wrapFcall(argv, context));
}

const decoder = new TextDecoder();

function bulk(bytes: Uint8Array): Uint8Array {
  return concatBytes([encoder.encode(`$${bytes.length}\r\n`), bytes, encoder.encode("\r\n")]);
}

/** The element frames of an array (`*`) or, keys and values alternating, a map (`%`). */
function elements(frame: Uint8Array): Uint8Array[] | undefined {
  if (frame[0] === 0x2a) return arrayItems(frame) ?? undefined;
  return mapItems(frame);
}

function aggregate(type: number, count: number, items: Uint8Array[]): Uint8Array {
  return concatBytes([encoder.encode(`${String.fromCharCode(type)}${count}\r\n`), ...items]);
}

/** One library of FUNCTION LIST with its `library_code` shown as the client's. */
function restoreLibrary(frame: Uint8Array): Uint8Array {
  const items = elements(frame);
  if (items === undefined) return frame;
  let changed = false;
  for (let i = 0; i + 1 < items.length; i += 2) {
    const key = bulkPayload(items[i]!);
    const code = bulkPayload(items[i + 1]!);
    if (key === undefined || code === undefined || decoder.decode(key) !== "library_code") continue;
    const own = clientLibraryCode(code);
    if (own !== code) {
      items[i + 1] = bulk(own);
      changed = true;
    }
  }
  if (!changed) return frame;
  const count = frame[0] === 0x25 ? items.length / 2 : items.length;
  return aggregate(frame[0]!, count, items);
}

/**
 * A reply of a function read as the client's own code would give it:
 * `FUNCTION LIST` (its `library_code`s) and `FUNCTION DUMP` (its payload's
 * libraries, footer recomputed). Any other reply unchanged.
 */
export function restoreFunctionReply(
  argv: readonly Uint8Array[],
  _protocol: Protocol,
  reply: Uint8Array,
): Uint8Array {
  if (argv.length < 2 || !equalsIgnoreCase(argv[0]!, "function")) return reply;
  if (equalsIgnoreCase(argv[1]!, "list")) {
    const libraries = reply[0] === 0x2a ? arrayItems(reply) : null;
    if (libraries === null) return reply;
    return aggregate(0x2a, libraries.length, libraries.map(restoreLibrary));
  }
  if (equalsIgnoreCase(argv[1]!, "dump")) {
    const payload = bulkPayload(reply);
    const read = payload === undefined ? undefined : readFunctionPayload(payload);
    if (read === undefined) return reply;
    return bulk(
      writeFunctionPayload({ ...read, libraries: read.libraries.map(clientLibraryCode) }),
    );
  }
  return reply;
}
