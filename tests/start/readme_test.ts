/**
 * The README's start commands, run verbatim as a newcomer would: in a fresh
 * copy of the project, in a network namespace of the test's own (so the
 * README's fixed ports 6379, 26379 and 6380 are free whatever else runs),
 * with a Redis and a Sentinel where the README says they are. Each command
 * must come up, serve a write, and stop cleanly on SIGTERM; `--help` must
 * print the options with and without the `--` that `deno task` passes on.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { dirname, fromFileUrl } from "../harness/paths.ts";
import { scratchDir, Service, waitFor } from "../harness/mod.ts";

const ROOT = dirname(dirname(dirname(fromFileUrl(import.meta.url))));

/** The project's files a user needs to run a node. */
const PROJECT_FILES = ["main.ts", "mod.ts", "deno.json", "deno.lock", "src"];

/** `npx -y deno@... task start ...` lines of the README, without their comments. */
function readmeStartCommands(): string[] {
  const readme = Deno.readTextFileSync(join(ROOT, "README.md"));
  return readme.split("\n")
    .filter((line) => /^npx -y deno@[\d.]+ task start\b/.test(line))
    .map((line) => line.replace(/\s+#.*$/, "").trim());
}

/** Whether this machine lets the test make a network namespace (root and iproute2). */
function canMakeNamespaces(): boolean {
  try {
    return new Deno.Command("ip", { args: ["netns", "list"], stdout: "null", stderr: "null" })
      .outputSync().success && Deno.uid() === 0;
  } catch {
    return false;
  }
}

async function run(args: string[]): Promise<string> {
  const { success, stdout, stderr } = await new Deno.Command(args[0]!, {
    args: args.slice(1),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  if (!success) throw new Error(`${args.join(" ")}: ${out}`);
  return out.trim();
}

Deno.test({
  name: "the README's start commands work verbatim on a fresh copy",
  ignore: !canMakeNamespaces(),
  async fn() {
    const commands = readmeStartCommands();
    assert.ok(commands.length >= 2, `README start commands found: ${commands.join(" | ")}`);
    assert.ok(
      commands.some((c) => c.includes("--redis")) && commands.some((c) => c.includes("--sentinel")),
    );
    const fresh = await scratchDir("pylon-readme");
    for (const file of PROJECT_FILES) await run(["cp", "-r", join(ROOT, file), fresh]);
    const ns = `pylon-readme-${crypto.getRandomValues(new Uint32Array(1))[0]}`;
    await run(["ip", "netns", "add", ns]);
    const services: Service[] = [];
    try {
      await run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"]);
      const inNs = (name: string, cmd: string[], env: Record<string, string> = {}) => {
        const service = new Service({
          name,
          cmd: "ip",
          args: ["netns", "exec", ns, ...cmd],
          dir: fresh,
          env,
        });
        services.push(service);
        service.start();
        return service;
      };
      const cli = (...args: string[]) =>
        run(["ip", "netns", "exec", ns, "redis-cli", "-p", "6380", ...args]);
      inNs("redis", ["redis-server", "--port", "6379", "--save", "", "--dir", fresh]);
      await waitFor(
        "Redis on 6379 in the namespace",
        async () =>
          (await run(["ip", "netns", "exec", ns, "redis-cli", "-p", "6379", "PING"])) === "PONG"
            ? true
            : undefined,
      );
      await Deno.writeTextFile(
        join(fresh, "sentinel.conf"),
        "port 26379\nsentinel monitor mymaster 127.0.0.1 6379 1\n",
      );
      inNs("sentinel", ["redis-sentinel", join(fresh, "sentinel.conf")]);

      let expected = 0;
      for (const command of commands) {
        // npx finds deno in its cache: the namespace has no network but loopback. Its own
        // session and process group, as a terminal gives it, so Ctrl-C reaches npx, deno task
        // and the node alike.
        const node = inNs(
          `pylon-${expected}`,
          ["setsid", "sh", "-c", `cd ${fresh} && exec ${command}`],
          { npm_config_offline: "true" },
        );
        await waitFor(`'${command}' to serve`, async () => {
          if (!node.running) throw new Error(`'${command}' exited`);
          return (await cli("PING").catch(() => "")) === "PONG" ? true : undefined;
        }, { timeoutMs: 60_000, context: () => node.logTail() });
        expected++;
        assert.equal(await cli("INCR", "readme:counter"), String(expected), command);
        Deno.kill(-node.pid, "SIGINT");
        await waitFor(`'${command}' to stop on Ctrl-C`, async () => {
          const left = await run(["ip", "netns", "pids", ns]);
          return node.running || left.split(/\s+/).length > 2 ? undefined : true;
        }, { timeoutMs: 15_000, context: () => node.logTail() });
        const log = await Deno.readTextFile(node.logPath);
        assert.match(log, /INF pylon stopping/, log);
        assert.doesNotMatch(log, /could not stop|ERR |Uncaught/, log);
      }
      const npxDeno = /^npx -y deno@[\d.]+/.exec(commands[0]!)![0];
      for (const args of ["task start -- --help", "task start --help"]) {
        const out = await run([
          "ip",
          "netns",
          "exec",
          ns,
          "sh",
          "-c",
          `cd ${fresh} && npm_config_offline=true ${npxDeno} ${args}`,
        ]);
        assert.match(out, /Usage: pylon \[options\]/);
        assert.match(out, /--meta-db/);
      }
    } finally {
      // Whatever the commands started (npx, deno task, deno) dies with the namespace's processes.
      const pids = await run(["ip", "netns", "pids", ns]).catch(() => "");
      for (const pid of pids.split(/\s+/).filter((p) => p !== "")) {
        try {
          Deno.kill(Number(pid), "SIGKILL");
        } catch {
          // already gone
        }
      }
      for (const service of services) await service.stop();
      await run(["ip", "netns", "del", ns]);
      await Deno.remove(fresh, { recursive: true });
    }
  },
});
