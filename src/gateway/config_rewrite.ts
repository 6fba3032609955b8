/**
 * `CONFIG GET` through Pylon: the rack's Redis answers (read-only), and the
 * parameters that hold secrets — the rack's passwords, which are Pylon's and
 * the operator's, not its clients' — are left out of the reply, in the reply
 * type Redis chose (RESP2 array of pairs, RESP3 map).
 */

import { encode } from "../resp/encoder.ts";
import { ReplyDecoder } from "../resp/reply_decoder.ts";
import type { Protocol, RespValue } from "../resp/value.ts";

/** Parameters never shown to clients. */
export const SECRET_PARAMETERS: ReadonlySet<string> = new Set([
  "requirepass",
  "masterauth",
  "masteruser",
  "tls-key-file-pass",
  "tls-client-key-file-pass",
]);

/** The reply to `CONFIG GET …` without the secret parameters; other replies are left as they are. */
export function withoutSecrets(reply: Uint8Array, protocol: Protocol): Uint8Array {
  const decoder = new ReplyDecoder();
  decoder.push(reply);
  let value: RespValue | undefined;
  try {
    value = decoder.next();
  } catch {
    return reply;
  }
  const name = (v: RespValue) =>
    v.type === "bulk" && v.value !== null ? new TextDecoder().decode(v.value).toLowerCase() : "";
  if (value?.type === "map") {
    return encode({
      type: "map",
      value: value.value.filter(([k]) => !SECRET_PARAMETERS.has(name(k))),
    }, protocol);
  }
  if (value?.type === "array" && value.value !== null) {
    const kept: RespValue[] = [];
    for (let i = 0; i + 1 < value.value.length; i += 2) {
      if (SECRET_PARAMETERS.has(name(value.value[i]!))) continue;
      kept.push(value.value[i]!, value.value[i + 1]!);
    }
    return encode({ type: "array", value: kept }, protocol);
  }
  return reply;
}
