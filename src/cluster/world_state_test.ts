import assert from "node:assert/strict";
import {
  applyWorldCommand,
  decodeWorldCommand,
  decodeWorldState,
  encodeWorldCommand,
  encodeWorldState,
  worldState,
} from "./world_state.ts";

Deno.test("world commands add and remove nodes, and a removed node stops leading its rack", () => {
  const state = worldState([{ id: "a", rack: "east", peer: "h:1" }]);
  assert.match(
    applyWorldCommand(state, { op: "addNode", node: { id: "b", rack: "east", peer: "h:2" } }),
    /node b/,
  );
  assert.equal(
    applyWorldCommand(state, { op: "addNode", node: { id: "b", rack: "east", peer: "h:2" } }),
    "",
  );
  applyWorldCommand(state, { op: "rackLeader", rack: "east", node: "b", term: 3 });
  assert.deepEqual(state.rackLeaders.get("east"), { node: "b", term: 3 });
  applyWorldCommand(state, { op: "removeNode", id: "b" });
  assert.equal(state.nodes.has("b"), false);
  assert.equal(state.rackLeaders.has("east"), false);
});

Deno.test("a stale rack leader report never overrides a newer term", () => {
  const state = worldState();
  applyWorldCommand(state, { op: "rackLeader", rack: "east", node: "a", term: 5 });
  assert.equal(
    applyWorldCommand(state, { op: "rackLeader", rack: "east", node: "b", term: 4 }),
    "",
  );
  assert.deepEqual(state.rackLeaders.get("east"), { node: "a", term: 5 });
  applyWorldCommand(state, { op: "rackLeader", rack: "east", node: "b", term: 6 });
  assert.deepEqual(state.rackLeaders.get("east"), { node: "b", term: 6 });
});

Deno.test("commands and states round-trip through their encodings; junk is refused", () => {
  const command = { op: "addNode", node: { id: "x", rack: "r", peer: "h:9" } } as const;
  assert.deepEqual(decodeWorldCommand(encodeWorldCommand(command)), command);
  assert.throws(
    () => decodeWorldCommand(new TextEncoder().encode('{"op":"addNode"}')),
    /Not a world command/,
  );
  const state = worldState([{ id: "x", rack: "r", peer: "h:9" }]);
  applyWorldCommand(state, { op: "rackLeader", rack: "r", node: "x", term: 1 });
  assert.deepEqual(decodeWorldState(encodeWorldState(state)), state);
});

Deno.test("the first contract recorded stays; it survives a snapshot", () => {
  const state = worldState();
  const contract = {
    redisVersionFloor: "7.0.0",
    metaDb: 15,
    settings: {
      databases: "16",
      "proto-max-bulk-len": "536870912",
      "sanitize-dump-payload": "no",
      "stream-node-max-entries": "100",
      "stream-node-max-bytes": "4096",
      "hll-sparse-max-bytes": "3000",
    },
  };
  assert.match(applyWorldCommand(state, { op: "contract", contract }), /contract/);
  const other = { ...contract, metaDb: 31 };
  assert.equal(
    applyWorldCommand(
      state,
      decodeWorldCommand(encodeWorldCommand({ op: "contract", contract: other })),
    ),
    "",
  );
  assert.deepEqual(decodeWorldState(encodeWorldState(state)).contract, contract);
});

Deno.test("the world's only rack replaces the contract when its Redis changed", () => {
  const state = worldState();
  const contract = {
    redisVersionFloor: "7.0.0",
    metaDb: 15,
    settings: {
      databases: "16",
      "proto-max-bulk-len": "536870912",
      "sanitize-dump-payload": "no",
      "stream-node-max-entries": "100",
      "stream-node-max-bytes": "4096",
      "hll-sparse-max-bytes": "3000",
    },
  };
  applyWorldCommand(state, { op: "contract", contract });
  const more = { ...contract, settings: { ...contract.settings, databases: "32" } };
  assert.match(
    applyWorldCommand(state, { op: "contract", contract: more, replace: true }),
    /contract/,
  );
  assert.equal(state.contract?.settings.databases, "32");
  assert.equal(applyWorldCommand(state, { op: "contract", contract: more, replace: true }), "");
});
