/** Pylon's entry point: read the configuration, start the node, stop on signals. */

import { getLogger } from "@logtape/logtape";
import { ConfigError, describeLog, describeRedis, parseConfig, USAGE } from "./src/config/mod.ts";
import { setupLogging } from "./src/observe/log.ts";
import { describe } from "./src/net/address.ts";
import { startNode } from "./src/node.ts";
import { IdentityError } from "./src/identity/node_identity.ts";
import { armFailpoints } from "./src/failpoints.ts";
import { VERSION } from "./src/version.ts";
import { EXIT } from "./src/observe/fatal.ts";
import { ignored } from "./src/observe/ignored.ts";

/** Signals this soon after the one that began the stop are copies of it, not a second one. */
const SAME_SIGNAL_MS = 1_000;

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseConfig(Deno.args, Deno.env.toObject(), (path) => Deno.readTextFileSync(path));
    armFailpoints(Deno.env.get("PYLON_FAILPOINTS") ?? "");
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`pylon: ${error.message}\n\n${USAGE}`);
    return EXIT.usage;
  }
  if (parsed.kind === "help") {
    console.log(USAGE);
    return 0;
  }
  if (parsed.kind === "version") {
    console.log(`pylon ${VERSION}`);
    return 0;
  }
  const { config } = parsed;
  await setupLogging(config.logLevel, config.logFormat);
  const log = getLogger(["pylon"]);
  // A promise nobody awaited must not end the node: it is a bug to report, not a reason to stop
  // serving (broken invariants stop the node through the fatal path instead).
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    ignored("unhandled_rejection", event.reason);
    log.error("unhandled rejection: {error}", {
      error: event.reason instanceof Error
        ? event.reason.stack ?? event.reason.message
        : event.reason,
    });
  });
  log.info("starting: redis {redis}, log {log}, data {dataDir}", {
    redis: describeRedis(config.redis),
    log: describeLog(config.log),
    dataDir: config.dataDir,
  });

  // A start may wait (a first start waits for Redis): a signal then ends it at once.
  const starting = new AbortController();
  const abortStart = () => starting.abort();
  Deno.addSignalListener("SIGINT", abortStart);
  Deno.addSignalListener("SIGTERM", abortStart);
  let node;
  try {
    node = await startNode(config, { hostname: Deno.hostname(), signal: starting.signal });
  } catch (error) {
    if (starting.signal.aborted) return 0;
    if (error instanceof IdentityError) {
      console.error(`pylon: refused: ${error.message}`);
      log.error("refused: {error}", { error: error.message });
      return EXIT.refused;
    }
    log.error("could not start: {error}", { error: (error as Error).message });
    return EXIT.startFailed;
  } finally {
    Deno.removeSignalListener("SIGINT", abortStart);
    Deno.removeSignalListener("SIGTERM", abortStart);
  }
  if (starting.signal.aborted) {
    await node.stop();
    return 0;
  }
  log.info("node {nodeId} of rack {rack} serves clients on {address}", {
    nodeId: node.identity.nodeId,
    rack: node.identity.rack,
    address: describe(node.address),
  });
  // Stdout line tests and scripts wait for: the address clients can use now.
  console.log(`pylon: ready on ${describe(node.address)}`);
  if (node.tlsAddress !== undefined) {
    console.log(`pylon: TLS clients on ${describe(node.tlsAddress)}`);
  }

  // SIGHUP reads the flags, PYLON_* variables and the configuration file again and takes what
  // can change live (src/config/changes.ts), instead of ending the node.
  Deno.addSignalListener("SIGHUP", async () => {
    log.info("SIGHUP: reloading");
    try {
      const again = parseConfig(
        Deno.args,
        Deno.env.toObject(),
        (path) => Deno.readTextFileSync(path),
      );
      await node.reload(again.kind === "run" ? again.config : undefined);
    } catch (error) {
      log.error("reload failed, keeping what was loaded: {error}", {
        error: error instanceof Error ? error.message : String(error),
      });
    }
  });
  const stopped = Promise.withResolvers<void>();
  const stop = () => stopped.resolve();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await stopped.promise;
  log.info(
    "stopping: draining (no new connections or requests; answering what was taken, up to {ms} ms)",
    {
      ms: config.drainTimeoutMs,
    },
  );
  // A second signal means now — but not the copies of the first that arrive together (Ctrl-C
  // reaches npx, deno task and the node, and deno task passes it on to the node as well).
  const firstSignalAt = performance.now();
  const now = () => {
    if (performance.now() - firstSignalAt < SAME_SIGNAL_MS) return;
    log.warning("second signal: exiting without finishing the drain");
    Deno.exit(1);
  };
  Deno.addSignalListener("SIGINT", now);
  Deno.addSignalListener("SIGTERM", now);
  // Closing waits on Redis and Kafka after the drain; if they are gone, do not wait forever.
  const boundMs = config.drainTimeoutMs + 10_000;
  const deadline = setTimeout(() => {
    log.error("could not stop cleanly within {ms} ms; exiting", { ms: boundMs });
    Deno.exit(1);
  }, boundMs);
  await node.stop();
  clearTimeout(deadline);
  return 0;
}

Deno.exit(await main());
