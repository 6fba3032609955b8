import assert from "node:assert/strict";
import { HandBack } from "./hand_back.ts";
import { replyKey } from "../meta_keys.ts";
import { PendingWrites } from "../write/pending_writes.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

function waiting(ids: string[]) {
  const pending = new PendingWrites();
  const got = new Map<string, string>();
  for (const id of ids) pending.register(id, 0, Infinity, (r) => got.set(id, text(r)), () => {});
  return { pending, got };
}

Deno.test("an applied op's reply goes to its own client, a rack peer, or Redis; never elsewhere", () => {
  const { pending, got } = waiting(["mine"]);
  const sent: string[] = [];
  let linkUp = true;
  const replies = new HandBack(pending, {
    nodeId: "a",
    rack: "east",
    replyTtlMs: 5_000,
    toPeer: (origin, opId, reply) => {
      if (linkUp) sent.push(`${origin}:${opId}:${text(reply)}`);
      return linkUp;
    },
  });
  replies.applied({ id: "mine", origin: "a", rack: "east" }, bytes(":1\r\n"));
  assert.equal(got.get("mine"), ":1\r\n");
  replies.applied({ id: "peer", origin: "b", rack: "east" }, bytes(":2\r\n"));
  assert.deepEqual(sent, ["b:peer::2\r\n"]);
  assert.deepEqual(replies.takeStores(), []);
  linkUp = false;
  replies.applied({ id: "kept", origin: "b", rack: "east" }, bytes(":3\r\n"));
  replies.applied({ id: "theirs", origin: "z", rack: "west" }, bytes(":4\r\n"));
  const stores = replies.takeStores().map(text);
  assert.equal(stores.length, 1, "an op of another rack is answered by its own rack");
  assert.ok(stores[0]!.includes(replyKey("kept")) && stores[0]!.includes("5000"));
  assert.deepEqual(replies.takeStores(), [], "taken once");
});

Deno.test("a reply that arrives by two routes reaches its client once", () => {
  const { pending, got } = waiting(["w"]);
  const replies = new HandBack(pending, { nodeId: "a", rack: "east" });
  assert.equal(replies.received("w", bytes("+OK\r\n")), true);
  assert.equal(replies.received("w", bytes("-ERR late\r\n")), false);
  replies.applied({ id: "w", origin: "a", rack: "east" }, bytes("+again\r\n"));
  assert.equal(got.get("w"), "+OK\r\n");
});
