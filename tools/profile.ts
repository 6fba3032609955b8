/**
 * `deno task profile [write|write-kafka|read] [seconds] [pipeline]`: V8's CPU
 * profile of a node under redis-benchmark load (50 clients, -P 16 unless
 * given), taken over the
 * inspector protocol, summed by function (self time) and by file. What the
 * README's performance section reports comes from here.
 */

import {
  ensureKafka,
  ensureRedis,
  freePort,
  startKafka,
  startPylon,
  startRedis,
  uniqueTopic,
} from "../tests/harness/mod.ts";
import { redisBenchmark } from "../bench/redis_benchmark.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

/** One CDP session over the inspector's WebSocket. */
async function inspector(port: number) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json() as {
    webSocketDebuggerUrl: string;
  }[];
  const socket = new WebSocket(targets[0]!.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  let next = 1;
  const waiting = new Map<number, (result: unknown) => void>();
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data as string) as { id?: number; result?: unknown };
    if (message.id !== undefined) waiting.get(message.id)?.(message.result);
  };
  return {
    send(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
      const id = next++;
      socket.send(JSON.stringify({ id, method, params }));
      return new Promise((resolve) => waiting.set(id, resolve));
    },
    close: () => socket.close(),
  };
}

if (import.meta.main) {
  const mode = Deno.args[0] ?? "write";
  const seconds = Number(Deno.args[1] ?? 10);
  const pipeline = Number(Deno.args[2] ?? 16);
  await ensureRedis();
  await using redis = await startRedis();
  await using kafka = mode === "write-kafka"
    ? await (async () => {
      await ensureKafka();
      return await startKafka({ fullJit: true });
    })()
    : undefined;
  const inspectPort = freePort();
  await using pylon = await startPylon({
    redis: { url: redis.url },
    denoFlags: [`--inspect=127.0.0.1:${inspectPort}`],
    args: [
      "--log-level",
      "warning",
      ...(kafka === undefined
        ? []
        : ["--log", `kafka://${kafka.brokers.join(",")}/${uniqueTopic("profile")}`]),
    ],
  });
  const cdp = await inspector(inspectPort);
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.setSamplingInterval", { interval: 200 });
  const test = mode === "read" ? "get" : "set";
  // Warm up, then profile a run of about `seconds`.
  await redisBenchmark({
    port: pylon.port,
    tests: test,
    clients: 50,
    requests: 50_000,
    pipeline,
    keyspace: 100_000,
    dataSize: 16,
  });
  await cdp.send("Profiler.start");
  const started = performance.now();
  let requests = 0;
  while (performance.now() - started < seconds * 1000) {
    const [result] = await redisBenchmark({
      port: pylon.port,
      tests: test,
      clients: 50,
      requests: 100_000,
      pipeline,
      keyspace: 100_000,
      dataSize: 16,
    });
    requests += 100_000;
    console.error(`profile: ${Math.round(result!.opsPerSec)} ops/s`);
  }
  const { profile } = await cdp.send("Profiler.stop") as {
    profile: { nodes: ProfileNode[]; startTime: number; endTime: number };
  };
  cdp.close();
  const total = profile.nodes.reduce((n, node) => n + (node.hitCount ?? 0), 0);
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.replace(/^.*\/(src|node_modules|ext)\//, "$1/") || "(native)";
    const name = `${functionName || "(anonymous)"} ${file}:${lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + hits);
    byFile.set(file, (byFile.get(file) ?? 0) + hits);
  }
  // Each sample charged to the nearest function of Pylon's own on its stack (itself, or what it
  // called in libraries and natives): where the project's code spends, writes included.
  const parents = new Map<number, ProfileNode>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parents.set(child, node);
  }
  const byOwnCaller = new Map<string, number>();
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    let at: ProfileNode | undefined = node;
    while (at !== undefined && !at.callFrame.url.includes("/src/")) at = parents.get(at.id);
    if (at === undefined) continue;
    const { functionName, url, lineNumber } = at.callFrame;
    const name = `${functionName || "(anonymous)"} ${url.replace(/^.*\/src\//, "src/")}:${
      lineNumber + 1
    }`;
    byOwnCaller.set(name, (byOwnCaller.get(name) ?? 0) + hits);
  }
  const top = (map: Map<string, number>, n: number) =>
    [...map].sort((a, b) => b[1] - a[1]).slice(0, n)
      .map(([name, hits]) => `${(100 * hits / total).toFixed(1).padStart(5)}%  ${name}`).join("\n");
  const wallUs = profile.endTime - profile.startTime;
  console.log(
    `profile (${mode}): ${requests} requests in ${(wallUs / 1e6).toFixed(1)} s, ${total} samples`,
  );
  console.log(`\nby function (self time):\n${top(byFunction, 30)}`);
  console.log(`\nby file:\n${top(byFile, 20)}`);
  console.log(`\nby Pylon's own function, with what it calls:\n${top(byOwnCaller, 25)}`);
}
