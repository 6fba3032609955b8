import assert from "node:assert/strict";
import { findCommand } from "../command/mod.ts";
import type { Peers } from "../cluster/peers.ts";
import type { WriteRequest, WriteSubmitter } from "../log/write_request.ts";
import { WriteRouter } from "./write_router.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

function router(applies: boolean, peersApply: boolean) {
  const went: string[] = [];
  const writes: WriteSubmitter = {
    submit: (_request, reply) => {
      went.push("here");
      reply(new TextEncoder().encode("+OK\r\n"));
      return Promise.resolve({ partition: 0, offset: 1 });
    },
  };
  const peers = {
    canForwardWrites: () => peersApply,
    forwardWrite: () => {
      went.push("peer");
      return Promise.resolve({
        reply: new TextEncoder().encode(":1\r\n"),
        placement: { partition: 0, offset: 2 },
      });
    },
  } as unknown as Peers;
  const r = new WriteRouter({
    writes,
    peers,
    health: { servesReads: () => applies, applies: () => applies, lacksData: () => false },
    ackLog: new Set(["set"]),
  });
  return { r, went };
}

function request(name: string, reply: "constant" | "data", more: Partial<WriteRequest> = {}) {
  return {
    commands: [{ argv: [new TextEncoder().encode(name)], command: findCommand(name)!, reply }],
    transaction: false,
    db: 0,
    protocol: 2 as const,
    ...more,
  };
}

Deno.test("writes are logged here while this rack applies", async () => {
  const { r, went } = router(true, true);
  await r.write(request("incr", "data"), () => {});
  assert.deepEqual(went, ["here"]);
});

Deno.test("when this rack cannot apply, a data-reply write goes to a rack that can, with its reply", async () => {
  const { r, went } = router(false, true);
  let reply = "";
  const placement = await r.write(request("incr", "data"), (bytes) => reply = text(bytes));
  assert.deepEqual(went, ["peer"]);
  assert.equal(reply, ":1\r\n");
  assert.deepEqual(placement, { partition: 0, offset: 2 });
  assert.equal(r.stats().writesForwarded, 1);
});

Deno.test("writes answered once logged, and watched transactions, are logged here even when it cannot apply", async () => {
  const { r, went } = router(false, true);
  await r.write(request("set", "constant"), () => {});
  await r.write(
    request("incr", "data", { transaction: true, watch: { db: 0, keys: [], from: [0] } }),
    () => {},
  );
  assert.deepEqual(went, ["here", "here"]);
});

Deno.test("with no rack able to apply, the write is logged here and waits for this rack", async () => {
  const { r, went } = router(false, false);
  await r.write(request("incr", "data"), () => {});
  assert.deepEqual(went, ["here"]);
});
