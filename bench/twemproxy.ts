/** twemproxy (`nutcracker`) in front of one Redis, as the benchmark's reference proxy. */

import { join } from "node:path";
import {
  ensureNutcracker,
  freePort,
  redisCli,
  scratchDir,
  Service,
  waitFor,
} from "../tests/harness/mod.ts";

/** A running nutcracker. */
export interface Twemproxy extends AsyncDisposable {
  port: number;
  pid: number;
}

/** Starts nutcracker with one pool in front of `redisPort`. */
export async function startTwemproxy(redisPort: number): Promise<Twemproxy> {
  const binary = await ensureNutcracker();
  const port = freePort();
  const statsPort = freePort();
  const dir = await scratchDir(`twemproxy-${port}`);
  const conf = join(dir, "nutcracker.yml");
  await Deno.writeTextFile(
    conf,
    [
      "bench:",
      `  listen: 127.0.0.1:${port}`,
      "  hash: fnv1a_64",
      "  distribution: ketama",
      "  redis: true",
      "  auto_eject_hosts: false",
      "  server_connections: 1",
      "  servers:",
      `   - 127.0.0.1:${redisPort}:1`,
      "",
    ].join("\n"),
  );
  const service = new Service({
    name: `twemproxy-${port}`,
    cmd: binary,
    args: ["-c", conf, "-s", String(statsPort), "-a", "127.0.0.1", "-v", "4"],
    dir,
  });
  service.start();
  await waitFor(`twemproxy on ${port}`, async () => {
    if (!service.running) throw new Error("nutcracker exited");
    return (await redisCli(port, ["GET", "probe"])) === "" ? true : undefined;
  }, { context: () => service.logTail() });
  return {
    port,
    pid: service.pid,
    async [Symbol.asyncDispose]() {
      await service.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
