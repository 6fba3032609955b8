/**
 * Redis's `INFO` as a Pylon client sees it: the rack's Redis answers, then
 * the line of Pylon's metadata db is taken out of the keyspace section (it is
 * no client's data) and a `# Pylon` section is added when the default
 * sections are asked for (as Camellia adds its own); `blocked_clients` counts
 * the clients waiting on this node. Redis's bytes are kept
 * otherwise, in the reply type Redis chose (bulk string, or RESP3 verbatim).
 */

import { EXPIRY_SHIFT_MS } from "../determinism/expiry.ts";

/** INFO arguments that ask for the default set, to which the Pylon section belongs. */
const WITH_PYLON = new Set(["default", "all", "everything", "pylon"]);

/** Whether `INFO <args>` includes the Pylon section. */
export function infoIncludesPylon(args: string[]): boolean {
  return args.length === 0 || args.some((a) => WITH_PYLON.has(a.toLowerCase()));
}

/** Rewrites the raw reply to `INFO <args>`; anything that is not INFO text is left as it is. */
export function rewriteInfo(
  reply: Uint8Array,
  options: { metaDb: number; pylonSection: string | undefined; blockedClients?: number },
): Uint8Array {
  const text = new TextDecoder().decode(reply);
  const header = /^([$=])(\d+)\r\n/.exec(text);
  if (header === null) return reply;
  const kind = header[1]!;
  let body = text.slice(header[0].length, text.length - 2);
  let prefix = "";
  if (kind === "=") {
    prefix = body.slice(0, 4); // "txt:"
    body = body.slice(4);
  }
  const meta = new RegExp(`^db${options.metaDb}:[^\\r\\n]*\\r\\n`, "m");
  body = body.replace(meta, "");
  // Expiries are stored shifted (src/determinism/expiry.ts): the average TTL is shown without it.
  body = body.replace(/^(db\d+:[^\r\n]*avg_ttl=)(\d+)/gm, (_, head: string, ttl: string) => {
    const value = Number(ttl);
    return head + String(value >= EXPIRY_SHIFT_MS / 2 ? Math.max(0, value - EXPIRY_SHIFT_MS) : 0);
  });
  // Clients block on Pylon, never on the rack's Redis: the count is this node's.
  if (options.blockedClients !== undefined) {
    body = body.replace(/^blocked_clients:\d+/m, `blocked_clients:${options.blockedClients}`);
  }
  // Sections end with CRLF and are separated by an empty line.
  if (options.pylonSection !== undefined) {
    body = body.length === 0 ? options.pylonSection : `${body}\r\n${options.pylonSection}`;
  }
  const payload = new TextEncoder().encode(prefix + body);
  const head = new TextEncoder().encode(`${kind}${payload.length}\r\n`);
  const out = new Uint8Array(head.length + payload.length + 2);
  out.set(head);
  out.set(payload, head.length);
  out.set([13, 10], head.length + payload.length);
  return out;
}
