import assert from "node:assert/strict";
import { dbsInKeyspace, encodeMarker, judgeMarker, type RedisView } from "./rack_marker.ts";

const EXPECTED = { layout: 1, log: "kafka:c1/pylon" };
const EMPTY: RedisView = { marker: undefined, dbsWithKeys: [], markersElsewhere: new Map() };

function verdict(view: Partial<RedisView>, metaDb = 15) {
  return judgeMarker(EXPECTED, metaDb, { ...EMPTY, ...view }, "r:1");
}

Deno.test("an empty Redis is claimed; a Redis with this log's marker is accepted", () => {
  assert.deepEqual(verdict({}), { kind: "claim" });
  assert.deepEqual(verdict({ marker: encodeMarker(EXPECTED), dbsWithKeys: [0, 15] }), {
    kind: "ok",
  });
});

Deno.test("another log, another layout, or a foreign key in its place are refused", () => {
  const cases: [Partial<RedisView>, RegExp][] = [
    [{ marker: encodeMarker({ layout: 1, log: "kafka:c2/pylon" }) }, /another world/],
    [{ marker: encodeMarker({ layout: 9, log: EXPECTED.log }) }, /layout 9/],
    [{ marker: "hello" }, /not a Pylon marker/],
  ];
  for (const [view, reason] of cases) {
    const v = verdict(view);
    assert.equal(v.kind, "refuse");
    if (v.kind === "refuse") assert.match(v.reason, reason);
  }
});

Deno.test("metadata in another db names the db to use; data without a marker is refused", () => {
  const moved = verdict({
    dbsWithKeys: [0, 15],
    markersElsewhere: new Map([[15, encodeMarker(EXPECTED)]]),
  }, 31);
  assert.equal(moved.kind, "refuse");
  if (moved.kind === "refuse") assert.match(moved.reason, /in db 15.*uses db 31.*--meta-db 15/);
  const unmarked = verdict({ dbsWithKeys: [0, 3] });
  assert.equal(unmarked.kind, "refuse");
  if (unmarked.kind === "refuse") assert.match(unmarked.reason, /db 0, db 3\) but no Pylon marker/);
});

Deno.test("dbsInKeyspace() reads INFO keyspace", () => {
  const info =
    "# Keyspace\r\ndb0:keys=3,expires=0,avg_ttl=0\r\ndb31:keys=2,expires=0,avg_ttl=0\r\n";
  assert.deepEqual(dbsInKeyspace(info), [0, 31]);
  assert.deepEqual(dbsInKeyspace("# Keyspace\r\n"), []);
});
