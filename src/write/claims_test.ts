import assert from "node:assert/strict";
import { Claims } from "./claims.ts";

const encoder = new TextEncoder();
const utf8 = new TextDecoder();

/** A claims hash standing in for the rack's Redis (HDEL, HKEYS only). */
function fakeHash(): {
  fields: Map<string, string>;
  run: (argv: (string | Uint8Array)[]) => Promise<Uint8Array>;
} {
  const fields = new Map<string, string>();
  const run = (argv: (string | Uint8Array)[]) => {
    const [name, , ...rest] = argv.map((a) => typeof a === "string" ? a : utf8.decode(a));
    if (name === "HDEL") {
      const removed = rest.filter((id) => fields.delete(id)).length;
      return Promise.resolve(encoder.encode(`:${removed}\r\n`));
    }
    if (name === "HKEYS") {
      const keys = [...fields.keys()];
      return Promise.resolve(
        encoder.encode(
          `*${keys.length}\r\n${keys.map((k) => `$${k.length}\r\n${k}\r\n`).join("")}`,
        ),
      );
    }
    throw new Error(`unexpected ${name}`);
  };
  return { fields, run };
}

Deno.test("a claim that comes back for an answered try is removed; others stay", async () => {
  const { fields, run } = fakeHash();
  const claims = new Claims({
    key: "pylon:claims:n1",
    run,
    write: () => Promise.resolve(undefined),
    decode: () => undefined,
  });
  fields.set("try-a", "claim");
  await claims.release("try-a");
  assert.equal(fields.has("try-a"), false, "released");
  assert.equal(await claims.removeStale(), 0);
  // A failover re-applies try-a (its claim comes back); try-b's client has not been answered.
  fields.set("try-a", "claim");
  fields.set("try-b", "claim");
  assert.equal(await claims.removeStale(), 1);
  assert.deepEqual([...fields.keys()], ["try-b"]);
  assert.equal(claims.staleRemoved, 1);
});
