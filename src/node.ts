/**
 * A Pylon node: the gateway clients talk to, wired to the rack's Redis.
 * `main.ts` starts one from the command line; tests and embedders use
 * {@linkcode startNode}.
 */

import type { Config, HostPort } from "./config.ts";
import { Gateway } from "./gateway/server.ts";
import { Upstream } from "./redis/upstream.ts";
import { renderInfo } from "./observe/info.ts";
import { VERSION } from "./version.ts";

/** A running node. */
export interface PylonNode {
  /** The address clients connect to (the real port when configured with port 0). */
  address: HostPort;
  /** Stops serving and closes every connection. */
  stop(): Promise<void>;
}

/** Starts a node from its configuration. */
export async function startNode(config: Config): Promise<PylonNode> {
  const startedAt = Date.now();
  const upstream = new Upstream(config.redis);
  await upstream.start();
  let gateway: Gateway | undefined = undefined;
  const pylonInfo = () => {
    const stats = gateway!.stats();
    const up = upstream.status();
    return renderInfo([
      {
        title: "Node",
        fields: [
          ["node_id", config.nodeId],
          ["rack", config.rack],
          ["role", "gateway"],
          ["pylon_version", VERSION],
          ["process_id", Deno.pid],
          ["listen", `${config.listen.host}:${config.listen.port}`],
          ["uptime_in_seconds", Math.floor((Date.now() - startedAt) / 1000)],
        ],
      },
      {
        title: "Clients",
        fields: [
          ["connected_clients", stats.connectedClients],
          ["total_connections_received", stats.totalConnections],
          ["rejected_connections", stats.rejectedConnections],
          ["total_commands_processed", stats.totalCommands],
        ],
      },
      {
        title: "Upstream",
        fields: [
          ["upstream_source", up.source],
          ["upstream_address", up.address],
          ["upstream_connections", up.connections],
          ["upstream_connected", up.connected],
          ["upstream_pending", up.pending],
          ["upstream_failovers", up.failovers],
        ],
      },
    ]);
  };
  gateway = new Gateway({
    forward: (request, db, protocol, sink) => upstream.send(request, db, protocol, sink),
    databases: () => upstream.databases,
    pylonInfo,
  }, { listen: config.listen, maxClients: config.maxClients });
  let address: HostPort;
  try {
    address = await gateway.listen();
  } catch (error) {
    upstream.stop();
    throw error;
  }
  return {
    address,
    async stop() {
      await gateway.close();
      upstream.stop();
    },
  };
}
