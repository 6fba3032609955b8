/**
 * The admin HTTP listener (`--admin-listen`): `/metrics` in Prometheus text
 * format, `/healthz` (the process answers) and `/readyz` (it serves reads and
 * its rack applies; not while draining). Plain HTTP, meant for loopback or a
 * private network: it shows no data, only counts and states.
 */

import { getLogger } from "@logtape/logtape";
import type { HostPort } from "./net/address.ts";
import type { NodeSnapshot } from "./node_info.ts";
import {
  METRICS_CONTENT_TYPE,
  ready,
  renderMetrics,
  renderStartingMetrics,
} from "./node_metrics.ts";

const log = getLogger(["pylon", "admin"]);

/** What the endpoints show of a node that runs. */
export interface AdminView {
  snapshot: () => NodeSnapshot;
  draining: () => boolean;
}

/** The running listener. */
export interface AdminServer {
  address: HostPort;
  /** The node from now on; until then the node is starting, alive and not ready. */
  attach(view: AdminView): void;
  close(): Promise<void>;
}

/**
 * Serves the admin endpoints on `listen` from the first moment of a start, so
 * a node still waiting for its Redis or its log is seen alive and not ready
 * (`waiting` says for what) instead of not answering at all.
 */
export async function serveAdmin(
  listen: HostPort,
  waiting: () => string,
): Promise<AdminServer> {
  let node: AdminView | undefined;
  const bound = Promise.withResolvers<HostPort>();
  const server = Deno.serve({
    hostname: listen.host,
    port: listen.port,
    onListen: ({ hostname, port }) => bound.resolve({ host: hostname, port }),
    onError: (error) => {
      log.warning("admin request failed: {error}", { error: String(error) });
      return new Response("internal error\n", { status: 500 });
    },
  }, async (request) => {
    const path = new URL(request.url).pathname;
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405, headers: { allow: "GET" } });
    }
    switch (path) {
      case "/healthz":
        return new Response("ok\n");
      case "/readyz": {
        if (node === undefined) {
          return new Response(`not ready: starting, ${waiting()}\n`, { status: 503 });
        }
        const s = node.snapshot();
        const draining = node.draining();
        if (ready(s, draining)) return new Response("ready\n");
        const diverged = s.divergence?.diverged;
        const stopped = (s.applier ?? []).find((p) =>
          (p.state === "halted" || p.state === "paused") && p.lastError !== undefined
        );
        const why = draining
          ? "draining"
          : diverged !== undefined
          ? `this rack diverged from the world and serves no reads: ${diverged}`
          : stopped !== undefined
          ? `partition ${stopped.partition} is ${stopped.state}: ${stopped.lastError}`
          : "this node does not serve reads from its rack's Redis (it is down, or catching up " +
            "while another rack serves them)";
        return new Response(`not ready: ${why}\n`, { status: 503 });
      }
      case "/metrics":
        return new Response(
          node === undefined
            ? await renderStartingMetrics()
            : await renderMetrics(node.snapshot(), node.draining()),
          {
            headers: { "content-type": METRICS_CONTENT_TYPE },
          },
        );
      default:
        return new Response("not found: try /metrics, /healthz or /readyz\n", { status: 404 });
    }
  });
  const address = await bound.promise;
  log.info("admin endpoints on http://{host}:{port}", { ...address });
  return {
    address,
    attach: (view) => {
      node = view;
    },
    close: () => server.shutdown(),
  };
}
