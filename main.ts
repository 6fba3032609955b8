/** Pylon's entry point: read the configuration, start the node, stop on signals. */

import { getLogger } from "@logtape/logtape";
import { ConfigError, describeLog, describeRedis, parseConfig, USAGE } from "./src/config.ts";
import { setupLogging } from "./src/observe/log.ts";
import { startNode } from "./src/node.ts";

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseConfig(
      Deno.args,
      Deno.env.toObject(),
      Deno.hostname(),
      (path) => Deno.readTextFileSync(path),
    );
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`pylon: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (parsed.help) {
    console.log(USAGE);
    return 0;
  }
  const { config } = parsed;
  await setupLogging(config.logLevel, config.logFormat);
  const log = getLogger(["pylon"]);
  log.info("node {nodeId} of rack {rack}: redis {redis}, log {log}", {
    nodeId: config.nodeId,
    rack: config.rack,
    redis: describeRedis(config.redis),
    log: describeLog(config.log),
  });

  let node;
  try {
    node = await startNode(config);
  } catch (error) {
    log.error("could not start: {error}", { error: (error as Error).message });
    return 1;
  }
  // Stdout line tests and scripts wait for: the address clients can use now.
  console.log(`pylon: ready on ${node.address.host}:${node.address.port}`);

  const stopped = Promise.withResolvers<void>();
  const stop = () => stopped.resolve();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await stopped.promise;
  log.info("stopping");
  // Closing waits on Redis and Kafka; if they are gone, do not wait forever.
  const deadline = setTimeout(() => {
    log.error("could not stop cleanly within 10 s; exiting");
    Deno.exit(1);
  }, 10_000);
  await node.stop();
  clearTimeout(deadline);
  return 0;
}

Deno.exit(await main());
