import assert from "node:assert/strict";
import { rackHealth } from "./rack_health.ts";
import type { PartitionStatus } from "../applier/applier.ts";
import { PeerFlags } from "./peer_server.ts";

function partition(state: PartitionStatus["state"], catchingUp = false): PartitionStatus {
  return {
    partition: 0,
    state,
    position: 0,
    appliedOps: 0,
    batches: 0,
    lastError: undefined,
    lastAcceptedAtMs: undefined,
    logTimeMs: undefined,
    catchingUp,
  };
}

Deno.test("the leader judges its rack from its own applier", () => {
  const cases: [PartitionStatus[], boolean, boolean, boolean][] = [
    // partitions, Redis reachable, serves reads, applies
    [[partition("applying")], true, true, true],
    [[partition("waiting")], true, true, true],
    [[partition("applying", true)], true, false, true], // catching up: reads elsewhere
    [[partition("paused")], true, false, false], // OOM, READONLY, ...
    [[partition("error")], true, false, false],
    [[partition("diverged")], true, false, false], // halted: it differs from the world
    [[partition("applying"), partition("paused")], true, false, false],
    [[partition("applying")], false, false, false], // Redis unreachable
  ];
  for (const [partitions, reachable, reads, applies] of cases) {
    const health = rackHealth({
      redisReachable: () => reachable,
      applier: () => partitions,
      leaderFlags: () => PeerFlags.servesReads | PeerFlags.applies, // ignored: this node leads
    });
    const label = JSON.stringify([partitions.map((p) => p.state), reachable]);
    assert.equal(health.servesReads(), reads, label);
    assert.equal(health.applies(), applies, label);
  }
});

Deno.test("other nodes take the leader's word, and still need their own Redis for reads", () => {
  for (const flags of [0, PeerFlags.servesReads, PeerFlags.applies, 3]) {
    const health = rackHealth({
      redisReachable: () => true,
      applier: () => undefined,
      leaderFlags: () => flags,
    });
    assert.equal(health.servesReads(), (flags & PeerFlags.servesReads) !== 0);
    assert.equal(health.applies(), (flags & PeerFlags.applies) !== 0);
  }
  const cut = rackHealth({
    redisReachable: () => false,
    applier: () => undefined,
    leaderFlags: () => 3,
  });
  assert.equal(cut.servesReads(), false);
  assert.equal(cut.applies(), true, "the leader applies even if this node cannot reach Redis");
});

Deno.test("a rack whose Redis needs a rebuild lacks data: on its leader and in the leader's flags", () => {
  const leader = rackHealth({
    redisReachable: () => true,
    applier: () => [partition("applying"), partition("rebuild")],
    leaderFlags: () => 0,
  });
  assert.equal(leader.lacksData(), true);
  assert.equal(leader.servesReads(), false);
  assert.equal(leader.applies(), false);
  let rebuilding = true;
  const loading = rackHealth({
    redisReachable: () => true,
    applier: () => undefined, // held while the rebuild loads
    leaderFlags: () => 0,
    rebuilding: () => rebuilding,
  });
  assert.equal(loading.lacksData(), true);
  rebuilding = false;
  assert.equal(loading.lacksData(), false);
  for (const flags of [0, PeerFlags.lacksData]) {
    const follower = rackHealth({
      redisReachable: () => true,
      applier: () => undefined,
      leaderFlags: () => flags,
    });
    assert.equal(follower.lacksData(), flags !== 0);
  }
});
