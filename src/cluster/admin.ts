/**
 * Pylon's admin commands for the world's membership, answered by any node:
 *
 *   PYLON WORLD                          nodes, racks, peer addresses, rack leaders, Raft groups
 *   PYLON NODE ADD <id> <rack> <host:port>   a node (started with --join) becomes a member
 *   PYLON NODE REMOVE <id>               a node leaves the world (and its rack's group)
 *   PYLON RACK TRANSFER <id>             this rack's leadership moves to node <id> (on the rack leader)
 *
 * Membership changes are proposals to the world's Raft group (forwarded to
 * its leader); the reply comes once the change is committed and applied.
 */

import { array, bulk, error, type RespValue, simple } from "../resp/value.ts";
import type { World } from "./world.ts";

const utf8 = new TextDecoder();

/** Handles `PYLON WORLD|NODE|RACK ...`; undefined for other subcommands. */
export function adminCommand(world: World, argv: Uint8Array[]): Promise<RespValue> | undefined {
  const words = argv.map((a) => utf8.decode(a));
  const sub = words[1]?.toLowerCase();
  const verb = words[2]?.toLowerCase();
  if (sub === "world") {
    if (words.length !== 2) {
      return Promise.resolve(error("ERR wrong number of arguments for 'pylon|world' command"));
    }
    return Promise.resolve(describeWorld(world));
  }
  if (sub === "node" && verb === "add") {
    if (words.length !== 6) {
      return Promise.resolve(error("ERR usage: PYLON NODE ADD <id> <rack> <host:port>"));
    }
    const [id, rack, peer] = words.slice(3) as [string, string, string];
    if (
      !/^[A-Za-z0-9._:-]{1,64}$/.test(id) || !/^[A-Za-z0-9._-]{1,64}$/.test(rack) ||
      !/^[^:\s]+:\d{1,5}$/.test(peer)
    ) {
      return Promise.resolve(
        error("ERR PYLON NODE ADD needs a node id, a rack name and a host:port peer address"),
      );
    }
    return done(world.propose({ op: "addNode", node: { id, rack, peer } }));
  }
  if (sub === "node" && verb === "remove") {
    if (words.length !== 4) return Promise.resolve(error("ERR usage: PYLON NODE REMOVE <id>"));
    const id = words[3]!;
    if (!world.state.nodes.has(id)) {
      return Promise.resolve(error(`ERR no node '${id}' in the world`));
    }
    return done(world.propose({ op: "removeNode", id }));
  }
  if (sub === "rack" && verb === "transfer") {
    if (words.length !== 4) return Promise.resolve(error("ERR usage: PYLON RACK TRANSFER <id>"));
    if (!world.leadsRack) {
      return Promise.resolve(
        error(
          `ERR this node does not lead its rack; run it on '${world.rackLeader || "the leader"}'`,
        ),
      );
    }
    return Promise.resolve(
      world.transferRackLeadership(words[3]!)
        ? simple("OK")
        : error(`ERR cannot hand leadership to '${words[3]}'`),
    );
  }
  return undefined;
}

async function done(change: Promise<void>): Promise<RespValue> {
  try {
    await change;
    return simple("OK");
  } catch (e) {
    return error(`ERR membership change not made: ${(e as Error).message}`);
  }
}

function describeWorld(world: World): RespValue {
  const lines: string[] = [];
  for (const node of [...world.state.nodes.values()].sort((a, b) => a.id.localeCompare(b.id))) {
    const leads = world.state.rackLeaders.get(node.rack)?.node === node.id;
    lines.push(`node ${node.id} rack=${node.rack} peer=${node.peer}${leads ? " leads-rack" : ""}`);
  }
  for (const [rack, leader] of world.state.rackLeaders) {
    lines.push(`rack ${rack} leader=${leader.node} term=${leader.term}`);
  }
  const contract = world.state.contract;
  lines.push(
    contract === undefined
      ? "contract none recorded yet"
      : `contract redis_version>=${contract.redisVersionFloor} maxmemory-policy=noeviction ` +
        `metadata-db=${contract.metaDb} ` +
        Object.entries(contract.settings).map(([name, value]) => `${name}=${value}`).join(" "),
  );
  for (const g of world.status()) {
    lines.push(
      `group ${g.group} role=${g.role} term=${g.term} leader=${
        g.leader || "-"
      } commit=${g.commit} ` +
        `applied=${g.applied} voters=${g.conf.voters.join(",")} learners=${
          g.conf.learners.join(",")
        }`,
    );
  }
  return array(lines.map((l) => bulk(l)));
}
