/**
 * Helpers for the determinism suites: a client that returns each reply's
 * exact bytes, a small applier that applies test ops to one Redis the way
 * Pylon's applier does once the wrapper is wired in (scripts and the wrapped
 * commands through src/determinism/, expiries shifted, keys due at T
 * deleted before and after a command), or the way it does without them, and
 * a rack's state to compare racks by.
 */

import { encodeCommand } from "../../src/resp/encoder.ts";
import { ReplyFramer } from "../../src/resp/reply_framer.ts";
import { ReplyDecoder } from "../../src/resp/reply_decoder.ts";
import type { Protocol, RespValue } from "../../src/resp/value.ts";
import { EXPIRE_DUE, shiftExpiry } from "../../src/determinism/expiry.ts";
import {
  commandAsScript,
  restoreCommandReply,
  restoreScriptReply,
  wrapEval,
} from "../../src/determinism/prologue.ts";
import { delay } from "../harness/mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One connection to a Redis-speaking server; each call answers the reply's exact bytes. */
export class FrameClient implements AsyncDisposable {
  #conn: Deno.TcpConn;
  #framer = new ReplyFramer({ bulkBytesMax: 512 * 1024 * 1024 });
  #buf = new Uint8Array(256 * 1024);

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  /** Connects to `127.0.0.1:port`. */
  static async connect(port: number): Promise<FrameClient> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    return new FrameClient(conn);
  }

  /** Sends one command and answers its reply's bytes (30 s deadline). */
  async call(...argv: (string | Uint8Array)[]): Promise<Uint8Array> {
    const [reply] = await this.pipeline([argv]);
    return reply!;
  }

  /** Sends commands together and answers their replies' bytes, in order (30 s deadline). */
  async pipeline(commands: (string | Uint8Array)[][]): Promise<Uint8Array[]> {
    let bytes = new Uint8Array(0);
    for (const argv of commands) {
      const command = encodeCommand(argv);
      const joined = new Uint8Array(bytes.length + command.length);
      joined.set(bytes);
      joined.set(command, bytes.length);
      bytes = joined;
    }
    while (bytes.length > 0) bytes = bytes.subarray(await this.#conn.write(bytes));
    const replies: Uint8Array[] = [];
    const deadline = performance.now() + 30_000;
    while (replies.length < commands.length) {
      const frame = this.#framer.next();
      if (frame !== undefined) {
        replies.push(frame.slice());
        continue;
      }
      if (performance.now() > deadline) throw new Error("No reply within 30 s");
      const n = await this.#conn.read(this.#buf);
      if (n === null) throw new Error("Connection closed before a reply");
      this.#framer.push(this.#buf.slice(0, n));
    }
    return replies;
  }

  /** Sends a command and decodes its reply. */
  async value(...argv: (string | Uint8Array)[]): Promise<RespValue> {
    return decode(await this.call(...argv));
  }

  [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    return Promise.resolve();
  }
}

/** A reply's bytes decoded. */
export function decode(frame: Uint8Array): RespValue {
  const replyDecoder = new ReplyDecoder({ bulkBytesMax: 512 * 1024 * 1024 });
  replyDecoder.push(frame);
  const value = replyDecoder.next();
  if (value === undefined) throw new Error("Incomplete reply");
  return value;
}

/** A reply's bytes as readable text (CR LF shown as `␍␊`). */
export function text(frame: Uint8Array): string {
  return decoder.decode(frame).replaceAll("\r\n", "␍␊");
}

/** One op as a test logs it: its log time, its seed, and a script or a command. */
export interface TestOp {
  /** Log time T, ms since the epoch. */
  t: number;
  /** The op's seed (a decimal integer). */
  seed: string;
  /** `EVAL body numkeys ...` or a command as the log holds it (absolute expiries). */
  argv: string[];
  /** The keys of a command (for the expiry checks around it); scripts find theirs. */
  keys?: string[];
  /** The client's protocol. */
  protocol?: Protocol;
  /** How long the later rack waits (real time) before applying this op. */
  lateRackDelayMs?: number;
}

/** How a rack applies ops: with time and chance from the log, or as Pylon did before. */
export type ApplyMode = "log" | "rack";

const bytes = (argv: readonly string[]) => argv.map((arg) => encoder.encode(arg));

/**
 * Applies one op to a Redis and answers the op's reply bytes. Mode `log`:
 * EVAL through the wrapper, the wrapped commands as their one-call script,
 * other commands with their expiries shifted and the keys due at T deleted
 * before and after (as the lead's applier does). Mode `rack`: the op as it is.
 */
export async function applyOp(
  client: FrameClient,
  op: TestOp,
  mode: ApplyMode,
): Promise<Uint8Array> {
  const protocol = op.protocol ?? 2;
  await client.call("HELLO", String(protocol));
  const argv = bytes(op.argv);
  const name = op.argv[0]!.toLowerCase();
  if (mode === "rack") return await client.call(...argv);
  const context = { logTimeMs: op.t, seed: op.seed };
  if (name === "eval" || name === "eval_ro") {
    const reply = await client.call(...wrapEval(argv, context));
    return restoreScriptReply(reply, argv[1]!);
  }
  const script = commandAsScript(argv, protocol, context);
  if (script !== undefined) {
    return restoreCommandReply(argv, protocol, await client.call(...script));
  }
  const due = (op.keys ?? []).flatMap((key) => ["0", key]);
  if (due.length > 0) await client.call("EVAL", EXPIRE_DUE, "0", String(op.t), ...due);
  const reply = await client.call(...shiftExpiry(name, argv));
  if (due.length > 0) await client.call("EVAL", EXPIRE_DUE, "0", String(op.t), ...due);
  return reply;
}

/** Applies ops in order; `late` waits each op's `lateRackDelayMs` first. */
export async function applyAll(
  client: FrameClient,
  ops: readonly TestOp[],
  mode: ApplyMode,
  late: boolean,
): Promise<string[]> {
  const replies: string[] = [];
  for (const op of ops) {
    if (late && (op.lateRackDelayMs ?? 0) > 0) await delay(op.lateRackDelayMs!);
    replies.push(text(await applyOp(client, op, mode)));
  }
  return replies;
}

/** Fields of XINFO STREAM FULL that each rack's own clock writes (never decided by an op). */
const CLOCK_FIELDS = new Set(["seen-time", "active-time"]);

/** A RESP value without the fields each rack's own clock writes (XINFO STREAM FULL's seen-time, active-time). */
export function withoutClockFields(value: RespValue): unknown {
  switch (value.type) {
    case "array":
    case "set":
    case "push": {
      const items = value.value ?? [];
      const out: unknown[] = [];
      for (let i = 0; i < items.length; i++) {
        const item = items[i]!;
        if (
          item.type === "bulk" && item.value !== null &&
          CLOCK_FIELDS.has(decoder.decode(item.value))
        ) {
          i++;
          continue;
        }
        out.push(withoutClockFields(item));
      }
      return out;
    }
    case "map":
      return value.value.map(([k, v]) => [withoutClockFields(k), withoutClockFields(v)]);
    case "bulk":
      return value.value === null ? null : decoder.decode(value.value);
    case "integer":
    case "bignum":
      return String(value.value);
    case "double":
    case "boolean":
    case "simple":
    case "error":
      return value.value;
    default:
      return value.type;
  }
}

/**
 * What two racks must agree on: DEBUG DIGEST, every key's stored expiry, and
 * each stream's groups, consumers and pending entries with their delivery
 * times and counts (XINFO STREAM FULL without the seen-times each Redis keeps
 * by its own clock, which no op decides).
 */
export async function rackState(client: FrameClient): Promise<string> {
  await client.call("HELLO", "2");
  const digest = text(await client.call("DEBUG", "DIGEST"));
  const keys = decode(await client.call("KEYS", "*"));
  const names = keys.type === "array" && keys.value !== null
    ? keys.value.map((key) =>
      key.type === "bulk" && key.value !== null ? decoder.decode(key.value) : ""
    )
    : [];
  names.sort();
  const lines = [`digest ${digest}`];
  for (const name of names) {
    lines.push(`${name} expires ${text(await client.call("PEXPIRETIME", name))}`);
    if (text(await client.call("TYPE", name)) === "+stream␍␊") {
      const full = decode(await client.call("XINFO", "STREAM", name, "FULL", "COUNT", "0"));
      lines.push(`${name} stream ${JSON.stringify(withoutClockFields(full))}`);
    }
  }
  return lines.join("\n");
}
