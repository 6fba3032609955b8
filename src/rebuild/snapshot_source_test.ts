import assert from "node:assert/strict";
import type { StreamLink } from "../cluster/peer_server.ts";
import { encodeRequest } from "./frames.ts";
import { SnapshotSource } from "./snapshot_source.ts";

/** A source whose Redis never answers (the snapshot never gets past its start). */
function source(servesReads: () => boolean) {
  return new SnapshotSource({
    nodeId: "a1",
    rack: "a",
    metaDb: 15,
    servesReads,
    master: () => ({ host: "127.0.0.1", port: 1 }),
    access: {},
    databases: () => 16,
    describeRedis: () => new Promise(() => {}),
  });
}

function link(): StreamLink & { ended: unknown[] } {
  const ended: unknown[] = [];
  return {
    ended,
    send: () => true,
    onDrain: () => {},
    end: (answer) => ended.push(answer),
    closed: false,
  };
}

const request = encodeRequest({ node: "c1", rack: "c", creditBytes: 1024 });

Deno.test("a source serves one snapshot at a time and refuses another, saying why", () => {
  const snapshots = source(() => true);
  const first = snapshots.serve("c1", request, link());
  assert.equal(typeof first, "object");
  const second = snapshots.serve("d1", request, link());
  assert.equal(typeof second, "string");
  assert.match(second as string, /rack 'a' is already serving a snapshot \(to node c1 \(rack c\)/);
  assert.equal(snapshots.stats().refused, 1);
  assert.equal(snapshots.stats().serving, "c1 (rack c)");
  // Once the first ends, another is taken.
  (first as { cancel(): void }).cancel();
  assert.equal(typeof snapshots.serve("d1", request, link()), "object");
});

Deno.test("a rack that does not serve reads serves no snapshot: it may lack ops", () => {
  const refusal = source(() => false).serve("c1", request, link());
  assert.match(refusal as string, /does not serve reads now/);
  assert.match(source(() => true).serve("c1", new Uint8Array(3), link()) as string, /malformed/);
});
