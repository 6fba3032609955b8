import assert from "node:assert/strict";
import {
  checkLog,
  chooseNameAndRack,
  type GivenIdentity,
  IdentityError,
  newNodeId,
  type NodeIdentity,
  readNodeIdentity,
  writeNodeIdentity,
} from "./node_identity.ts";

const RECORDED: NodeIdentity = {
  nodeId: "east-1",
  rack: "east",
  logId: "kafka:abc/pylon",
  log: "kafka://k:9092/pylon",
  metaDb: 31,
};
const NONE: GivenIdentity = { nodeId: undefined, rack: undefined, metaDb: undefined };

Deno.test("a new data folder takes the given id and rack, or a new id and rack 'default'", () => {
  assert.deepEqual(
    chooseNameAndRack({ ...NONE, nodeId: "n1", rack: "r" }, undefined, "/d", () => "x"),
    { nodeId: "n1", rack: "r" },
  );
  assert.deepEqual(chooseNameAndRack(NONE, undefined, "/d", () => "host-1a2b3c4d"), {
    nodeId: "host-1a2b3c4d",
    rack: "default",
  });
});

Deno.test("a recorded folder fills in what the flags leave out", () => {
  assert.deepEqual(chooseNameAndRack(NONE, RECORDED, "/d", () => "new"), {
    nodeId: "east-1",
    rack: "east",
  });
  assert.deepEqual(
    chooseNameAndRack({ nodeId: "east-1", rack: "east", metaDb: 31 }, RECORDED, "/d", () => "n"),
    { nodeId: "east-1", rack: "east" },
  );
});

Deno.test("flags that contradict the record are refused, naming both values and the way on", () => {
  const cases: [Partial<GivenIdentity>, RegExp][] = [
    [{ nodeId: "east-2" }, /belongs to node 'east-1'.*names node 'east-2'.*--node-id east-1/],
    [{ rack: "west" }, /rack 'east'.*names rack 'west'.*--rack east/],
    [{ metaDb: 15 }, /db 31.*--meta-db 15.*--meta-db 31/],
  ];
  for (const [given, message] of cases) {
    assert.throws(
      () => chooseNameAndRack({ ...NONE, ...given }, RECORDED, "/d", () => "n"),
      (e: unknown) => e instanceof IdentityError && message.test(e.message),
    );
  }
});

Deno.test("another log than the recorded one is refused", () => {
  checkLog(undefined, "local:x", "local:/l", "/d");
  checkLog(RECORDED, "kafka:abc/pylon", "kafka://other:9092/pylon", "/d");
  assert.throws(
    () => checkLog(RECORDED, "kafka:zzz/pylon", "kafka://k:9092/pylon", "/d"),
    /belongs to the log kafka:abc\/pylon.*is the log kafka:zzz\/pylon/,
  );
});

Deno.test("a new node id does not depend on a port and is a valid id", () => {
  const id = newNodeId("db host_7", new Uint8Array([1, 2, 3, 255]));
  assert.equal(id, "db-host-7-010203ff");
  assert.match(id, /^[A-Za-z0-9._:-]{1,64}$/);
});

Deno.test("the identity file round-trips, and a damaged one is refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await readNodeIdentity(dir), undefined);
    await writeNodeIdentity(dir, RECORDED);
    assert.deepEqual(await readNodeIdentity(dir), RECORDED);
    await Deno.writeTextFile(`${dir}/node.json`, '{"format":"pylon-node","version":1}');
    await assert.rejects(() => readNodeIdentity(dir), /damaged/);
    await Deno.writeTextFile(`${dir}/node.json`, "{");
    await assert.rejects(() => readNodeIdentity(dir), /not valid JSON/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
