import assert from "node:assert/strict";
import { REWIND_SCRIPT, rewindCommand } from "./rewind.ts";
import { RequestDecoder } from "../resp/request_decoder.ts";

Deno.test("rewindCommand: an allow-oom script that stores the position only over the batch's own", () => {
  assert.match(REWIND_SCRIPT, /^#!lua flags=allow-oom\n/);
  const decoder = new RequestDecoder();
  decoder.push(rewindCommand({
    partition: 1,
    metaDb: 15,
    stored: 12,
    position: 10,
    logTimeMs: 1_700_000_000_000,
    lastOpId: "01ABC",
  }));
  const argv = decoder.next()!.map((arg) => new TextDecoder().decode(arg));
  assert.deepEqual(argv.slice(2), [
    "0",
    "15",
    "pylon:applied:1",
    "12",
    "10",
    "pylon:applied-time:1",
    "1700000000000",
    "pylon:applied-op:1",
    "01ABC",
  ]);
});
