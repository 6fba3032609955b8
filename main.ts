/** Pylon's entry point: read the configuration, start the node, stop on signals. */

import { getLogger } from "@logtape/logtape";
import { ConfigError, describeLog, describeRedis, parseConfig, USAGE } from "./src/config.ts";
import { setupLogging } from "./src/observe/log.ts";

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseConfig(Deno.args, Deno.env.toObject(), Deno.hostname());
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
  log.info("node {nodeId} of rack {rack}: clients at {listen}, redis {redis}, log {log}", {
    nodeId: config.nodeId,
    rack: config.rack,
    listen: `${config.listen.host}:${config.listen.port}`,
    redis: describeRedis(config.redis),
    log: describeLog(config.log),
  });
  log.warning("the client gateway is not built yet: nothing to serve");
  return 0;
}

Deno.exit(await main());
