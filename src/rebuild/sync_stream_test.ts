import assert from "node:assert/strict";
import { SyncError, type SyncEvent, SyncStream } from "./sync_stream.ts";

const text = (s: string) => new TextEncoder().encode(s);
const MARK = "0123456789abcdef0123456789abcdef01234567";

/** Feeds `bytes` in pieces of `size`; returns the events with the payload joined. */
function read(stream: SyncStream, bytes: Uint8Array, size: number) {
  const events: SyncEvent[] = [];
  for (let at = 0; at < bytes.length; at += size) {
    events.push(...stream.push(bytes.slice(at, at + size)));
  }
  const payload: number[] = [];
  for (const e of events) if (e.kind === "data") payload.push(...e.bytes);
  return {
    kinds: events.filter((e) => e.kind !== "data").map((e) =>
      e.kind === "reply" ? `reply ${e.text}` : e.kind === "start" ? `start ${e.bytesTotal}` : e.kind
    ),
    payload: new TextDecoder().decode(new Uint8Array(payload)),
  };
}

Deno.test("SyncStream reads handshake replies, keepalives and a diskless payload up to its mark", () => {
  const body = "REDIS0010" + "x".repeat(100);
  const bytes = text(`+OK\r\n-ERR unknown option\r\n\n\n$EOF:${MARK}\r\n${body}${MARK}`);
  for (const size of [1, 3, 40, 41, 1_000]) {
    const stream = new SyncStream(2);
    const { kinds, payload } = read(stream, bytes, size);
    assert.deepEqual(
      kinds,
      [
        "reply +OK",
        "reply -ERR unknown option",
        "keepalive",
        "keepalive",
        "start undefined",
        "end",
      ],
      `pieces of ${size}`,
    );
    assert.equal(payload, body, `pieces of ${size}`);
    assert.ok(stream.ended);
  }
});

Deno.test("SyncStream reads a payload of a stated length", () => {
  const body = "REDIS0010abc";
  const bytes = text(`\n$${body.length}\r\n${body}`);
  for (const size of [1, 5, 100]) {
    const { kinds, payload } = read(new SyncStream(0), bytes, size);
    assert.deepEqual(kinds, ["keepalive", `start ${body.length}`, "end"]);
    assert.equal(payload, body);
  }
});

Deno.test("SyncStream says why Redis refused SYNC", () => {
  assert.throws(
    () =>
      new SyncStream(0).push(
        text("-NOPERM this user has no permissions to run the 'sync' command\r\n"),
      ),
    (e: Error) => e instanceof SyncError && /refused SYNC: NOPERM/.test(e.message),
  );
  assert.throws(() => new SyncStream(0).push(text("+FULLRESYNC x 0\r\n")), /answered SYNC with/);
});
