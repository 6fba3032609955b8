import assert from "node:assert/strict";
import { ProtocolError } from "./protocol_error.ts";
import { ReplyDecoder } from "./reply_decoder.ts";
import type { RespValue } from "./value.ts";

function decode(input: string, limits = {}): RespValue[] {
  const decoder = new ReplyDecoder(limits);
  decoder.push(new TextEncoder().encode(input));
  const out: RespValue[] = [];
  for (let v = decoder.next(); v !== undefined; v = decoder.next()) out.push(v);
  return out;
}

function refuses(input: string, message: RegExp, limits = {}): void {
  assert.throws(
    () => decode(input, limits),
    (e: unknown) => e instanceof ProtocolError && message.test(e.message),
  );
}

Deno.test("ReplyDecoder reads RESP2 nulls and RESP3 scalars", () => {
  assert.deepEqual(decode("$-1\r\n*-1\r\n_\r\n#t\r\n,inf\r\n(12345678901234567890\r\n"), [
    { type: "bulk", value: null },
    { type: "array", value: null },
    { type: "null" },
    { type: "boolean", value: true },
    { type: "double", value: Infinity },
    { type: "bignum", value: 12345678901234567890n },
  ]);
});

Deno.test("ReplyDecoder refuses malformed replies", () => {
  refuses("$abc\r\n", /invalid bulk length/);
  refuses("$-2\r\n", /invalid bulk length/);
  refuses("*x\r\n", /invalid multibulk length/);
  refuses("~-1\r\n", /invalid multibulk length/);
  refuses(":12a\r\n", /invalid integer/);
  refuses("#x\r\n", /invalid boolean/);
  refuses(",abc\r\n", /invalid double/);
  refuses("_x\r\n", /invalid null/);
  refuses("?\r\n", /unknown reply type '\?'/);
  refuses("$3\r\nabcde\r\n", /not followed by CRLF/);
  refuses("=3\r\nabc\r\n", /verbatim string without a format/);
});

Deno.test("ReplyDecoder enforces its limits", () => {
  refuses("$100\r\n", /invalid bulk length/, { bulkBytesMax: 99 });
  refuses("*100\r\n", /invalid multibulk length/, { arrayElementsMax: 99 });
  refuses("*1\r\n".repeat(5) + ":1\r\n", /nesting deeper than 3/, { depthLevelsMax: 3 });
  refuses("*2\r\n$10\r\n0123456789\r\n$10\r\n", /reply larger than 20 bytes/, {
    bufferedBytesMax: 20,
  });
  refuses("+" + "x".repeat(100), /too big header line/, { inlineBytesMax: 50 });
});
